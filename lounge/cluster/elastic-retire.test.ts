// After a move, a drain or a node failure (real processes, 4 Chaise nodes, q=4, n=2):
// - `_changes` tokens naming a replica that is down, or that left its range, continue on
//   another replica where the replicator's checkpoints put them (find-source-seq.ts), so a
//   client reading on with its old token gets the new changes, not the whole range again;
// - the old replica's shards are kept at the switch and deleted after `retireAfterMs` — for
//   a move, for a drained and removed node that still runs, and without failing when the
//   removed node is gone (then there is nothing to delete).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type RunningCluster } from './cluster.js';
import { call, eventually } from '../test-support/http.js';
import { decodeSince } from '../changes/since-token.js';
import { movesDone } from '../test-support/cluster-fixture.js';

/** Long enough to look at the old shards after a switch, short enough for the test. */
const RETIRE_AFTER_MS = 2_500;
const DEADLINE_MS = 60_000;
const TEST_TIMEOUT_MS = 180_000;

let cluster: RunningCluster;
let L = '';
let dir = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chaise-retire-'));
  cluster = await startCluster({
    nodes: 4,
    q: 4,
    n: 2,
    port: 0,
    dir,
    inMemory: true,
    tune: {
      health: { failThreshold: 1, backoffBaseMs: 100, backoffMaxMs: 300, probeIntervalMs: 100 },
      sync: { intervalMs: 600_000, debounceMs: 100, enabled: true },
      elastic: { retireAfterMs: RETIRE_AFTER_MS, retryMs: 100, attemptsMax: 20 },
    },
  });
  L = cluster.lounge.url;
});

after(async () => {
  await cluster?.close();
  rmSync(dir, { recursive: true, force: true });
});

const lounge = () => cluster.lounge.lounge;
const nodeProc = (id: string) => cluster.nodes.find((n) => n.id === id);

/** Writes docs through the lounge (201, or 202 while a replica is down). */
async function write(db: string, ids: string[]): Promise<void> {
  const r = await call(L, 'POST', `/${db}/_bulk_docs`, { docs: ids.map((_id) => ({ _id })) });
  assert.ok(r.status === 201 || r.status === 202, r.text);
  for (const row of r.body) assert.ok(row.ok, JSON.stringify(row));
}

/** Anti-entropy over every pair of replicas of `db`, to its end (this writes the checkpoints the translation reads). */
async function syncAll(db: string): Promise<void> {
  assert.equal((await call(L, 'POST', `/${db}/_sync_shards`)).status, 202);
  await new Promise((r) => setTimeout(r, 50));
  await lounge().sync.idle();
}

async function changesSince(db: string, since: string): Promise<{ ids: string[]; last: string }> {
  const r = await call(L, 'GET', `/${db}/_changes?since=${encodeURIComponent(since)}`);
  assert.equal(r.status, 200, r.text);
  return { ids: (r.body.results as { id: string }[]).map((x) => x.id), last: r.body.last_seq };
}

/** The shard databases a node holds for `db`. */
async function shardsOn(node: string, db: string): Promise<string[]> {
  const all = (await call(nodeProc(node)?.url as string, 'GET', '/_all_dbs')).body as string[];
  return all.filter((n) => n.startsWith('lounge_') && n.endsWith(`_${db}`));
}

function retiredOnDisk(): { node: string; range: string }[] {
  return JSON.parse(readFileSync(cluster.configPath, 'utf8')).retired ?? [];
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);

test('a token naming a node that is down continues on another replica from the checkpoints, not from 0', { timeout: TEST_TIMEOUT_MS }, async () => {
  const db = 'down';
  assert.equal((await call(L, 'PUT', `/${db}`)).status, 201);
  await write(db, ids('before', 200));
  await syncAll(db);
  const { ids: all, last: token } = await changesSince(db, '0');
  assert.equal(all.length, 200);
  // A node the token reads some range from goes down.
  const since = decodeSince(token);
  assert.equal(since.kind, 'vector');
  const entries = since.kind === 'vector' ? since.entries : [];
  const victim = entries[0]?.node as string;
  const itsRanges = entries.filter((e) => e.node === victim).map((e) => e.range);
  await nodeProc(victim)?.kill('SIGKILL');
  try {
    const fresh = ids('after', 20);
    await write(db, fresh);
    const next = await changesSince(db, token);
    for (const id of fresh) assert.ok(next.ids.includes(id), `${id} is in the feed`);
    // Without translation the victim's ranges (≈ 50 docs each) would be read again from 0.
    const replayed = next.ids.filter((id) => id.startsWith('before-'));
    assert.ok(replayed.length < 10, `${replayed.length} old changes replayed for the ranges ${itsRanges.join(', ')} of ${victim} (none expected)`);
  } finally {
    await nodeProc(victim)?.start();
    await eventually(async () => lounge().client.isUp(victim), DEADLINE_MS, `${victim} to be up again`);
  }
});

