// Losing a node, and getting it back: a 3-node, q=8, n=2 cluster behind the lounge, with
// PouchDB (memory adapter) live-syncing both ways and a continuous `_changes` client.
//
// The promises under test are CouchDB's for a cluster with n=2: with one node killed
// (SIGKILL, no goodbye) every range still has a replica, so every read and write still
// works — writes to ranges that lost a replica answer 202 instead of 201 — the continuous
// feed keeps delivering, and PouchDB keeps syncing. When the node comes back, the syncer
// brings it up to date by itself, and every replica of every range ends identical.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { call, eventually, onFeedRows } from '../test-support/http.js';
import { FAST_HEALTH, replicaDifference, TRIGGERED_SYNC, useCluster } from '../test-support/cluster-fixture.js';
import { memoryPouch } from '../test-support/pouch.js';

/** How long a write may take to reach the other side of a live sync (CouchDB: well under 1 s). */
const LIVE_DEADLINE_MS = 8_000;
/** How long the syncer may take to heal a restarted node. */
const HEAL_DEADLINE_MS = 20_000;

const fx = useCluster({ nodes: 3, q: 8, n: 2, tune: { health: FAST_HEALTH, sync: TRIGGERED_SYNC } });
let L = '';

before(async () => {
  await fx.ready;
  L = fx.url;
});

/** One doc id per range: ids are tried until each of the 8 ranges has one. */
function idPerRange(prefix: string): Map<string, string> {
  const map = fx.cluster.lounge.lounge.map;
  const out = new Map<string, string>();
  for (let i = 0; out.size < map.ranges.length && i < 10_000; i++) {
    const id = `${prefix}-${i}`;
    const r = map.rangeOf(id).name;
    if (!out.has(r)) out.set(r, id);
  }
  return out;
}

/** A continuous `_changes` reader that records the ids it sees. */
function follow(db: string): { ids: Set<string>; stop(): void } {
  const ids = new Set<string>();
  const req = http.get(`${L}/${db}/_changes?feed=continuous&heartbeat=500&since=now`, (res) => {
    onFeedRows<{ id: string }>(res, (row) => ids.add(row.id));
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
  return { ids, stop: () => req.destroy() };
}

test('a node is killed and restarted: everything keeps working and the replicas converge', async () => {
  const db = 'fail';
  assert.equal((await call(L, 'PUT', `/${db}`)).status, 201);
  const local = memoryPouch('local');
  const sync = local.sync(`${L}/${db}`, { live: true, retry: true, back_off_function: () => 200 });
  const feed = follow(db);
  try {
    // PouchDB → lounge and lounge → PouchDB while all nodes are up.
    await local.put({ _id: 'from-pouch-1', v: 1 });
    assert.equal((await call(L, 'PUT', `/${db}/from-lounge-1`, { v: 1 })).status, 201);
    await eventually(async () => (await call(L, 'GET', `/${db}/from-pouch-1`)).status === 200, LIVE_DEADLINE_MS, 'a PouchDB write to reach the lounge');
    await eventually(async () => local.get('from-lounge-1').then(() => true, () => false), LIVE_DEADLINE_MS, 'a lounge write to reach PouchDB');

    // Kill n2 without warning.
    const victim = fx.cluster.nodes[1];
    assert.ok(victim);
    await victim.kill('SIGKILL');

    // Every range still takes writes and reads; ranges that lost a replica answer 202.
    const ids = idPerRange('down');
    const map = fx.cluster.lounge.lounge.map;
    let accepted = 0;
    for (const [range, id] of ids) {
      const w = await call(L, 'PUT', `/${db}/${id}`, { range });
      const hasVictim = map.nodesOf(range).includes('n2');
      assert.equal(w.status, hasVictim ? 202 : 201, `write to ${range} (${hasVictim ? 'lost a replica' : 'intact'}): ${w.text}`);
      if (hasVictim) accepted++;
      const r = await call(L, 'GET', `/${db}/${id}`);
      assert.equal(r.status, 200, `read from ${range}`);
      assert.equal(r.body.range, range);
    }
    assert.ok(accepted > 0 && accepted < 8, 'some ranges lost a replica, some did not');
    const all = await call(L, 'GET', `/${db}/_all_docs`);
    assert.equal(all.status, 200);
    assert.ok(ids.size === 8 && [...ids.values()].every((id) => all.body.rows.some((r: { id: string }) => r.id === id)));

    // The continuous feed saw every write made while the node was down.
    await eventually(async () => [...ids.values()].every((id) => feed.ids.has(id)), LIVE_DEADLINE_MS, 'the continuous feed to deliver every write');

    // PouchDB keeps syncing both ways.
    await local.put({ _id: 'from-pouch-2', v: 2 });
    assert.ok([201, 202].includes((await call(L, 'PUT', `/${db}/from-lounge-2`, { v: 2 })).status));
    await eventually(async () => (await call(L, 'GET', `/${db}/from-pouch-2`)).status === 200, LIVE_DEADLINE_MS, 'PouchDB → lounge with a node down');
    await eventually(async () => local.get('from-lounge-2').then(() => true, () => false), LIVE_DEADLINE_MS, 'lounge → PouchDB with a node down');

    // Bring it back: the syncer heals it without being asked.
    await victim.restart();
    await eventually(async () => fx.cluster.lounge.lounge.health.isUp('n2'), HEAL_DEADLINE_MS, 'the lounge to see n2 again');
    await eventually(async () => (await replicaDifference(L, db)) === undefined, HEAL_DEADLINE_MS, 'every replica of every range to hold the same revisions', 250);
    // And they hold everything that was written.
    const everything = (await call(L, 'GET', `/${db}/_all_docs`)).body.rows.map((r: { id: string }) => r.id);
    for (const id of ['from-pouch-1', 'from-pouch-2', 'from-lounge-1', 'from-lounge-2', ...ids.values()]) assert.ok(everything.includes(id), id);
  } finally {
    feed.stop();
    sync.cancel();
    await local.destroy();
  }
});

test('a replica that missed a revision does not refuse the next edit of it', async () => {
  const db = 'lagging';
  assert.equal((await call(L, 'PUT', `/${db}`)).status, 201);
  const first = await call(L, 'PUT', `/${db}/doc`, { v: 1 });
  assert.equal(first.status, 201);
  const lounge = fx.cluster.lounge.lounge;
  const range = lounge.map.rangeOf('doc', db);
  const leader = lounge.reader.order(db, range)[0] as string;
  const url = lounge.config.nodes[leader]?.url as string;
  const shard = `/${encodeURIComponent(lounge.map.shardName(range, db))}`;
  // The leader loses the doc, as a node that was down when it was written never had it.
  assert.equal((await call(url, 'POST', `${shard}/_purge`, { doc: [first.body.rev] })).status, 201);
  assert.equal((await call(url, 'GET', `${shard}/doc`)).status, 404);
  // The edit is made on the replica that has its parent, and copied to the leader.
  const second = await call(L, 'PUT', `/${db}/doc`, { _rev: first.body.rev, v: 2 });
  assert.equal(second.status, 201, second.text);
  assert.equal((await call(url, 'GET', `${shard}/doc`)).body._rev, second.body.rev);
  // A real conflict is still one: every replica knows the old revision.
  const stale = await call(L, 'PUT', `/${db}/doc`, { _rev: first.body.rev, v: 3 });
  assert.equal(stale.status, 409);
  assert.equal(stale.body.error, 'conflict');
});
