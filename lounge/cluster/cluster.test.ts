// The lounge in front of real node processes: a 3-node, q=8, n=2 cluster (plus one single
// node to compare against), started once for the whole file.
//
// What a client must not be able to tell — apart from the format of sequences — is that it
// talks to a cluster: the recorded CouchDB 3.5 API calls replay through the lounge with the
// same statuses and bodies, and `_all_docs`, `_changes` (as a set) and views answer exactly
// what one node holding the same documents answers (those checks live in
// test-support/cluster-checks.ts, shared with the mixed cluster of mixed.test.ts). Failure
// handling is in failover.test.ts.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TRIGGERED_SYNC, useCluster } from '../test-support/cluster-fixture.js';
import { call } from '../test-support/http.js';
import { crc32, hex8 } from '../placement/crc32.js';
import { clusterChecks, useChecksTarget } from '../test-support/cluster-checks.js';

const fx = useCluster({ nodes: 3, q: 8, n: 2, tune: { sync: TRIGGERED_SYNC } });
const target = useChecksTarget(fx);
let L = '';

before(async () => {
  await fx.ready;
  L = fx.url;
});

describe('introspection', () => {
  test('placement and the CouchDB-shaped endpoints', async () => {
    assert.equal((await call(L, 'PUT', '/intro')).status, 201);
    assert.equal((await call(L, 'PUT', '/intro')).status, 412);
    const joan = await call(L, 'GET', '/intro/_shards/joan');
    assert.equal(joan.body.range, 'e0000000-ffffffff');
    assert.equal(joan.body.nodes.length, 2);
    assert.equal((await call(L, 'GET', '/intro/_shards/robert')).body.range, '60000000-7fffffff');
    const shards = await call(L, 'GET', '/intro/_shards');
    assert.equal(Object.keys(shards.body.shards).length, 8);
    const m = await call(L, 'GET', '/_membership');
    assert.deepEqual(m.body, { all_nodes: ['n1', 'n2', 'n3'], cluster_nodes: ['n1', 'n2', 'n3'] });
    const map = await call(L, 'GET', '/_lounge/map');
    assert.deepEqual(Object.keys(map.body.nodes), ['n1', 'n2', 'n3']);
    assert.equal(map.body.nodes.n1.url, fx.cluster.nodes[0]?.url);
    assert.equal(map.body.ranges.length, 8);
    const health = await call(L, 'GET', '/_lounge/health');
    assert.equal(health.body.status, 'ok');
    const root = await call(L, 'GET', '/');
    assert.equal(root.body.uuid, JSON.parse(readFileSync(fx.cluster.configPath, 'utf8')).serverUuid);
    assert.ok((await call(L, 'GET', '/_all_dbs')).body.includes('intro'));
    // Each shard is a database named lounge_<range>_<db> on exactly its two nodes (a name CouchDB treats as ordinary).
    const onNodes = await Promise.all(fx.cluster.nodes.map(async (n) => (await call(n.url, 'GET', '/_all_dbs')).body as string[]));
    const count = onNodes.flat().filter((name) => /^lounge_[0-9a-f]{8}-[0-9a-f]{8}_intro$/.test(name)).length;
    assert.equal(count, 16);
    assert.equal((await call(L, 'DELETE', '/intro')).status, 200);
    assert.equal((await call(L, 'GET', '/intro')).status, 404);
    assert.ok(!(await call(L, 'GET', '/_all_dbs')).body.includes('intro'));
    assert.equal(hex8(crc32('joan')), 'e0b852df');
  });
});

clusterChecks(target);

describe('compressed request bodies', () => {
  test('gzipped and deflated bodies are decoded by the lounge (couchbackup gzips every body); an unknown coding is 415', async () => {
    const { gzipSync, deflateSync } = await import('node:zlib');
    assert.equal((await call(L, 'PUT', '/gzipped')).status, 201);
    const put = await call(L, 'PUT', '/gzipped/one', gzipSync(JSON.stringify({ n: 1 })), { 'content-encoding': 'gzip' });
    assert.equal(put.status, 201);
    const bulk = await call(L, 'POST', '/gzipped/_bulk_docs', deflateSync(JSON.stringify({ docs: [{ _id: 'two' }, { _id: 'three' }] })), { 'content-encoding': 'deflate' });
    assert.equal(bulk.status, 201);
    const keys = await call(L, 'POST', '/gzipped/_all_docs', gzipSync(JSON.stringify({ keys: ['one', 'two', 'three'] })), { 'content-encoding': 'gzip' });
    assert.deepEqual(keys.body.rows.map((r: { id: string }) => r.id), ['one', 'two', 'three']);
    assert.equal((await call(L, 'GET', '/gzipped/one')).body.n, 1);
    const br = await call(L, 'PUT', '/gzipped/br', JSON.stringify({}), { 'content-encoding': 'br' });
    assert.deepEqual([br.status, br.body], [415, { error: 'bad_content_type', reason: 'br is not a supported content encoding.' }]);
    const corrupt = await call(L, 'PUT', '/gzipped/bad', JSON.stringify({}), { 'content-encoding': 'gzip' });
    assert.deepEqual([corrupt.status, corrupt.body.reason], [400, 'Request body is not properly gzipped.']);
  });
});
