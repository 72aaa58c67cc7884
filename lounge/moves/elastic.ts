// The elastic lounge: nodes join and leave, ranges move between nodes and split, online.
//
// A move of range R from F to T (a split of R into two children is the same with the
// children built on R's own nodes):
// 1. `copying`: T's shards of every database are created and T joins R as a *joining*
//    target, so every write to R is also copied to T (not counted for `w`); then each shard
//    is replicated to T with the project's replicator, from checkpoints (a copy that was
//    interrupted, by a crash of T or of the lounge, resumes where it got to);
// 2. `catching_up`: every current replica of R is replicated to T again (small: checkpoints),
//    covering writes whose copy to T failed;
// 3. `switching`: R's writes are paused (they wait, never fail) and the running ones drain;
//    every replica is replicated to T and T back to F, so T and F hold the same documents;
//    their update sequences are recorded as a translation for `_changes` tokens that name F;
//    the map changes (T replaces F), with the move marked `done`, in one atomic write of
//    lounge.json; writes resume. F's shards are kept and deleted after `retireAfterMs`.
//
// Every map change bumps `mapEpoch` and is written atomically with the moves' states. A
// lounge that restarts resumes a move that had not switched from its copy step (the
// checkpoints make that cheap); a move the file records as `done` has switched. A step that
// keeps failing (T down for good) rolls the move back: T stops being a joining target, the
// map is unchanged, and the move is `failed` with its errors. Moves run one at a time.

import { randomBytes } from 'node:crypto';
import { debuglog } from 'node:util';
import type { Lounge } from '../lounge.js';
import { parseRange, type Range } from '../placement/ranges.js';
import type { JoiningTarget } from '../placement/shard-map.js';
import { saveConfigAtomic } from '../config/save-config.js';
import { LoungeError } from '../errors/lounge-error.js';
import { dbPath, docPath, UpstreamError } from '../upstream/node-client.js';
import { ACTIVE_STATES, type MoveRecord, type RetiredShards, type SeqTranslation } from './move-types.js';
import { findSourceSeq, type CheckpointLog } from '../changes/find-source-seq.js';
import { parseReplicationRequest, peerIdentity, replicationId } from '../../replicator/index.js';
import { planDrain, planRebalance, splitRange } from './planner.js';
import { ensureShard, ShardCopy, shardSeq, type ShardRef } from './shard-copy.js';

/** Finished moves kept in lounge.json and `GET /_lounge/moves`; older ones are dropped. */
const FINISHED_MOVES_MAX = 200;
/** Translations kept; each is one database of one switched range. */
const TRANSLATIONS_MAX = 5_000;
/** Errors kept per move. */
const MOVE_ERRORS_MAX = 20;
/** How often retired shards whose time has come are deleted (more often when `retireAfterMs` is shorter). */
const RETIRE_SWEEP_MS = 30_000;
const RETIRE_SWEEP_MIN_MS = 100;
/** A request to a node that left the map (deleting its old shards) gives up after this long. */
const RETIRED_NODE_TIMEOUT_MS = 5_000;
/** A node answering `GET /` slower than this is not accepted as a new node. */
const NODE_PROBE_TIMEOUT_MS = 5_000;
/** Longest wait between tries of a failing step (retryMs doubles up to this multiple). */
const RETRY_BACKOFF_MAX_FACTOR = 8;

const NODE_ID = /^[A-Za-z0-9_.@-]{1,64}$/;
/**
 * Test-only: how long a switch waits, levelled but with the map not yet changed, so a crash
 * test can SIGKILL the lounge inside the switch every time (the window is otherwise tens of
 * ms). Read from the environment, never from lounge.json; unset (0) in production.
 */
const TEST_SWITCH_HOLD_MS = Number(process.env.CHAISE_TEST_SWITCH_HOLD_MS ?? 0) || 0;
const log = process.env.CHAISE_ELASTIC_LOG ? (f: string, ...a: unknown[]) => console.error(`[elastic ${new Date().toISOString().slice(11, 23)}] ${f}`, ...a) : debuglog('chaise_elastic');

interface Job {
  copies: ShardCopy[];
}

