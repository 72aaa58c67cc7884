// Moves that are interrupted by crashes (issue 14's chaos test), with real processes: three
// nodes (q=4, n=2), a spare node n4, and the lounge as its own process (`chaise lounge
// --config lounge.json`), under a steady load of writers, readers and a continuous `_changes`
// client the whole time.
//
// 1. The target (n4) is SIGKILLed while its copy runs, and restarted: the copy step fails,
//    is retried and resumes from the replicator's checkpoints.
// 2. The lounge is SIGKILLed in the middle of a switch, and started again from its
//    lounge.json. To hit the switch every time (it lasts tens of ms otherwise), the lounge
//    runs with the test-only CHAISE_TEST_SWITCH_HOLD_MS, which holds a switch for that long
//    once the new replica is level and before the map changes (the most telling moment: the
//    new replica is complete, writes to the range are paused, the map does not say so yet);
//    the test kills it when the lounge logs that hold.
// 3. The lounge and the target are SIGKILLed together mid-copy; both are restarted.
// 4. The target is SIGKILLed and stays down: the move's copy step fails `attemptsMax` times
//    and the move rolls back (`failed`, the map unchanged); the target comes back after.
//
// After each, every move is `done` (finished) or `failed` (rolled back: the map unchanged);
// at the end: no request got an error answer (the only failures are requests the dead
// lounge never answered), every acknowledged write is there at its acknowledged revision
// (or a later one: an update in flight at a kill may land without its answer),
// the `_changes` client saw every acknowledged doc, every range has n distinct replicas,
// lounge.json holds the live map, and every replica of every range is identical.
// The CLI (`chaise lounge add-node`, `rebalance`, `moves`) runs as a child process against
// the lounge, with plain progress lines (not a terminal).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { nodeCliPath } from './node-process.js';
import { crc32 } from '../placement/crc32.js';
import { shardName } from '../placement/shard-map.js';
import type { MoveRecord } from '../moves/move-types.js';
import { call, eventually } from '../test-support/http.js';
import { startLoad } from '../test-support/load.js';
import { FAST_HEALTH, replicaDifference, TRIGGERED_SYNC, useCluster } from '../test-support/cluster-fixture.js';

const DOCS = 4_000;
/** More docs in the first range (the one phase 1 moves), so its copy lasts long enough to be hit. */
const FIRST_RANGE_DOCS = 4_000;
/** How long the lounge holds a switch (test-only setting); the kill lands inside it. */
const SWITCH_HOLD_MS = 3_000;
const DEADLINE_MS = 180_000;
const TEST_TIMEOUT_MS = 600_000;
const CONVERGE_DEADLINE_MS = 60_000;

/** The lounge's output (its elastic log) since the last reset. */
let output = '';
const fx = useCluster({
  nodes: 3,
  q: 4,
  n: 2,
  spareNodes: 1,
  // A write in flight when the lounge is killed may reach its leader and not its copies (no
  // answer, so not acknowledged, and no hint: those die with the lounge); the periodic sweep
  // (and the one at start) levels that, so the test sweeps often.
  tune: { health: FAST_HEALTH, sync: { ...TRIGGERED_SYNC, intervalMs: 5_000 }, elastic: { retireAfterMs: 600_000, retryMs: 300, attemptsMax: 30 } },
  loungeProcess: {
    env: { CHAISE_TEST_SWITCH_HOLD_MS: String(SWITCH_HOLD_MS), CHAISE_ELASTIC_LOG: '1' },
    onOutput: (text) => (output += text),
  },
});

type Move = MoveRecord;
interface MapFile {
  mapEpoch: string;
  ranges: { range: string; nodes: string[] }[];
  moves: Move[];
}

const onDisk = (): MapFile => JSON.parse(readFileSync(fx.cluster.configPath, 'utf8')) as MapFile;

async function moves(): Promise<Move[]> {
  return (await call(fx.url, 'GET', '/_lounge/moves')).body.moves;
}

async function liveMap(): Promise<{ mapEpoch: string; n: number; ranges: { range: string; nodes: string[] }[] }> {
  return (await call(fx.url, 'GET', '/_lounge/map')).body;
}

