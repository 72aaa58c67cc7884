// A mixed cluster: the lounge in front of one Chaise node and two pouchdb-server nodes (a
// third-party CouchDB-API server, as npm ships it), q=4, n=2, so some ranges live on Chaise
// and pouchdb-server and some on pouchdb-server only. It must pass the same cluster checks
// as an all-Chaise cluster (test-support/cluster-checks.ts), with a lone Chaise node as the
// reference.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TRIGGERED_SYNC, useCluster } from '../test-support/cluster-fixture.js';
import { call } from '../test-support/http.js';
import { clusterChecks, useChecksTarget } from '../test-support/cluster-checks.js';

// On disk: pouchdb-server's in-memory store orders ids by UTF-16 units, its LevelDB one by UTF-8 bytes as CouchDB does.
const fx = useCluster({ nodes: 3, kinds: ['chaise', 'pouchdb-server', 'pouchdb-server'], q: 4, n: 2, tune: { sync: TRIGGERED_SYNC } });
const target = useChecksTarget(fx);
let L = '';

before(async () => {
  await fx.ready;
  L = fx.url;
});

describe('a mixed cluster (Chaise + pouchdb-server nodes)', () => {
  test('the nodes are what they say, every node holds shards, and the map is healthy', async () => {
    const kinds = await Promise.all(fx.cluster.nodes.map(async (n) => Object.keys((await call(n.url, 'GET', '/')).body)[0]));
    assert.deepEqual(kinds, ['couchdb', 'express-pouchdb', 'express-pouchdb']);
    assert.equal((await call(L, 'PUT', '/mixed-intro')).status, 201);
    for (const n of fx.cluster.nodes) {
      const dbs = (await call(n.url, 'GET', '/_all_dbs')).body as string[];
      assert.ok(dbs.some((d) => /^lounge_[0-9a-f]{8}-[0-9a-f]{8}_mixed-intro$/.test(d)), `${n.id} holds shards: ${JSON.stringify(dbs)}`);
    }
    const health = await call(L, 'GET', '/_lounge/health');
    assert.equal(health.body.status, 'ok', JSON.stringify(health.body));
    assert.deepEqual((await call(L, 'GET', '/_membership')).body.all_nodes, ['n1', 'n2', 'n3']);
  });

  test('CRUD: create, read, update, conflict, delete, missing', async () => {
    await call(L, 'PUT', '/crud');
    const ids = Array.from({ length: 24 }, (_, i) => `doc-${i}`); // spread over every range
    for (const id of ids) {
      const put = await call(L, 'PUT', `/crud/${id}`, { v: 1 });
      assert.equal(put.status, 201, `${id}: ${put.text}`);
      const got = await call(L, 'GET', `/crud/${id}`);
      assert.deepEqual(got.body, { _id: id, _rev: put.body.rev, v: 1 });
      assert.equal((await call(L, 'PUT', `/crud/${id}`, { v: 2 })).status, 409);
      const upd = await call(L, 'PUT', `/crud/${id}`, { _rev: put.body.rev, v: 2 });
      assert.equal(upd.status, 201);
      assert.match(upd.body.rev, /^2-/);
      const del = await call(L, 'DELETE', `/crud/${id}?rev=${upd.body.rev}`);
      assert.equal(del.status, 200);
      const gone = await call(L, 'GET', `/crud/${id}`);
      // CouchDB says "deleted"; pouchdb-server says "missing" for a deleted doc (a range on two of them can only pass that on).
      assert.equal(gone.status, 404);
      assert.ok(['deleted', 'missing'].includes(gone.body.reason), gone.text);
    }
    const missing = await call(L, 'GET', '/crud/never');
    assert.deepEqual([missing.status, missing.body], [404, { error: 'not_found', reason: 'missing' }]);
    const noDb = await call(L, 'GET', '/nope-db/x');
    assert.deepEqual([noDb.status, noDb.body], [404, { error: 'not_found', reason: 'Database does not exist.' }]);
    // pouchdb-server's db info has no doc_del_count, so only doc_count adds up across its shards.
    assert.equal((await call(L, 'GET', '/crud')).body.doc_count, 0);
  });

  test('_bulk_docs, _all_docs and a view with numeric keys over every range', async () => {
    await call(L, 'PUT', '/nums');
    const docs = Array.from({ length: 40 }, (_, i) => ({ _id: `n-${String(i).padStart(2, '0')}`, n: i, odd: i % 2 === 1 }));
    const bulk = await call(L, 'POST', '/nums/_bulk_docs', { docs });
    assert.equal(bulk.status, 201, bulk.text);
    assert.deepEqual(bulk.body.map((r: { id: string; ok: boolean }) => [r.id, r.ok]), docs.map((d) => [d._id, true]));
    const all = await call(L, 'GET', '/nums/_all_docs?limit=5&skip=3');
    assert.deepEqual(all.body.rows.map((r: { id: string }) => r.id), ['n-03', 'n-04', 'n-05', 'n-06', 'n-07']);
    assert.equal(all.body.total_rows, 40);
    const ddoc = { views: { byN: { map: 'function (d) { if (typeof d.n === "number") emit(d.n, d.odd ? 1 : 0); }', reduce: '_sum' } } };
    assert.equal((await call(L, 'PUT', '/nums/_design/v', ddoc)).status, 201);
    const rows = await call(L, 'GET', '/nums/_design/v/_view/byN?reduce=false&startkey=10&endkey=14');
    assert.equal(rows.status, 200, rows.text);
    assert.deepEqual(rows.body.rows.map((r: { key: number; id: string }) => [r.key, r.id]), [10, 11, 12, 13, 14].map((n) => [n, `n-${n}`]));
    const sum = await call(L, 'GET', '/nums/_design/v/_view/byN');
    assert.deepEqual(sum.body.rows, [{ key: null, value: 20 }]);
    const desc = await call(L, 'GET', '/nums/_design/v/_view/byN?reduce=false&descending=true&limit=3');
    assert.deepEqual(desc.body.rows.map((r: { key: number }) => r.key), [39, 38, 37]);
  });
});

// What pouchdb-server itself cannot do, whatever the lounge does (its own answers differ
// from CouchDB's, or it fails): the lounge passes these requests on, so they are left out.
clusterChecks(target, {
  replay:
    'pouchdb-server words many answers differently from CouchDB 3.5 (the lounge passes them on): `_revs_diff` without possible_ancestors, `_bulk_get` missing revs as {missing}, attachment-stub reasons, text/plain content types',
  builtinFilters: 'pouchdb-server 4.2 takes `filter=_selector` and `filter=_design` for design-doc filters, and its process dies on the unhandled 404',
  highIds: 'pouchdb-server\'s `_all_docs` stops before ids from U+FFFD up (it counts them in total_rows but lists none)',
  revHashes: 'pouchdb-server hashes new revisions its own way (generations agree, hashes differ from CouchDB\'s and Chaise\'s)',
  offsets: 'pouchdb-server answers `offset` as the skip, not as the rows before startkey (the lounge sums what nodes say)',
  designDocs: 'pouchdb-server has no `/{db}/_design_docs`',
  delCount: 'pouchdb-server\'s db info has no doc_del_count',
  views:
    'pouchdb-server collates view string keys by code point, not by ICU as CouchDB does, so merged rows follow two orders (its views do answer through the lounge: see the numeric-keys test above)',
  find: 'pouchdb-find answers Mango differently (design docs in results, other warnings and index listings)',
});