test('a token naming a replica that moved away: read on without replaying the range, before and after its old shards are deleted', { timeout: TEST_TIMEOUT_MS }, async () => {
  const db = 'moved';
  assert.equal((await call(L, 'PUT', `/${db}`)).status, 201);
  await write(db, ids('before', 200));
  await syncAll(db);
  const { last: token } = await changesSince(db, '0');
  const since = decodeSince(token);
  const entry = since.kind === 'vector' ? (since.entries[0] as { range: string; node: string }) : undefined;
  assert.ok(entry);
  const { range, node: from } = entry;
  const to = Object.keys(lounge().config.nodes).find((n) => !lounge().map.nodesOf(range).includes(n)) as string;
  // Changes after the token, then the range moves away from the node the token names.
  const fresh = ids('after', 20);
  await write(db, fresh);
  const mv = await call(L, 'POST', '/_lounge/moves', { range, from, to });
  assert.equal(mv.status, 202, mv.text);
  await movesDone(L, DEADLINE_MS);
  assert.ok(!lounge().map.nodesOf(range).includes(from));
  // Right after the switch the old shard is still there (deleted later, never before).
  assert.ok((await shardsOn(from, db)).includes(`lounge_${range}_${db}`), 'old shard kept at the switch');
  assert.ok(retiredOnDisk().some((r) => r.node === from && r.range === range));
  const first = await changesSince(db, token);
  for (const id of fresh) assert.ok(first.ids.includes(id), `${id} is in the feed (old shard still there)`);
  assert.ok(first.ids.filter((id) => id.startsWith('before-')).length < 10, `no replay while the old shard is kept: ${first.ids.length} rows`);
  // After retireAfterMs the old shard is deleted; the token still does not rewind (checkpoints).
  await eventually(async () => !(await shardsOn(from, db)).includes(`lounge_${range}_${db}`), DEADLINE_MS, 'the old shard to be deleted');
  await eventually(async () => !retiredOnDisk().some((r) => r.node === from && r.range === range), DEADLINE_MS, 'the retired record to go');
  const second = await changesSince(db, token);
  for (const id of fresh) assert.ok(second.ids.includes(id), `${id} is in the feed (old shard deleted)`);
  assert.ok(second.ids.filter((id) => id.startsWith('before-')).length < 10, `no replay after the old shard is deleted: ${second.ids.length} rows`);
  // Every doc is still readable and the replicas of the moved range are complete.
  const docs = await call(L, 'GET', `/${db}/_all_docs`);
  assert.equal(docs.body.rows.length, 220);
});

test('a drained node: its shards are deleted after the delay if it still runs; a removed node that is gone fails nothing', { timeout: TEST_TIMEOUT_MS }, async () => {
  const db = 'drained';
  assert.equal((await call(L, 'PUT', `/${db}`)).status, 201);
  await write(db, ids('d', 80));
  const [first, second] = Object.keys(lounge().config.nodes).filter((n) => lounge().map.rangesOfNode(n).length > 0) as [string, string];
  // Drain `first`; it stays running.
  assert.equal((await call(L, 'DELETE', `/_lounge/nodes/${first}`)).status, 202);
  await movesDone(L, DEADLINE_MS);
  await eventually(async () => !(first in (await call(L, 'GET', '/_lounge/map')).body.nodes), DEADLINE_MS, `${first} to leave the map`);
  assert.ok((await shardsOn(first, db)).length > 0, 'a drained node keeps its shards at first');
  await eventually(async () => (await shardsOn(first, db)).length === 0, DEADLINE_MS, `${first}'s shards to be deleted`);
  await eventually(async () => !retiredOnDisk().some((r) => r.node === first), DEADLINE_MS, `${first}'s retired records to go`);
  // Drain `second`, then it dies before its retire delay is over.
  assert.equal((await call(L, 'DELETE', `/_lounge/nodes/${second}`)).status, 202);
  await movesDone(L, DEADLINE_MS);
  await eventually(async () => !(second in (await call(L, 'GET', '/_lounge/map')).body.nodes), DEADLINE_MS, `${second} to leave the map`);
  assert.ok(retiredOnDisk().some((r) => r.node === second), 'its shards wait for their delay');
  await nodeProc(second)?.kill('SIGKILL');
  await eventually(async () => !retiredOnDisk().some((r) => r.node === second), DEADLINE_MS, 'the gone node\'s records to be dropped');
  // The cluster serves everything on the two nodes left.
  const all = await call(L, 'GET', `/${db}/_all_docs`);
  assert.equal(all.body.rows.length, 80);
  assert.equal(Object.keys(lounge().config.nodes).length, 2);
});
