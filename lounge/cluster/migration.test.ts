// The migration story (issue 14): a lounge in front of third-party nodes only (two
// pouchdb-server processes, q=4, n=2), under steady load — writers (PUT and `_bulk_docs`),
// readers and a continuous `_changes` client — then two Chaise nodes join, `rebalance` runs,
// and the pouchdb-server nodes are drained and removed, one after the other.
//
// Promised: no request fails (2xx; 202 where `w` is not met); every acknowledged write is on
// both Chaise nodes at the end (its acknowledged revision is a leaf there); the `_changes`
// client saw every doc; both replicas of every range are identical; the map holds the Chaise
// nodes only.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAST_HEALTH, movesDone, TRIGGERED_SYNC, useCluster } from '../test-support/cluster-fixture.js';
import { call, eventually } from '../test-support/http.js';
import { startLoad } from '../test-support/load.js';

const WRITERS = 8;
const READERS = 2;
const MOVES_DEADLINE_MS = 120_000;
const CONVERGE_DEADLINE_MS = 30_000;
const TEST_TIMEOUT_MS = 300_000;

// n1, n2: pouchdb-server (LevelDB); n3, n4: Chaise nodes that hold nothing yet.
const fx = useCluster({
  nodes: 2,
  kinds: ['pouchdb-server', 'pouchdb-server'],
  q: 4,
  n: 2,
  spareNodes: 2,
  tune: { health: { ...FAST_HEALTH, failThreshold: 2 }, sync: TRIGGERED_SYNC, elastic: { retireAfterMs: 600_000, retryMs: 200, attemptsMax: 20 } },
});
let L = '';
const chaise = () => fx.spares;

const t0 = Date.now();
function phase(what: string): void {
  console.log(`# ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
}

/** Each doc's leaf revisions on one replica of one shard, read from the node itself. */
async function shardLeafRevs(url: string, shard: string): Promise<Map<string, Set<string>>> {
  const r = await call(url, 'GET', `/${encodeURIComponent(shard)}/_changes?style=all_docs`);
  assert.equal(r.status, 200, `${url} ${shard}: ${r.text}`);
  return new Map((r.body.results as { id: string; changes: { rev: string }[] }[]).map((x) => [x.id, new Set(x.changes.map((c) => c.rev))]));
}

/** Every doc of one replica with its winning revision and conflicts: what "identical replicas" compares. */
async function shardLeaves(url: string, shard: string): Promise<string> {
  const r = await call(url, 'GET', `/${encodeURIComponent(shard)}/_all_docs?include_docs=true&conflicts=true`);
  assert.equal(r.status, 200, `${url} ${shard}: ${r.text}`);
  return (r.body.rows as { id: string; value: { rev: string }; doc?: { _conflicts?: string[] } }[])
    .map((x) => `${x.id} ${x.value.rev} ${[...(x.doc?._conflicts ?? [])].sort().join(',')}`)
    .join('\n');
}

test('from pouchdb-server nodes to Chaise nodes under load: add, rebalance, drain and remove, nothing fails', { timeout: TEST_TIMEOUT_MS }, async () => {
  await fx.ready;
  L = fx.url;
  const db = 'migrate';
  assert.equal((await call(L, 'PUT', `/${db}`)).status, 201);
  const load = startLoad(L, db, { writers: WRITERS, readers: READERS });
  let stopped = false;
  try {
    await new Promise((r) => setTimeout(r, 1_000));
    phase('load running on pouchdb-server nodes');
    for (const n of chaise()) {
      const add = await call(L, 'PUT', `/_lounge/nodes/${n.id}`, { url: n.url });
      assert.equal(add.status, 201, add.text);
    }
    const rb = await call(L, 'POST', '/_lounge/rebalance');
    assert.equal(rb.status, 202, rb.text);
    assert.equal(rb.body.moves.length, 4, 'half of the 8 replicas move to the Chaise nodes');
    await movesDone(L, MOVES_DEADLINE_MS);
    phase(`rebalanced (${load.report.acked.size} docs acknowledged)`);
    for (const id of ['n1', 'n2']) {
      const drain = await call(L, 'DELETE', `/_lounge/nodes/${id}`);
      assert.equal(drain.status, 202, drain.text);
      await movesDone(L, MOVES_DEADLINE_MS);
      await eventually(async () => !(id in (await call(L, 'GET', '/_lounge/map')).body.nodes), 10_000, `${id} to leave the map`);
      phase(`${id} drained and removed (${load.report.acked.size} docs acknowledged)`);
    }
    const map = (await call(L, 'GET', '/_lounge/map')).body;
    assert.deepEqual(Object.keys(map.nodes).sort(), ['n3', 'n4']);
    for (const r of map.ranges as { nodes: string[] }[]) assert.deepEqual([...r.nodes].sort(), ['n3', 'n4']);
    await new Promise((r) => setTimeout(r, 500));
    await load.feedCaughtUp(CONVERGE_DEADLINE_MS);
    phase('feed caught up');
  } finally {
    const report = await load.stop();
    stopped = true;
    assert.deepEqual(report.failures.slice(0, 20), [], `${report.failures.length} of ${report.requests} requests failed`);
    assert.ok(report.acked.size > 100, `enough load: ${report.acked.size} docs acknowledged`);
    // Every acknowledged write is on both Chaise nodes: its acknowledged revision is a leaf
    // there (copies that got 202 arrive through the syncer's hinted handoff).
    const lounge = fx.cluster.lounge.lounge;
    let lost: string[] = [];
    await eventually(
      async () => {
        const leaves = new Map<string, Set<string>>();
        for (const range of lounge.map.ranges) {
          const shard = lounge.map.shardName(range, db);
          for (const n of chaise()) for (const [id, revs] of await shardLeafRevs(n.url, shard)) leaves.set(`${n.id} ${id}`, revs);
        }
        lost = chaise().flatMap((n) => [...report.acked].filter(([id, rev]) => !leaves.get(`${n.id} ${id}`)?.has(rev)).map(([id, rev]) => `${n.id} ${id} ${rev}`));
        // A doc a node's feed did not list (yet) is asked for directly: its leaves, by id.
        const still: string[] = [];
        for (const l of lost) {
          const [node, id, rev] = l.split(' ') as [string, string, string];
          const url = chaise().find((n) => n.id === node)?.url as string;
          const shard = lounge.map.shardName(lounge.map.rangeOf(id, db), db);
          const r = await call(url, 'GET', `/${encodeURIComponent(shard)}/${encodeURIComponent(id)}?open_revs=all`, undefined, { accept: 'application/json' });
          if (!(Array.isArray(r.body) && r.body.some((x: { ok?: { _rev?: string } }) => x.ok?._rev === rev))) still.push(l);
        }
        lost = still;
        return lost.length === 0;
      },
      CONVERGE_DEADLINE_MS,
      'every acknowledged write on both Chaise nodes',
      250,
    ).catch((e: Error) => {
      throw new Error(`${e.message}: ${lost.length} missing, e.g. ${lost.slice(0, 5).join('; ')}`);
    });
    // (The feed saw every doc acknowledged up to feedCaughtUp, above.) Both replicas of every range are identical.
    await eventually(
      async () => {
        for (const range of lounge.map.ranges) {
          const shard = lounge.map.shardName(range, db);
          const [a, b] = await Promise.all(chaise().map((n) => shardLeaves(n.url, shard)));
          if (a !== b) return false;
        }
        return true;
      },
      CONVERGE_DEADLINE_MS,
      'both replicas of every range to be identical',
      250,
    );
    phase('checked');
  }
  assert.ok(stopped);
});