/** Waits until no move is pending or running; every one must be done or failed (rolled back). */
async function settled(what: string): Promise<Move[]> {
  await eventually(async () => (await moves().catch(() => undefined))?.every((m) => m.state === 'done' || m.state === 'failed') ?? false, DEADLINE_MS, what, 50);
  return moves();
}

/** Diagnostics for a failed check: which node's shard of each id's range holds which leaves. */
async function whereAre(ids: string[], db: string): Promise<Record<string, unknown>> {
  const map = (await call(fx.url, 'GET', '/_lounge/map')).body as { nodes: Record<string, { url: string }>; shardNames: 'flat' | 'shards'; ranges: { range: string; nodes: string[] }[] };
  const out: Record<string, unknown> = { moves: (await moves()).map((m) => `${m.id} ${m.range} ${m.from}→${m.to} ${m.state}`) };
  for (const id of ids) {
    const h = crc32(id) >>> 0;
    const range = map.ranges.find((r) => parseInt(r.range.slice(0, 8), 16) <= h && h <= parseInt(r.range.slice(9), 16)) as { range: string; nodes: string[] };
    const shard = encodeURIComponent(shardName(range.range, db, map.shardNames));
    const on: Record<string, unknown> = {};
    for (const n of ['n1', 'n2', 'n3', 'n4']) {
      const url = n === 'n4' ? fx.spares[0]?.url : fx.cluster.nodes.find((x) => x.id === n)?.url;
      const doc = (await call(url as string, 'GET', `/${shard}/${id}?open_revs=all&local_seq=true`).catch((e: Error) => ({ text: e.message }))).text.slice(0, 160);
      const feed = await call(url as string, 'GET', `/${shard}/_changes?style=all_docs`).catch(() => undefined);
      const row = (feed?.body?.results as { id: string; seq: unknown }[] | undefined)?.find((x) => x.id === id);
      on[n] = { doc, inChanges: row ? String(row.seq).slice(0, 12) : false, lastSeq: String(feed?.body?.last_seq).slice(0, 12), rows: feed?.body?.results?.length };
    }
    out[id] = { range: range.range, nodes: range.nodes, on };
  }
  return out;
}

