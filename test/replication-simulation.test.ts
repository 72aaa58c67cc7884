// A seeded simulation of replication between several databases of the Chaise store, with no
// sockets: the real replicator (`Replication` from replicator/) talks to in-process endpoints over
// the node's own `Database`s (helpers/store-endpoint.ts), through a network that drops, delays,
// duplicates and partitions requests (helpers/faulty-network.ts).
//
// Phase 1, chaos: random edits, deletes, conflicting edits and attachment changes on random
// databases, interleaved with one-shot replications between random pairs (some filtered by
// `doc_ids`), run as the scheduler would: a session that fails is restarted from its checkpoints,
// a few times. Phase 2, heal: no faults; every ordered pair replicates until a whole round copies
// nothing. Then every database must hold the same thing, and that thing must be what CouchDB's
// rules give for the revisions the simulation made (an oracle kept beside it, not read back from
// the store): for each document, the leaves are exactly the revisions nobody edited further, the
// winner is the live leaf of the highest generation with the greatest revision id (or the same
// among deleted leaves when all are), its body is the one written with it, `_conflicts` are the
// other live leaves, and attachments have the same bytes everywhere.
//
// A failing seed is printed as `CHAISE_SEED=… to replay`; setting CHAISE_SEED runs only that seed.
// Seeds replay the same edits, replications and faults; how concurrent work interleaves also
// depends on when the store's commits finish, so a replay is close, not bit for bit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Replication, PeerError, ReplicationError, parseReplicationRequest, type Clock, type JsonObject } from '../replicator/index.js';
import { openNode, type OpenedNode } from '../server/node.js';
import type { Database } from '../server/storage/database.js';
import { parseDoc } from '../server/docs/parse-doc.js';
import { renderRevision } from '../server/docs/read.js';
import { conflicts, leaves } from '../server/revtree/index.js';
import { StoreEndpoint } from './helpers/store-endpoint.js';
import { FaultyNetwork, type FaultRates } from './helpers/faulty-network.js';
import { randomBytesFrom, seeded } from './helpers/replication.js';

/** Seeds run by default; CHAISE_SEED runs just one. */
const DEFAULT_SEEDS = [1, 2, 3, 4, 5];
/** Databases per simulation (the issue asks for 3–5). */
const DATABASES_MIN = 3;
const DATABASES_MAX = 5;
/** Document ids are drawn from a small pool so that databases edit the same documents and conflict. */
const DOC_IDS = 14;
/** Chaos steps per seed: edits, replication starts, partitions and pauses. */
const STEPS = 160;
/** One-shot replications running at once during the chaos phase. */
const CONCURRENT_REPLICATIONS_MAX = 3;
/** Sessions per chaos replication before it gives up (the scheduler would keep retrying later). */
const SESSIONS_PER_REPLICATION_MAX = 4;
/** A partition lasts this many steps at most. */
const PARTITION_STEPS_MAX = 30;
/** Heal-phase rounds of all-pairs replication before the test declares it never settles. */
const HEAL_ROUNDS_MAX = 6;
/** Attachment sizes: small, so a seed stays fast, but big enough to be more than a stub. */
const ATTACHMENT_BYTES_MAX = 2_000;
const FAULTS: FaultRates = { drop: 0.06, duplicate: 0.06, delay: 0.25, delayTurnsMax: 4 };

/**
 * Sleeps in simulated time: short waits (the checkpoint interval) are a few turns of the event loop,
 * long ones (the final checkpoint's 10 s guard) a tenth of real time, so a slow commit on a loaded
 * machine still fits. `now()` advances by what was slept.
 */
function simulatedClock(): Clock {
  let now = Date.UTC(2024, 0, 1);
  const SHORT_SLEEP_MS = 100;
  const MS_PER_TURN = 10;
  const LONG_SLEEP_DIVISOR = 10;
  return {
    now: () => now,
    sleep(ms: number, signal?: AbortSignal): Promise<void> {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        let timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
        let left = 1 + Math.floor(Math.max(0, ms) / MS_PER_TURN);
        const onAbort = (): void => {
          if (timer !== undefined) {
            clearTimeout(timer as NodeJS.Timeout);
            clearImmediate(timer as NodeJS.Immediate);
          }
          reject(signal?.reason);
        };
        const finish = (): void => {
          signal?.removeEventListener('abort', onAbort);
          now += Math.max(0, ms);
          resolve();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        if (ms > SHORT_SLEEP_MS) {
          timer = setTimeout(finish, ms / LONG_SLEEP_DIVISOR);
          return;
        }
        const turn = (): void => {
          if (--left <= 0) finish();
          else timer = setImmediate(turn);
        };
        timer = setImmediate(turn);
      });
    },
  };
}