export class Elastic {
  private loop: Promise<void> | undefined;
  private closed = false;
  /** The copies running now (stopped on close; their progress shows in `list()`). */
  private readonly current: Job = { copies: [] };
  private retireTimer: NodeJS.Timeout | undefined;
  private retiring = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly lounge: Lounge,
    /** Where lounge.json lives; without one, map changes are kept in memory only. */
    private readonly configPath: string | undefined,
  ) {}

  private get state() {
    return this.lounge.config.state;
  }

  /** Restores joining targets of unfinished moves and starts running them. */
  start(): void {
    this.applyJoining();
    const every = Math.max(RETIRE_SWEEP_MIN_MS, Math.min(RETIRE_SWEEP_MS, Math.floor(this.lounge.config.elastic.retireAfterMs / 2)));
    this.retireTimer = setInterval(() => void this.retireDue(), every);
    this.retireTimer.unref();
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retireTimer) clearInterval(this.retireTimer);
    for (const c of this.current.copies) c.stop();
    this.wake?.();
    await this.loop;
  }

  /** Every move and split with its state, newest last. */
  list(): MoveRecord[] {
    const live = this.current.copies.reduce((a, c) => a + c.docsWritten, 0);
    return this.state.moves.map((m) => (m.state === 'copying' ? { ...m, docsCopied: m.docsCopied + live } : { ...m }));
  }

  /** Resolves when no move is pending or running (tests, CLI). */
  async idle(): Promise<void> {
    while (this.state.moves.some((m) => m.state === 'pending' || ACTIVE_STATES.has(m.state))) await sleep(50);
  }

  // ------------------------------------------------------------------ admin requests

  async addNode(id: string, url: string): Promise<void> {
    const cfg = this.lounge.config;
    if (!NODE_ID.test(id)) throw new LoungeError(400, 'bad_request', `node id '${id}' must be 1-64 letters, digits or _.@-`);
    let base: string;
    try {
      const u = new URL(url);
      if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.pathname !== '/' || u.search || u.username || u.password) throw new Error('not a root');
      base = u.origin;
    } catch {
      throw new LoungeError(400, 'bad_request', `"url" must be a node's root URL without credentials, like http://127.0.0.1:5984`);
    }
    if (id in cfg.nodes) throw new LoungeError(409, 'conflict', `node '${id}' already exists`);
    const taken = Object.entries(cfg.nodes).find(([, n]) => n.url === base);
    if (taken) throw new LoungeError(409, 'conflict', `node '${taken[0]}' already has the url ${base}`);
    this.lounge.client.addNode(id, base);
    let welcome = false;
    try {
      const res = await this.lounge.client.request(id, { method: 'GET', path: '/', timeoutMs: NODE_PROBE_TIMEOUT_MS });
      const body = res.status === 200 ? await res.json<Record<string, unknown>>().catch(() => ({})) : (res.discard(), {});
      welcome = answersAsCouchDb(body);
    } catch {
      welcome = false;
    }
    if (!welcome) {
      this.lounge.client.removeNode(id);
      throw new LoungeError(400, 'bad_request', `${base} does not answer GET / as a CouchDB ({"couchdb":"Welcome"}, or another server's "Welcome")`);
    }
    cfg.nodes = { ...cfg.nodes, [id]: { url: base } };
    this.lounge.health.success(id);
    this.lounge.registry.setNodes(Object.keys(cfg.nodes));
    this.persist();
    await this.lounge.registry.refresh().catch(() => undefined);
  }

  /** Drains a node (moves every replica it holds elsewhere) and then removes it. */
  removeNode(id: string): MoveRecord[] {
    const cfg = this.lounge.config;
    if (!(id in cfg.nodes)) throw new LoungeError(404, 'not_found', `no node '${id}'`);
    if (this.state.moves.some((m) => (m.state === 'pending' || ACTIVE_STATES.has(m.state)) && m.to === id)) {
      throw new LoungeError(409, 'conflict', `node '${id}' is the target of a move that has not finished`);
    }
    const plan = planDrain(this.plannedAssignments(), id, Object.keys(cfg.nodes).filter((n) => !this.state.draining.includes(n) || n === id));
    if (typeof plan === 'string') throw new LoungeError(409, 'conflict', `cannot remove node '${id}': ${plan}`);
    if (!this.state.draining.includes(id)) this.state.draining.push(id);
    const made = plan.map((p) => this.newMove({ kind: 'move', range: p.range, from: p.from, to: p.to, reason: 'drain' }));
    this.persist();
    this.kick();
    return made;
  }

  move(range: string, from: string, to: string): MoveRecord {
    const r = this.lounge.map.range(range);
    if (!r) throw new LoungeError(400, 'bad_request', `no range ${range} in the map`);
    const nodes = this.lounge.map.nodesOf(r);
    if (!nodes.includes(from)) throw new LoungeError(400, 'bad_request', `node '${from}' does not hold range ${range}`);
    if (!(to in this.lounge.config.nodes)) throw new LoungeError(400, 'bad_request', `no node '${to}'`);
    if (nodes.includes(to)) throw new LoungeError(409, 'conflict', `node '${to}' already holds range ${range}`);
    if (this.busyRanges().has(range)) throw new LoungeError(409, 'conflict', `range ${range} already has a move or split that has not finished`);
    const m = this.newMove({ kind: 'move', range, from, to, reason: 'request' });
    this.persist();
    this.kick();
    return m;
  }

  rebalance(): MoveRecord[] {
    const nodes = Object.keys(this.lounge.config.nodes).filter((n) => !this.state.draining.includes(n));
    const plan = planRebalance(this.plannedAssignments(), nodes, this.busyRanges());
    const made = plan.map((p) => this.newMove({ kind: 'move', range: p.range, from: p.from, to: p.to, reason: 'rebalance' }));
    if (made.length > 0) this.persist();
    this.kick();
    return made;
  }

  split(range: string): MoveRecord {
    const r = this.lounge.map.range(range);
    if (!r) throw new LoungeError(400, 'bad_request', `no range ${range} in the map`);
    if (this.busyRanges().has(range)) throw new LoungeError(409, 'conflict', `range ${range} already has a move or split that has not finished`);
    const halves = splitRange(r);
    if (!halves) throw new LoungeError(400, 'bad_request', `range ${range} holds one hash value and cannot be split`);
    const m = this.newMove({ kind: 'split', range, children: [halves[0].name, halves[1].name], reason: 'request' });
    this.persist();
    this.kick();
    return m;
  }

  // ------------------------------------------------------------------ bookkeeping

  private newMove(m: Pick<MoveRecord, 'kind' | 'range' | 'reason'> & Partial<MoveRecord>): MoveRecord {
    const now = new Date().toISOString();
    const rec: MoveRecord = { id: `${m.kind}-${randomBytes(6).toString('hex')}`, state: 'pending', docsCopied: 0, docsTotal: 0, errors: [], created: now, updated: now, ...m };
    this.state.moves.push(rec);
    return rec;
  }

  private busyRanges(): Set<string> {
    return new Set(this.state.moves.filter((m) => m.state === 'pending' || ACTIVE_STATES.has(m.state)).map((m) => m.range));
  }

  /** The assignment once every pending and running move has switched (what the next plan starts from). */
  private plannedAssignments(): { range: string; nodes: string[] }[] {
    const out = this.lounge.map.ranges.map((r) => ({ range: r.name, nodes: [...this.lounge.map.nodesOf(r)] }));
    for (const m of this.state.moves) {
      if (m.kind !== 'move' || !(m.state === 'pending' || ACTIVE_STATES.has(m.state))) continue;
      const a = out.find((x) => x.range === m.range);
      if (a && m.from && m.to) a.nodes[a.nodes.indexOf(m.from)] = m.to;
    }
    return out;
  }

  /** Writes lounge.json (map, nodes, moves, translations) atomically; bumps nothing. */
  private persist(): void {
    const cfg = this.lounge.config;
    const finished = this.state.moves.filter((m) => m.state === 'done' || m.state === 'failed');
    if (finished.length > FINISHED_MOVES_MAX) {
      const drop = new Set(finished.slice(0, finished.length - FINISHED_MOVES_MAX));
      this.state.moves = this.state.moves.filter((m) => !drop.has(m));
    }
    if (this.state.translations.length > TRANSLATIONS_MAX) this.state.translations.splice(0, this.state.translations.length - TRANSLATIONS_MAX);
    const json: Record<string, unknown> = {
      ...cfg.source,
      mapEpoch: cfg.mapEpoch,
      shardNames: cfg.shardNames,
      nodes: Object.fromEntries(Object.entries(cfg.nodes).map(([id, n]) => [id, { url: n.url }])),
      q: cfg.q,
      ranges: this.lounge.map.assignments().map((a) => ({ range: a.range.name, nodes: [...a.nodes] })),
      moves: this.state.moves,
      translations: this.state.translations,
      retired: this.state.retired,
      draining: this.state.draining,
    };
    cfg.source = json;
    if (this.configPath) saveConfigAtomic(this.configPath, json);
  }

  /** Bumps `mapEpoch` (every change of the map does). */
  private bumpEpoch(): void {
    const cfg = this.lounge.config;
    const n = Number(cfg.mapEpoch);
    cfg.mapEpoch = Number.isInteger(n) ? String(n + 1) : `${cfg.mapEpoch}.1`;
  }

  /** The joining targets implied by the moves that are copying, catching up or switching. */
  private applyJoining(): void {
    const joining = new Map<string, JoiningTarget[]>();
    const add = (range: string, t: JoiningTarget) => joining.set(range, [...(joining.get(range) ?? []), t]);
    for (const m of this.state.moves) {
      if (!ACTIVE_STATES.has(m.state)) continue;
      const r = this.lounge.map.range(m.range);
      if (!r) continue;
      if (m.kind === 'move' && m.to) add(m.range, { node: m.to, range: r });
      if (m.kind === 'split' && m.children) {
        for (const node of this.lounge.map.nodesOf(r)) for (const c of m.children) add(m.range, { node, range: parseRange(c) as Range });
      }
    }
    this.lounge.map.setJoining(joining);
  }

  private setState(m: MoveRecord, state: MoveRecord['state']): void {
    log('%s %s → %s', m.id, m.state, state);
    m.state = state;
    m.updated = new Date().toISOString();
    this.applyJoining();
    this.persist();
  }

  private noteError(m: MoveRecord, e: unknown): void {
    m.errors.push(`${new Date().toISOString()} ${e instanceof Error ? e.message : String(e)}`);
    if (m.errors.length > MOVE_ERRORS_MAX) m.errors.splice(0, m.errors.length - MOVE_ERRORS_MAX);
    m.updated = new Date().toISOString();
  }

  private kick(): void {
    this.wake?.();
  }

  // ------------------------------------------------------------------ running

  private async run(): Promise<void> {
    while (!this.closed) {
      const next = this.state.moves.find((m) => ACTIVE_STATES.has(m.state)) ?? this.state.moves.find((m) => m.state === 'pending');
      if (!next) {
        this.finishDrains();
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
        continue;
      }
      try {
        await this.runOne(next);
      } catch (e) {
        if (this.closed) return;
        this.noteError(next, e);
        this.rollBack(next);
      }
    }
  }

  private rollBack(m: MoveRecord): void {
    this.noteError(m, 'rolled back: the map is unchanged');
    this.setState(m, 'failed');
    // A drain whose move failed stops; the node stays in the map.
    if (m.reason === 'drain' && m.from) this.state.draining = this.state.draining.filter((d) => d !== m.from);
    this.persist();
  }

  /** Removes drained nodes that no range lists any more and no move involves. */
  private finishDrains(): void {
    const cfg = this.lounge.config;
    let changed = false;
    for (const id of [...this.state.draining]) {
      const holds = this.lounge.map.rangesOfNode(id).length > 0;
      const involved = this.state.moves.some((m) => (m.state === 'pending' || ACTIVE_STATES.has(m.state)) && (m.from === id || m.to === id));
      if (holds || involved) continue;
      const rest = { ...cfg.nodes };
      delete rest[id];
      cfg.nodes = rest;
      this.state.draining = this.state.draining.filter((d) => d !== id);
      // Its retired shards stay listed (with its URL): they are deleted when their time comes, if it still runs.
      this.lounge.registry.setNodes(Object.keys(cfg.nodes));
      this.lounge.client.removeNode(id);
      this.bumpEpoch();
      changed = true;
    }
    if (changed) this.persist();
  }

  /** Retries `step` until it succeeds, the lounge closes, or attemptsMax is reached (then throws). */
  private async attempt(m: MoveRecord, step: () => Promise<void>): Promise<void> {
    const { retryMs, attemptsMax } = this.lounge.config.elastic;
    for (let i = 1; ; i++) {
      try {
        await step();
        return;
      } catch (e) {
        if (this.closed) throw e;
        this.noteError(m, e);
        if (i >= attemptsMax) throw e;
        await sleep(retryMs * Math.min(2 ** (i - 1), RETRY_BACKOFF_MAX_FACTOR));
      }
    }
  }

  private async runOne(m: MoveRecord): Promise<void> {
    const range = this.lounge.map.range(m.range);
    if (!range) throw new Error(`range ${m.range} is no longer in the map`);
    if (m.kind === 'move' && (!m.from || !m.to || !this.lounge.map.nodesOf(range).includes(m.from) || this.lounge.map.nodesOf(range).includes(m.to))) {
      throw new Error(`the map changed: range ${m.range} is not on ${m.from} or already on ${m.to}`);
    }
    if (m.state === 'pending' || m.state === 'copying') {
      this.setState(m, 'copying');
      await this.attempt(m, () => this.copyAll(m, range, true));
    }
    if (m.state === 'copying' || m.state === 'catching_up') {
      this.setState(m, 'catching_up');
      await this.attempt(m, () => this.copyAll(m, range, false));
    }
    this.setState(m, 'switching');
    await this.attempt(m, () => this.switchOver(m, range));
  }

  /** Each target shard of the move with the replicas it is copied from (preferred first). */
  private targets(m: MoveRecord, range: Range, db: string): { to: ShardRef; sources: ShardRef[]; only?: Range }[] {
    const map = this.lounge.map;
    const nodes = map.nodesOf(range);
    const up = (list: readonly string[]) => [...list.filter((n) => this.lounge.client.isUp(n)), ...list.filter((n) => !this.lounge.client.isUp(n))];
    if (m.kind === 'move') {
      const order = up([m.from as string, ...nodes.filter((n) => n !== m.from)]);
      return [{ to: { node: m.to as string, shard: map.shardName(range, db) }, sources: order.map((node) => ({ node, shard: map.shardName(range, db) })) }];
    }
    return nodes.flatMap((node) =>
      (m.children as [string, string]).map((c) => {
        const child = parseRange(c) as Range;
        const order = up([node, ...nodes.filter((n) => n !== node)]);
        return { to: { node, shard: map.shardName(child, db) }, sources: order.map((n) => ({ node: n, shard: map.shardName(range, db) })), only: child };
      }),
    );
  }

  /**
   * Copies every database's shards of the range to the targets. `first`: from one source
   * each (the old replica, else another), counting docs; else from every source (catch-up).
   */
  private async copyAll(m: MoveRecord, range: Range, first: boolean): Promise<void> {
    await this.lounge.registry.refresh().catch(() => undefined);
    const dbs = this.lounge.registry.names();
    if (first) {
      let total = 0;
      for (const db of dbs) {
        for (const t of this.targets(m, range, db)) {
          const src = t.sources.find((s) => this.lounge.client.isUp(s.node)) ?? t.sources[0];
          if (src) total += await shardSeq(this.lounge.client, src).then((x) => x.docs, () => 0);
        }
      }
      m.docsTotal = m.kind === 'split' ? Math.round(total / 2) : total;
      m.docsCopied = 0;
      this.persist();
    }
    // Every target shard exists before any copy, so joining writes land from now on.
    for (const db of dbs) for (const t of this.targets(m, range, db)) await ensureShard(this.lounge.client, t.to, this.partitioned(db));
    for (const db of dbs) {
      for (const t of this.targets(m, range, db)) {
        const sources = first ? t.sources.filter((s) => this.lounge.client.isUp(s.node)).slice(0, 1) : t.sources.filter((s) => s.node !== t.to.node || s.shard !== t.to.shard);
        if (sources.length === 0) throw new UpstreamError(t.sources[0]?.node ?? '?', 0, 'unavailable', `no replica of ${range.name} is up to copy ${db} from`);
        for (const s of sources) {
          if (s.node === t.to.node && s.shard === t.to.shard) continue;
          if (!first && !this.lounge.client.isUp(s.node)) continue;
          const written = await this.copyOne(db, s, t.to, t.only);
          if (first) m.docsCopied += written;
        }
        await this.copySecurity(db, t.to);
      }
    }
    this.persist();
  }

  private async copyOne(db: string, from: ShardRef, to: ShardRef, only?: Range): Promise<number> {
    const map = this.lounge.map;
    const filter = only ? { range: only, hash: (id: string) => map.hashOf(id, db) } : undefined;
    const copy = new ShardCopy(this.lounge.client, this.lounge.config.serverUuid, from, to, filter, this.partitioned(db));
    this.current.copies.push(copy);
    const started = Date.now();
    try {
      const { docsWritten } = await copy.run();
      log('copy %s/%s → %s/%s: %d docs in %d ms', from.node, from.shard, to.node, to.shard, docsWritten, Date.now() - started);
      return docsWritten;
    } finally {
      this.current.copies = this.current.copies.filter((c) => c !== copy);
    }
  }

  private partitioned(db: string): boolean {
    return this.lounge.registry.get(db)?.partitioned === true;
  }

  private async copySecurity(db: string, to: ShardRef): Promise<void> {
    const sec = this.lounge.registry.get(db)?.security;
    if (!sec) return;
    const res = await this.lounge.client.request(to.node, { method: 'PUT', path: `${dbPath(to.shard)}/_security`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(sec) });
    res.discard();
  }

  /** `_local` docs (replication checkpoints) of `from` that `to` lacks or has older. */
  private async copyLocalDocs(db: string, from: ShardRef, to: ShardRef, only?: Range): Promise<void> {
    const client = this.lounge.client;
    type Row = { id: string; doc?: Record<string, unknown> };
    const list = async (at: ShardRef) => (await client.json<{ rows?: Row[] }>(at.node, { method: 'GET', path: `${dbPath(at.shard)}/_local_docs?include_docs=true` })).body.rows ?? [];
    let src: Row[];
    try {
      src = await list(from);
    } catch {
      return; // a node without `_local_docs` (an older CouchDB-API node): checkpoints stay where they are
    }
    const have = new Map((await list(to).catch(() => [] as Row[])).map((r) => [r.id, r.doc]));
    for (const row of src) {
      if (!row.doc) continue;
      if (only && !inRange(only, this.lounge.map.hashOf(row.id, db))) continue;
      const mine = have.get(row.id);
      const { _rev: rev, ...body } = row.doc;
      if (mine && localRev(mine._rev) >= localRev(rev)) continue;
      const put = await client.request(to.node, {
        method: 'PUT',
        path: `${dbPath(to.shard)}/_local/${encodeURIComponent(row.id.slice('_local/'.length))}`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, ...(mine ? { _rev: mine._rev } : {}) }),
      });
      put.discard();
    }
  }

  /** The switch (step 3 in the file header). */
  private async switchOver(m: MoveRecord, range: Range): Promise<void> {
    const { lounge } = this;
    const map = lounge.map;
    await lounge.registry.refresh().catch(() => undefined);
    const dbs = lounge.registry.names();
    const paused = Date.now();
    await lounge.writer.gate.pause(range.name);
    log('switch %s: writes drained in %d ms', m.id, Date.now() - paused);
    try {
      // Databases are brought level in parallel: the pause lasts as long as the slowest, not the sum.
      const translations = (await Promise.all(dbs.map((db) => this.levelDb(m, range, db)))).flat();
      if (TEST_SWITCH_HOLD_MS > 0) {
        log('switch %s: levelled, holding %d ms before the map changes (test-only)', m.id, TEST_SWITCH_HOLD_MS);
        await sleep(TEST_SWITCH_HOLD_MS);
      }
      // The one map change: new assignment, move done, translations, retired shards — one atomic write.
      const after = new Date(Date.now() + lounge.config.elastic.retireAfterMs).toISOString();
      const assignments = map.assignments().map((a) => ({ range: a.range, nodes: [...a.nodes] }));
      if (m.kind === 'move') {
        const a = assignments.find((x) => x.range.name === range.name) as { range: Range; nodes: string[] };
        a.nodes[a.nodes.indexOf(m.from as string)] = m.to as string;
        this.state.retired.push({ node: m.from as string, range: range.name, after, url: lounge.config.nodes[m.from as string]?.url as string });
      } else {
        const i = assignments.findIndex((x) => x.range.name === range.name);
        const nodes = [...(assignments[i] as { range: Range; nodes: string[] }).nodes];
        const [c1, c2] = (m.children as [string, string]).map((c) => parseRange(c) as Range) as [Range, Range];
        assignments.splice(i, 1, { range: c1, nodes: [...nodes] }, { range: c2, nodes: [...nodes] });
        lounge.config.q += 1;
        for (const node of nodes) this.state.retired.push({ node, range: range.name, after, url: lounge.config.nodes[node]?.url as string });
      }
      this.state.translations.push(...translations);
      m.state = 'done';
      m.updated = new Date().toISOString();
      this.bumpEpoch();
      map.replace(assignments, new Map());
      this.applyJoining();
      this.persist();
    } finally {
      lounge.writer.gate.resume(range.name);
      log('switch %s: writes paused for %d ms', m.id, Date.now() - paused);
    }
    // The new replica set is checked pair by pair now, not at the next sweep.
    if (m.state === 'done') lounge.sync.syncRanges(m.kind === 'move' ? [range] : (m.children as [string, string]).map((c) => parseRange(c) as Range));
  }

  /**
   * With the range's writes paused: makes the new replica(s) hold exactly what the old ones
   * hold, and records the sequence translation for each (see the file header, step 3).
   */
  private async levelDb(m: MoveRecord, range: Range, db: string): Promise<SeqTranslation[]> {
    const { lounge } = this;
    const map = lounge.map;
    const up = (n: string) => lounge.client.isUp(n);
    for (const t of this.targets(m, range, db)) await ensureShard(lounge.client, t.to, this.partitioned(db));
    if (m.kind === 'move') {
      const from = m.from as string;
      const to = { node: m.to as string, shard: map.shardName(range, db) };
      await Promise.all(map.nodesOf(range).filter(up).map((n) => this.copyOne(db, { node: n, shard: to.shard }, to)));
      await this.copySecurity(db, to);
      const old = { node: from, shard: to.shard };
      if (!up(from)) return []; // tokens naming the old replica rewind that range (at least once)
      await this.copyOne(db, to, old);
      await this.copyLocalDocs(db, old, to);
      const [a, b] = await Promise.all([shardSeq(lounge.client, old), shardSeq(lounge.client, to)]);
      return [{ db, range: range.name, node: from, seq: a.seq, toRange: range.name, toNode: to.node, toSeq: b.seq }];
    }
    // A split: the parent replicas first agree with each other, then each node's children are built from its own parent.
    const nodes = map.nodesOf(range).filter(up);
    const parent = (n: string) => ({ node: n, shard: map.shardName(range, db) });
    await Promise.all(nodes.flatMap((a) => nodes.filter((b) => b !== a).map((b) => this.copyOne(db, parent(a), parent(b)))));
    const built = await Promise.all(
      this.targets(m, range, db)
        .filter((t) => nodes.includes(t.to.node))
        .map(async (t): Promise<SeqTranslation> => {
          await this.copyOne(db, parent(t.to.node), t.to, t.only);
          await this.copyLocalDocs(db, parent(t.to.node), t.to, t.only);
          await this.copySecurity(db, t.to);
          const [a, b] = await Promise.all([shardSeq(lounge.client, parent(t.to.node)), shardSeq(lounge.client, t.to)]);
          return { db, range: range.name, node: t.to.node, seq: a.seq, toRange: (t.only as Range).name, toNode: t.to.node, toSeq: b.seq };
        }),
    );
    return built;
  }

  /**
   * Deletes the shards of replicas that left their range, once their time has come (never
   * before: records are made at the switch). A node that holds the range again, or is the
   * target of a running move of it, keeps them. A node still in the map that fails keeps its
   * record for the next sweep; a removed node that does not answer is gone with its shards
   * (nothing to delete). Every database's shard of the range is deleted, found in the
   * node's `_all_dbs` (a database deleted since is cleaned too).
   */
  async retireDue(): Promise<void> {
    if (this.retiring) return;
    this.retiring = true;
    try {
      const now = Date.now();
      const done = new Set<RetiredShards>();
      for (const r of this.state.retired.filter((x) => Date.parse(x.after) <= now)) {
        if (this.closed) return;
        if (this.lounge.map.range(r.range) && this.lounge.map.nodesOf(r.range).includes(r.node)) {
          done.add(r); // the node took the range back: its shards are live again
          continue;
        }
        if (this.state.moves.some((m) => (m.state === 'pending' || ACTIVE_STATES.has(m.state)) && m.range === r.range && m.to === r.node)) continue;
        const member = r.node in this.lounge.config.nodes;
        const url = this.lounge.config.nodes[r.node]?.url ?? r.url;
        if (!url) {
          done.add(r);
          continue;
        }
        try {
          const deleted = await this.deleteRangeShards(url, r.range);
          log('retired %s of %s: deleted %d shards', r.range, r.node, deleted);
          done.add(r);
        } catch (e) {
          log('retired %s of %s: %s', r.range, r.node, e instanceof Error ? e.message : String(e));
          if (!member) done.add(r); // removed and not answering: nothing left to delete
        }
      }
      if (done.size > 0) {
        this.state.retired = this.state.retired.filter((r) => !done.has(r));
        this.persist();
      }
    } finally {
      this.retiring = false;
    }
  }

  /** Deletes every shard of `range` on the node at `url`; returns how many. Throws if the node does not answer. */
  private async deleteRangeShards(url: string, range: string): Promise<number> {
    const parsed = parseRange(range);
    if (!parsed) return 0;
    const prefix = this.lounge.map.shardName(parsed, '');
    const auth = this.lounge.client.serviceAuth();
    const headers: Record<string, string> = { accept: 'application/json' };
    if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.basic.username}:${auth.basic.password}`).toString('base64')}`;
    const ask = async (method: string, path: string) => {
      const res = await fetch(url + path, { method, headers, signal: AbortSignal.timeout(RETIRED_NODE_TIMEOUT_MS) });
      const text = await res.text();
      if (res.status >= 400 && !(method === 'DELETE' && res.status === 404)) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
      return text;
    };
    const names = JSON.parse(await ask('GET', '/_all_dbs')) as unknown;
    const mine = Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string' && n.startsWith(prefix) && n.length > prefix.length) : [];
    for (const name of mine) await ask('DELETE', dbPath(name));
    return mine.length;
  }

  /**
   * Where a position (`seq` on shard instance `uuid`) on replica `gone` continues on replica
   * `live`, from the checkpoint of live → gone on `live` (changes/find-source-seq.ts);
   * undefined when nothing safe is known (the caller reads `live` from 0).
   */
  async fromCheckpoint(db: string, range: Range, live: string, gone: string, seq: unknown, uuid: string): Promise<unknown> {
    const goneUrl = this.lounge.config.nodes[gone]?.url ?? [...this.state.retired].reverse().find((r) => r.node === gone)?.url;
    if (!goneUrl || !(live in this.lounge.config.nodes)) return undefined;
    const shard = this.lounge.map.shardName(range, db);
    const auth = this.lounge.client.serviceAuth();
    const peer = (base: string) => ({ url: `${base}${dbPath(shard)}`, ...(auth ? { auth } : {}) });
    const request = parseReplicationRequest({ source: peer(this.lounge.client.url(live)), target: peer(goneUrl) });
    const id = replicationId({ serverUuid: this.lounge.config.serverUuid, source: peerIdentity(request.source), target: peerIdentity(request.target), continuous: false, createTarget: false });
    try {
      const res = await this.lounge.client.request(live, { method: 'GET', path: `${dbPath(shard)}/${docPath(id.checkpointDocId)}` });
      if (res.status !== 200) {
        res.discard();
        return undefined;
      }
      return findSourceSeq(await res.json<CheckpointLog>(), seq, uuid);
    } catch {
      return undefined;
    }
  }

  /** Where a `_changes` position on a replica that left its range continues (see SeqTranslation). */
  translate(db: string, range: string, node: string, seq: unknown, toRange: string): { node: string; seq: unknown } | undefined {
    let best: SeqTranslation | undefined;
    for (const t of this.state.translations) {
      if (t.db !== db || t.range !== range || t.node !== node || t.toRange !== toRange) continue;
      if (seqNumber(seq) >= seqNumber(t.seq)) best = t;
    }
    return best ? { node: best.toNode, seq: best.toSeq } : undefined;
  }

  /** A replica that left `range` but whose old shards still exist (for reading an old position to its end). */
  retiredHolder(range: string, node: string): boolean {
    return this.state.retired.some((r) => r.range === range && r.node === node) && node in this.lounge.config.nodes;
  }

  /** The switch translation's old-side seq for a retired replica of `range` in `db`, if any. */
  retiredSeq(db: string, range: string, node: string): unknown {
    return [...this.state.translations].reverse().find((t) => t.db === db && t.range === range && t.node === node)?.seq;
  }
}

/**
 * A CouchDB-API server's `GET /` greeting: CouchDB's `{"couchdb":"Welcome"}`, or another
 * implementation's own key with a welcome (pouchdb-server: `{"express-pouchdb":"Welcome!"}`).
 */
export function answersAsCouchDb(root: unknown): boolean {
  if (typeof root !== 'object' || root === null || Array.isArray(root)) return false;
  return Object.values(root).some((v) => typeof v === 'string' && /^Welcome\b/.test(v));
}

function inRange(range: Range, hash: number): boolean {
  return hash >= range.begin && hash <= range.end;
}

function localRev(rev: unknown): number {
  const m = typeof rev === 'string' ? /^0-(\d+)$/.exec(rev) : null;
  return m ? Number(m[1]) : 0;
}

/** The numeric part of a node sequence (`N` or `N-opaque`). */
export function seqNumber(seq: unknown): number {
  if (typeof seq === 'number' && Number.isFinite(seq)) return seq;
  if (typeof seq === 'string') {
    const m = /^(\d+)/.exec(seq);
    if (m) return Number(m[1]);
  }
  return 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