function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [nodeCliPath(), 'lounge', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

test('the target dies mid-copy, the lounge dies mid-switch, both die mid-copy, the target stays dead: the moves finish or roll back, nothing is lost', { timeout: TEST_TIMEOUT_MS }, async () => {
  const db = 'crash';
  const L = fx.url;
  const lounge = fx.lounge as NonNullable<typeof fx.lounge>;
  const n4 = fx.spares[0] as NonNullable<(typeof fx.spares)[0]>;
  assert.equal((await call(L, 'PUT', `/${db}`)).status, 201);
  const loaded = new Map<string, string>();
  for (let i = 0; i < DOCS; i += 500) {
    const docs = Array.from({ length: 500 }, (_, k) => ({ _id: `d${i + k}`, text: 'x'.repeat(500) }));
    const r = await call(L, 'POST', `/${db}/_bulk_docs`, { docs });
    assert.equal(r.status, 201);
    for (const row of r.body as { id: string; rev: string }[]) loaded.set(row.id, row.rev);
  }
  const firstRange: string[] = [];
  for (let i = 0; firstRange.length < FIRST_RANGE_DOCS; i++) if (crc32(`r0-${i}`) >>> 0 <= 0x3fffffff) firstRange.push(`r0-${i}`);
  for (let i = 0; i < firstRange.length; i += 500) {
    const r = await call(L, 'POST', `/${db}/_bulk_docs`, { docs: firstRange.slice(i, i + 500).map((_id) => ({ _id, text: 'x'.repeat(500) })) });
    assert.equal(r.status, 201);
    for (const row of r.body as { id: string; rev: string }[]) loaded.set(row.id, row.rev);
  }
  // The CLI adds the node (plain lines: stdout is not a terminal).
  const added = await cli(['add-node', '--url', n4.url, '--id', 'n4', '--lounge', L]);
  assert.equal(added.code, 0, added.out);
  assert.match(added.out, /added node n4/);

  const load = startLoad(L, db, { writers: 8, readers: 2 });
  const acked: [string, string][] = [];
  try {
    await new Promise((r) => setTimeout(r, 500));

    // 1. Kill the target while it copies; bring it back.
    const first = (await liveMap()).ranges[0] as { range: string; nodes: string[] };
    assert.equal(first.range, '00000000-3fffffff', 'the range FIRST_RANGE_DOCS went to');
    const mv = await call(L, 'POST', '/_lounge/moves', { range: first.range, from: first.nodes[0], to: 'n4' });
    assert.equal(mv.status, 202, mv.text);
    await eventually(async () => (await moves()).some((m) => m.state === 'copying' && m.docsCopied < m.docsTotal), DEADLINE_MS, 'the copy to start', 20);
    await n4.kill('SIGKILL');
    // The target stays down until the move notices (a step fails), so the kill surely hits it;
    // a copy that ended between the check above and the kill had nothing left to hit.
    const hit = (await moves()).some((m) => m.state !== 'done');
    if (hit) await eventually(async () => (await moves()).some((m) => m.errors.length > 0 || m.state === 'done'), DEADLINE_MS, 'the move to notice the kill', 50);
    await n4.restart();
    const after1 = await settled('the move to finish');
    assert.deepEqual(after1.map((m) => m.state), ['done'], JSON.stringify(after1));
    if (hit) assert.ok((after1[0]?.errors.length ?? 0) > 0, 'the kill hit the move (its step failed and was retried)');
    assert.ok((await liveMap()).ranges.find((r) => r.range === first.range)?.nodes.includes('n4'));

    // 2. SIGKILL the lounge while a rebalance is switching; start it again from its file.
    output = '';
    const rebalance = cli(['rebalance', '--lounge', L]);
    await eventually(async () => /switch \S+: levelled, holding/.test(output), DEADLINE_MS, 'a switch to hold', 20);
    const atKill = onDisk();
    await lounge.kill('SIGKILL');
    const cut = atKill.moves.find((m) => m.state === 'switching') as Move;
    assert.ok(cut, `the file records the switch: ${JSON.stringify(atKill.moves)}`);
    const r = await rebalance;
    assert.notEqual(r.code, 0, 'the CLI reports the lounge going away');
    // The kill came before the one map change: the file still has the old replica, not the new one.
    const fileAfterKill = onDisk();
    const cutRange = fileAfterKill.ranges.find((x) => x.range === cut.range) as { nodes: string[] };
    assert.ok(cutRange.nodes.includes(cut.from as string) && !cutRange.nodes.includes(cut.to as string), JSON.stringify(cutRange));
    assert.equal(fileAfterKill.mapEpoch, atKill.mapEpoch);
    output = '';
    await lounge.start();
    const after2 = await settled('the resumed moves to finish');
    const resumed = after2.find((m) => m.id === cut.id) as Move;
    assert.equal(resumed.state, 'done', JSON.stringify(resumed));
    assert.match(output, new RegExp(`${cut.id} (switching|copying) → `), 'the restarted lounge took the move up again');
    assert.ok((await liveMap()).ranges.find((x) => x.range === cut.range)?.nodes.includes(cut.to as string));
    assert.ok(after2.every((m) => m.state === 'done'), JSON.stringify(after2));

    // 3. SIGKILL the lounge and the target together mid-copy; restart both.
    const onlyOld = (await liveMap()).ranges.find((x) => !x.nodes.includes('n4')) as { range: string; nodes: string[] };
    assert.ok(onlyOld, 'a range n4 does not hold');
    const mv3 = await call(L, 'POST', '/_lounge/moves', { range: onlyOld.range, from: onlyOld.nodes[0], to: 'n4' });
    assert.equal(mv3.status, 202, mv3.text);
    const id3 = mv3.body.moves[0].id as string;
    await eventually(async () => onDisk().moves.some((m) => m.id === id3 && m.state === 'copying'), DEADLINE_MS, 'the third copy to start', 10);
    await Promise.all([lounge.kill('SIGKILL'), n4.kill('SIGKILL')]);
    await n4.start();
    await lounge.start();
    const after3 = await settled('the third move to finish');
    assert.equal(after3.find((m) => m.id === id3)?.state, 'done', JSON.stringify(after3));
    assert.ok((await liveMap()).ranges.find((x) => x.range === onlyOld.range)?.nodes.includes('n4'));

    // 4. A target that stays down: the move rolls back (the map unchanged). The lounge is
    // restarted first with fewer attempts per step, as an operator would edit lounge.json.
    await lounge.kill('SIGKILL');
    const edited = JSON.parse(readFileSync(fx.cluster.configPath, 'utf8')) as Record<string, unknown>;
    edited.elastic = { ...(edited.elastic as object), retryMs: 100, attemptsMax: 3 };
    writeFileSync(fx.cluster.configPath, JSON.stringify(edited, null, 2));
    await lounge.start();
    await n4.kill('SIGKILL');
    const untouched = (await liveMap()).ranges.find((x) => !x.nodes.includes('n4')) as { range: string; nodes: string[] };
    assert.ok(untouched, 'a range n4 does not hold');
    const mv4 = await call(L, 'POST', '/_lounge/moves', { range: untouched.range, from: untouched.nodes[0], to: 'n4' });
    assert.equal(mv4.status, 202, mv4.text);
    const id4 = mv4.body.moves[0].id as string;
    const after4 = await settled('the fourth move to roll back');
    const rolled = after4.find((m) => m.id === id4) as Move;
    assert.equal(rolled.state, 'failed', JSON.stringify(rolled));
    assert.match(rolled.errors.join('\n'), /rolled back: the map is unchanged/);
    assert.deepEqual((await liveMap()).ranges.find((x) => x.range === untouched.range)?.nodes, untouched.nodes);
    assert.deepEqual(onDisk().ranges.find((x) => x.range === untouched.range)?.nodes, untouched.nodes);
    await n4.start();
    await load.feedCaughtUp(CONVERGE_DEADLINE_MS);
  } finally {
    const report = await load.stop();
    console.log(`# load: ${report.requests} requests, ${report.acked.size} docs acknowledged, ${report.failures.length} unanswered while the lounge was down`);
    // The only failures are requests the killed lounge never answered: no error answers.
    const answered = report.failures.filter((f) => !/: no answer: /.test(f));
    assert.deepEqual(answered.slice(0, 20), [], `${answered.length} requests got an error answer`);
    assert.ok(report.acked.size > 100, `enough load: ${report.acked.size} docs acknowledged`);
    acked.push(...loaded, ...report.acked);
  }

  // n distinct replicas everywhere; the file holds the live map; every replica identical.
  const map = await liveMap();
  for (const rg of map.ranges) assert.equal(new Set(rg.nodes).size, map.n, JSON.stringify(rg));
  const file = onDisk();
  assert.equal(file.mapEpoch, map.mapEpoch);
  assert.deepEqual(file.ranges, map.ranges.map((x) => ({ range: x.range, nodes: x.nodes })));
  let difference: string | undefined;
  await eventually(async () => (difference = await replicaDifference(L, db)) === undefined, CONVERGE_DEADLINE_MS, 'identical replicas', 250).catch(async (e: Error) => {
    throw new Error(`${e.message}: ${difference} ${JSON.stringify(await whereAre([/(\S+) \S+$/.exec(difference ?? '')?.[1] ?? ''], db))}`);
  });
  // Every acknowledged write is there, at its acknowledged revision. Only now: `_all_docs` reads
  // one replica per range (as CouchDB's does), and n4, back from phase 4, missed the writes
  // of its downtime until the syncer caught it up (the replicas are identical by now).
  const all = await call(L, 'GET', `/${db}/_all_docs`);
  const revs = new Map((all.body.rows as { id: string; value: { rev: string } }[]).map((x) => [x.id, x.value.rev]));
  // A later revision is fine: an update in flight at a kill can land without its answer.
  const generation = (rev: string) => Number(rev.slice(0, rev.indexOf('-')));
  const lost = acked.filter(([id, rev]) => {
    const got = revs.get(id);
    return got === undefined || (got !== rev && generation(got) <= generation(rev));
  });
  if (lost.length > 0) console.log('# lost:', JSON.stringify(await whereAre(lost.slice(0, 5).map(([id]) => id), db)));
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} acknowledged writes are missing or older`);
  const listed = await cli(['moves', '--lounge', L]);
  assert.equal(listed.code, 0, listed.out);
  assert.match(listed.out, /done/);
});