/** What the simulation knows it wrote: every revision, its parent, whether it deletes, and its body. */
interface RevRecord {
  parent: string | null;
  deleted: boolean;
  body: Record<string, unknown>;
}

class Oracle {
  readonly revs = new Map<string, Map<string, RevRecord>>();

  record(id: string, rev: string, rec: RevRecord): void {
    let m = this.revs.get(id);
    if (!m) this.revs.set(id, (m = new Map()));
    const known = m.get(rev);
    // The same edit made on two databases gives the same revision id (revision ids are content hashes).
    if (known) assert.deepEqual({ parent: known.parent, deleted: known.deleted }, { parent: rec.parent, deleted: rec.deleted }, `${id} ${rev} made twice differently`);
    else m.set(rev, rec);
  }

  /** CouchDB's answer once every revision is everywhere: leaves, winner first, and `_conflicts`. */
  expected(id: string): { leaves: { rev: string; deleted: boolean }[]; winner: { rev: string; deleted: boolean }; conflicts: string[] } {
    const m = this.revs.get(id) as Map<string, RevRecord>;
    const parents = new Set([...m.values()].map((r) => r.parent).filter((p): p is string => p !== null));
    const open = [...m.entries()].filter(([rev]) => !parents.has(rev)).map(([rev, r]) => ({ rev, deleted: r.deleted }));
    const gen = (rev: string): number => Number(rev.slice(0, rev.indexOf('-')));
    const hash = (rev: string): string => rev.slice(rev.indexOf('-') + 1);
    // Live before deleted, then the higher generation, then the greater revision id.
    open.sort((a, b) => (a.deleted !== b.deleted ? (a.deleted ? 1 : -1) : gen(a.rev) !== gen(b.rev) ? gen(b.rev) - gen(a.rev) : hash(a.rev) < hash(b.rev) ? 1 : hash(a.rev) > hash(b.rev) ? -1 : 0));
    const winner = open[0] as { rev: string; deleted: boolean };
    return { leaves: open, winner, conflicts: open.slice(1).filter((l) => !l.deleted).map((l) => l.rev) };
  }
}

interface SimStats {
  edits: number;
  editConflicts: number;
  replications: number;
  sessions: number;
  crashedSessions: number;
  gaveUp: number;
  healRounds: number;
}

/** One step of the chaos phase, drawn in full from the seed before anything runs. */
type Action =
  | { kind: 'edit'; db: number; doc: number; roll: number; pick: number; body: { v: number; from: string | null }; att: number; attSeed: number }
  | { kind: 'replicate'; from: number; to: number; docIds?: string[]; plan: ReplicationPlan }
  | { kind: 'partition'; x: number; y: number; steps: number }
  | { kind: 'pause'; turns: number };

/** Everything random about one replication: its options, where it runs, and its own fault stream. */
interface ReplicationPlan {
  seed: number;
  /** The replicator runs beside the source (push) or the target (pull). */
  atSource: boolean;
  workerProcesses: number;
  workerBatchSize: number;
  checkpointIntervalMs: number;
  skipRevsDiff: boolean;
}

function drawPlan(random: () => number): ReplicationPlan {
  const int = (n: number): number => Math.floor(random() * n);
  return {
    seed: Math.floor(random() * 2 ** 32),
    atSource: random() < 0.5,
    workerProcesses: 1 + int(3),
    workerBatchSize: 1 + int(8),
    checkpointIntervalMs: 1 + int(50),
    skipRevsDiff: random() < 0.5,
  };
}

/**
 * The chaos script. Drawing it up front means a seed always makes the same edits, replications and
 * partitions, whatever the interleaving; only how they overlap can differ between runs.
 */
function drawScript(random: () => number, nDbs: number, docId: (k: number) => string): Action[] {
  const int = (n: number): number => Math.floor(random() * n);
  const other = (x: number): number => (x + 1 + int(nDbs - 1)) % nDbs;
  const script: Action[] = [];
  for (let step = 0; step < STEPS; step++) {
    const roll = random();
    if (roll < 0.55) {
      // Small values, so that two databases sometimes make the very same edit (the same revision id).
      const db = int(nDbs);
      script.push({ kind: 'edit', db, doc: int(DOC_IDS), roll: random(), pick: random(), body: { v: int(4), from: int(2) === 0 ? `sim${db}` : null }, att: int(3), attSeed: Math.floor(random() * 2 ** 32) });
    } else if (roll < 0.8) {
      const from = int(nDbs);
      const to = other(from);
      const docIds = random() < 0.15 ? Array.from({ length: 1 + int(4) }, () => docId(int(DOC_IDS))) : undefined;
      script.push({ kind: 'replicate', from, to, ...(docIds ? { docIds } : {}), plan: drawPlan(random) });
    } else if (roll < 0.88) {
      const x = int(nDbs);
      script.push({ kind: 'partition', x, y: other(x), steps: 1 + int(PARTITION_STEPS_MAX) });
    } else {
      script.push({ kind: 'pause', turns: 1 + int(30) });
    }
  }
  return script;
}

async function simulate(seed: number, log: (line: string) => void): Promise<void> {
  const random = seeded(seed);
  const nDbs = DATABASES_MIN + Math.floor(random() * (DATABASES_MAX - DATABASES_MIN + 1));
  const docId = (k: number): string => `doc${String(k).padStart(2, '0')}`;
  const script = drawScript(random, nDbs, docId);
  const node: OpenedNode = await openNode({ inMemory: true });
  try {
    const dbs: Database[] = [];
    for (let i = 0; i < nDbs; i++) dbs.push(await node.services.catalog.create(`sim${i}`));
    const endpoints = dbs.map((db) => new StoreEndpoint(db, 'sim-node'));
    const names = dbs.map((db) => db.name);
    const network = new FaultyNetwork(FAULTS);
    const clock = simulatedClock();
    const oracle = new Oracle();
    const stats: SimStats = { edits: 0, editConflicts: 0, replications: 0, sessions: 0, crashedSessions: 0, gaveUp: 0, healRounds: 0 };

    // ---- edits, as a client of one database would make them -----------------------------
    const write = async (db: Database, id: string, parent: string | null, body: Record<string, unknown>, deleted: boolean, atts?: Record<string, unknown>): Promise<void> => {
      const doc: Record<string, unknown> = { _id: id, ...body };
      if (parent !== null) doc['_rev'] = parent;
      if (deleted) doc['_deleted'] = true;
      if (atts) doc['_attachments'] = atts;
      const [result] = await db.write([{ id, doc: parseDoc(doc) }], true);
      stats.edits++;
      if (!result || !('ok' in result)) {
        // A replication changed the document between our read and our write: a 409, as for any client.
        assert.equal(result?.error, 'conflict', JSON.stringify(result));
        stats.editConflicts++;
        return;
      }
      oracle.record(id, result.rev, { parent, deleted, body });
    };

    const edit = async (a: Extract<Action, { kind: 'edit' }>): Promise<void> => {
      const db = dbs[a.db] as Database;
      const id = docId(a.doc);
      const info = db.docInfo(id);
      const body = a.body.from === null ? { v: a.body.v } : { v: a.body.v, from: a.body.from };
      if (!info) return write(db, id, null, body, false);
      // Recreating a deleted document continues from its tombstone.
      if (info.deleted) return write(db, id, info.rev, body, false);
      const live = leaves(info.tree).filter((l) => !l.deleted);
      if (a.roll < 0.45) return write(db, id, info.rev, body, false);
      if (a.roll < 0.6) {
        // Edit any live leaf, often a losing one: the conflict grows instead of being resolved.
        const leaf = live[Math.floor(a.pick * live.length)] as { rev: string };
        return write(db, id, leaf.rev, body, false);
      }
      if (a.roll < 0.75) return write(db, id, info.rev, {}, true);
      if (a.roll < 0.85 && live.length > 1) {
        // Resolve a conflict the CouchDB way: delete a losing leaf.
        const loser = live[1 + Math.floor(a.pick * (live.length - 1))] as { rev: string };
        return write(db, id, loser.rev, {}, true);
      }
      // A new or replaced attachment; the other attachments of the winner stay as stubs.
      const current = JSON.parse(renderRevision(db, id, info, info.rev, {}) as string) as { _attachments?: Record<string, unknown> };
      const atts: Record<string, unknown> = { ...(current._attachments ?? {}) };
      const bytesRandom = seeded(a.attSeed);
      const data = randomBytesFrom(bytesRandom, 1 + Math.floor(bytesRandom() * ATTACHMENT_BYTES_MAX));
      atts[`a${a.att}.bin`] = { content_type: 'application/octet-stream', data: data.toString('base64') };
      return write(db, id, info.rev, body, false, atts);
    };

    // ---- replications, run the way the scheduler runs a one-shot job -----------------------
    const replicate = async (from: number, to: number, plan: ReplicationPlan, opts: { faulty: boolean; docIds?: string[] }): Promise<JsonObject | null> => {
      stats.replications++;
      const own = seeded(plan.seed);
      const home = names[plan.atSource ? from : to] as string;
      const options = parseReplicationRequest({
        source: `http://sim/${names[from]}`,
        target: `http://sim/${names[to]}`,
        worker_processes: plan.workerProcesses,
        worker_batch_size: plan.workerBatchSize,
        checkpoint_interval: plan.checkpointIntervalMs,
        ...(opts.docIds ? { doc_ids: opts.docIds } : {}),
      });
      const sessionsMax = opts.faulty ? SESSIONS_PER_REPLICATION_MAX : 1;
      for (let session = 1; session <= sessionsMax; session++) {
        stats.sessions++;
        const replication = new Replication({
          source: network.link(endpoints[from] as StoreEndpoint, home, names[from] as string, own),
          target: network.link(endpoints[to] as StoreEndpoint, home, names[to] as string, own),
          serverUuid: 'sim-node',
          options,
          clock,
          random: own,
          skipRevsDiff: plan.skipRevsDiff,
        });
        try {
          return await replication.run();
        } catch (err) {
          // Under faults a session may die of a lost request; anything else is a bug.
          if (!opts.faulty || !(err instanceof PeerError || err instanceof ReplicationError)) throw err;
          if (err instanceof PeerError) assert.equal(err.status, 0, `only injected faults may fail a session: ${err.message}`);
          stats.crashedSessions++;
        }
      }
      stats.gaveUp++;
      return null;
    };

    // ---- phase 1: chaos ----------------------------------------------------------------------
    const running = new Set<Promise<unknown>>();
    const failures: unknown[] = [];
    for (const [step, action] of script.entries()) {
      network.advance(step);
      switch (action.kind) {
        case 'edit':
          await edit(action);
          break;
        case 'replicate': {
          // A free slot first: waiting keeps the script the same whatever the timing.
          while (running.size >= CONCURRENT_REPLICATIONS_MAX) await Promise.race(running);
          const p: Promise<unknown> = replicate(action.from, action.to, action.plan, { faulty: true, ...(action.docIds ? { docIds: action.docIds } : {}) })
            .catch((err: unknown) => failures.push(err))
            .finally(() => running.delete(p));
          running.add(p);
          break;
        }
        case 'partition':
          network.partition(names[action.x] as string, names[action.y] as string, step + action.steps);
          break;
        case 'pause':
          // Let the running replications make progress while nobody edits.
          for (let i = 0; i < action.turns; i++) await new Promise<void>((r) => setImmediate(r));
          break;
      }
    }
    network.healPartitions();
    await Promise.all([...running]);
    if (failures.length > 0) throw failures[0];

    // ---- phase 2: heal, then replicate every ordered pair until nothing moves ----------------
    network.heal();
    for (;;) {
      stats.healRounds++;
      assert.ok(stats.healRounds <= HEAL_ROUNDS_MAX, `still copying after ${HEAL_ROUNDS_MAX} rounds of all-pairs replication`);
      let written = 0;
      for (let from = 0; from < nDbs; from++) {
        for (let to = 0; to < nDbs; to++) {
          if (from === to) continue;
          const result = (await replicate(from, to, drawPlan(random), { faulty: false })) as JsonObject;
          assert.equal(result['ok'], true);
          const history = result['history'] as { docs_written: number; doc_write_failures: number }[] | undefined;
          if (result['no_changes'] === true || !history) continue;
          assert.equal(history[0]?.doc_write_failures, 0, 'no write fails on a healed network');
          written += history[0]?.docs_written ?? 0;
        }
      }
      if (written === 0) break;
    }

    // ---- every database agrees, and agrees with the oracle ----------------------------------
    const first = dbs[0] as Database;
    for (const [id] of oracle.revs) {
      const want = oracle.expected(id);
      const body = oracle.revs.get(id)?.get(want.winner.rev)?.body;
      let attachmentsOnFirst: string | undefined;
      for (const db of dbs) {
        const where = `${id} on ${db.name}`;
        const info = db.docInfo(id);
        assert.ok(info, `${where}: missing`);
        assert.deepEqual(leaves(info.tree).map((l) => ({ rev: l.rev, deleted: l.deleted })), want.leaves, `${where}: leaves`);
        assert.equal(info.rev, want.winner.rev, `${where}: winner`);
        assert.equal(info.deleted, want.winner.deleted, `${where}: deleted`);
        assert.deepEqual(conflicts(info.tree), want.conflicts, `${where}: _conflicts`);
        const text = renderRevision(db, id, info, info.rev, { attachments: true, conflicts: true });
        assert.ok(text !== undefined, `${where}: the winner's body is stored`);
        const doc = JSON.parse(text) as Record<string, unknown>;
        const { _id, _rev, _deleted, _conflicts, _attachments, ...fields } = doc;
        void _id;
        void _rev;
        void _deleted;
        void _conflicts;
        assert.deepEqual(fields, body, `${where}: the winner's body is the one written with it`);
        // Attachments: names, types, digests, revpos and bytes equal everywhere.
        const comparable = JSON.stringify(
          Object.entries((_attachments ?? {}) as Record<string, Record<string, unknown>>).map(([name, a]) => [name, a['content_type'], a['digest'], a['revpos'], a['data']]),
        );
        if (attachmentsOnFirst === undefined) attachmentsOnFirst = comparable;
        else assert.equal(comparable, attachmentsOnFirst, `${where}: attachments differ from ${first.name}'s`);
      }
    }
    // Nothing else exists anywhere, and the counts agree.
    for (const db of dbs) {
      const ids = [...db.docRange()].map((d) => d.id).sort();
      assert.deepEqual(ids, [...oracle.revs.keys()].sort(), `${db.name}: the set of documents`);
      assert.deepEqual(db.counters.docCount, first.counters.docCount, `${db.name}: doc_count`);
      assert.deepEqual(db.counters.delCount, first.counters.delCount, `${db.name}: doc_del_count`);
    }

    const n = network.stats;
    log(
      `seed ${seed}: ${nDbs} dbs, ${oracle.revs.size} docs, ${stats.edits} edits (${stats.editConflicts} refused), ` +
        `${stats.replications} replications, ${stats.sessions} sessions (${stats.crashedSessions} crashed, ${stats.gaveUp} gave up), ` +
        `${stats.healRounds} heal rounds; network: ${n.calls} calls, ${n.lostRequests} lost requests, ${n.lostAnswers} lost answers, ` +
        `${n.duplicated} duplicated, ${n.delayed} delayed, ${n.partitioned} partitioned`,
    );
    // The faults must have struck, or the run proved nothing about them.
    assert.ok(stats.crashedSessions > 0, 'some sessions crashed on injected faults');
    assert.ok(n.duplicated > 0 && n.lostAnswers > 0 && n.lostRequests > 0, 'every kind of fault happened');
  } finally {
    await node.shutdown();
  }
}

const seeds = process.env.CHAISE_SEED !== undefined ? [Number(process.env.CHAISE_SEED)] : DEFAULT_SEEDS;
for (const seed of seeds) {
  test(`seed ${seed}: databases converge under drops, delays, duplicates and partitions`, async (t) => {
    try {
      await simulate(seed, (line) => t.diagnostic(line));
    } catch (err) {
      t.diagnostic(`CHAISE_SEED=${seed} to replay`);
      if (err instanceof Error) err.message = `[CHAISE_SEED=${seed} to replay] ${err.message}`;
      throw err;
    }
  });
}
