// Partitioned databases over HTTP, after CouchDB's own Elixir tests (partition_crud,
// partition_all_docs, partition_view, partition_mango, partition_size, partition_size_limit,
// partition_ddoc): document id rules, `GET /db/_partition/p`, partition-scoped `_all_docs`, views
// and `_find`, partitioned and global design docs, and the per-partition size limit. A fast-check
// property checks that every partition query equals the global query filtered to the partition.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { inProcessNode, type TestNode } from './helpers/in-process-node.js';

type Req = TestNode['request'];
const JSON_TYPE = 'application/json';

/** PartitionHelpers.create_partition_docs: 100 docs, even numbers in `pk1`, odd ones in `pk2`. */
async function createPartitionDocs(request: Req, db: string, pk1 = 'foo', pk2 = 'bar'): Promise<void> {
  const docs = [];
  for (let i = 1; i <= 100; i++) {
    docs.push({ _id: `${i % 2 === 0 ? pk1 : pk2}:${i}`, value: i, some: 'field', group: i % 3 === 0 ? 'one' : 'two' });
  }
  const res = await request.post(`/${db}/_bulk_docs`).set('content-type', JSON_TYPE).send({ docs });
  assert.equal(res.status, 201);
}

async function createDdoc(request: Req, db: string, extra: Record<string, unknown> = {}): Promise<void> {
  const ddoc = { views: { some: { map: 'function(doc) { if (doc.some) { emit(doc.value, doc.some); } }' } }, ...extra };
  const res = await request.put(`/${db}/_design/mrtest`).set('content-type', JSON_TYPE).send(ddoc);
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

function ids(body: { rows: { id: string }[] }): string[] {
  return body.rows.map((r) => r.id);
}

function partitionsOf(body: { rows: { id: string }[] }): string[] {
  return [...new Set(body.rows.map((r) => r.id.split(':')[0] as string))];
}

let n = 0;
async function newPartitionedDb(request: Req): Promise<string> {
  const db = `pdb-${++n}`;
  await request.put(`/${db}?partitioned=true`).expect(201);
  return db;
}

test('partition_crud: ids, info, bulk, purge', async () => {
  const { request, close } = await inProcessNode();
  try {
    const db = await newPartitionedDb(request);
    assert.deepEqual((await request.get(`/${db}`)).body.props, { partitioned: true });
    const put = (id: string) => request.put(`/${db}/${id}`).set('content-type', JSON_TYPE).send({ a: 1 });
    assert.deepEqual((await put('not-partitioned')).body, { error: 'illegal_docid', reason: 'Doc id must be of form partition:id' });
    assert.deepEqual((await put('_bad:partitioned')).body, { error: 'illegal_docid', reason: 'Only reserved document ids may start with underscore.' });
    assert.deepEqual((await put('bad:')).body, { error: 'illegal_docid', reason: 'Document id must not be empty' });
    assert.equal((await put('my-partition:doc')).status, 201);
    assert.equal((await request.get(`/${db}/my-partition:doc`)).body._id, 'my-partition:doc');
    // POST without a partition, and the bare `_partition` path.
    assert.equal((await request.post(`/${db}`).set('content-type', JSON_TYPE).send({ _id: 'nopart' })).status, 400);
    assert.deepEqual((await request.get(`/${db}/_partition`)).status, 400);
    // _bulk_docs: one bad id fails the request, before anything is written.
    for (const [id, reason] of [
      ['foo1', 'Doc id must be of form partition:id'],
      ['_foo:1', 'Only reserved document ids may start with underscore.'],
      ['foo:', 'Document id must not be empty'],
    ]) {
      const res = await request.post(`/${db}/_bulk_docs`).set('content-type', JSON_TYPE).send({ docs: [{ _id: 'ok:1' }, { _id: id }] });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { error: 'illegal_docid', reason });
    }
    assert.equal((await request.get(`/${db}/ok:1`)).status, 404);
    const bulk = await request.post(`/${db}/_bulk_docs`).set('content-type', JSON_TYPE).send({ docs: [{ _id: 'foo:1' }, { _id: 'bar:1' }] });
    assert.equal(bulk.status, 201);
    // _bulk_get of an id that cannot be in the database.
    const bg = await request.post(`/${db}/_bulk_get`).set('content-type', JSON_TYPE).send({ docs: [{ id: 'my-partition-post' }] });
    assert.deepEqual(bg.body, {
      results: [{ id: 'my-partition-post', docs: [{ error: { id: 'my-partition-post', rev: null, error: 'illegal_docid', reason: 'Doc id must be of form partition:id' } }] }],
    });
    // Design and _local docs need no partition.
    assert.equal((await put('_design/x')).status, 201);
    assert.equal((await put('_local/x')).status, 201);
    // Purge: a partitioned doc goes; an id without a partition is refused.
    const rev = (await request.get(`/${db}/foo:1`)).body._rev as string;
    assert.equal((await request.post(`/${db}/_purge`).set('content-type', JSON_TYPE).send({ 'foo:1': [rev] })).status, 201);
    assert.equal((await request.get(`/${db}/foo:1`)).status, 404);
    const bad = await request.post(`/${db}/_purge`).set('content-type', JSON_TYPE).send({ no_partition: ['1-967a00dff5e02add41819138abb3284d'] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'illegal_docid');
    // Database creation parameters.
    assert.deepEqual((await request.put('/bad-db?partitioned=tru')).body, { error: 'bad_request', reason: 'Invalid `partitioned` parameter' });
    await request.delete('/_replicator').expect(200);
    const sys = await request.put('/_replicator?partitioned=true');
    assert.equal(sys.status, 400);
    assert.match(sys.body.reason, /Cannot partition a system database/);
    await request.put('/_replicator').expect(201);
  } finally {
    await close();
  }
});

test('partition_size: GET /db/_partition/p counts docs, deletions and sizes', async () => {
  const { request, close } = await inProcessNode();
  try {
    const db = await newPartitionedDb(request);
    const info = async () => (await request.get(`/${db}/_partition/foo`)).body;
    assert.deepEqual(await info(), { db_name: db, sizes: { active: 0, external: 0 }, partition: 'foo', doc_count: 0, doc_del_count: 0 });
    const body = { n: 1, g: 'x' };
    const r1 = await request.put(`/${db}/foo:1`).set('content-type', JSON_TYPE).send(body);
    await request.put(`/${db}/bar:1`).set('content-type', JSON_TYPE).send(body);
    let i = await info();
    assert.equal(i.doc_count, 1);
    assert.equal(i.sizes.external, JSON.stringify(body).length);
    await request.delete(`/${db}/foo:1?rev=${r1.body.rev}`).expect(200);
    i = await info();
    assert.equal(i.doc_count, 0);
    assert.equal(i.doc_del_count, 1);
    assert.equal(i.sizes.external, 0);
    assert.equal((await request.get(`/${db}/_partition/bar`)).body.doc_count, 1);
    // The database's external size is its partitions' (partition_size "attachments don't affect other partitions").
    const att = { _attachments: { 'foo.txt': { content_type: 'text/plain', data: Buffer.from('This is a text document to save').toString('base64') } } };
    await request.put(`/${db}/baz:att`).set('content-type', JSON_TYPE).send(att).expect(201);
    const sizes = await Promise.all(['foo', 'bar', 'baz'].map(async (p) => (await request.get(`/${db}/_partition/${p}`)).body.sizes.external as number));
    assert.ok((sizes[2] as number) > 31);
    assert.equal((await request.get(`/${db}`)).body.sizes.external, sizes.reduce((a, b) => a + b, 0));
    assert.equal((await request.get(`/${db}/_partition/_bar`)).body.error, 'illegal_partition');
    assert.equal((await request.post(`/${db}/_partition/_bar`)).body.error, 'illegal_partition');
    assert.equal((await request.put(`/${db}/_partition/bar`)).status, 405);
  } finally {
    await close();
  }
});

test('partition_all_docs: one partition, with ranges, limits, keys and descending', async () => {
  const { request, close } = await inProcessNode();
  try {
    const db = await newPartitionedDb(request);
    await createPartitionDocs(request, db);
    const url = `/${db}/_partition/foo/_all_docs`;
    let res = await request.get(url);
    assert.equal(res.status, 200);
    assert.deepEqual(partitionsOf(res.body), ['foo']);
    assert.equal(res.body.rows.length, 50);
    assert.equal(res.body.total_rows, 50);
    res = await request.get(url).query({ start_key: '"foo:12"', end_key: '"foo:2"' });
    assert.deepEqual(ids(res.body), ['foo:12', 'foo:14', 'foo:16', 'foo:18', 'foo:2']);
    assert.equal(res.body.offset, 2);
    res = await request.get(url).query({ limit: 5, skip: 1 });
    assert.deepEqual(ids(res.body), ['foo:100', 'foo:12', 'foo:14', 'foo:16', 'foo:18']);
    res = await request.get(url).query({ descending: true, limit: 3 });
    assert.deepEqual(ids(res.body), ['foo:98', 'foo:96', 'foo:94']);
    assert.equal(res.body.offset, 0);
    res = await request.get(url).query({ key: '"foo:22"' });
    assert.deepEqual(ids(res.body), ['foo:22']);
    // A range outside the partition is empty, not another partition's rows.
    res = await request.get(url).query({ start_key: '"bar"', end_key: '"bar:9"' });
    assert.deepEqual(res.body.rows, []);
    res = await request.get(url).query({ start_key: '"foo:98"' });
    assert.deepEqual(ids(res.body), ['foo:98']);
    res = await request.post(url).set('content-type', JSON_TYPE).send({ keys: ['foo:2', 'bar:1', 'foo:4'] });
    assert.deepEqual(res.body.rows.map((r: { key: string; error?: string }) => r.error ?? r.key), ['foo:2', 'not_found', 'foo:4']);
    assert.equal((await request.get(`/${db}/_partition/_foo/_all_docs`)).status, 400);
    assert.equal((await request.get(url).query({ partition: 'bar' })).body.reason, 'Conflicting value for `partition` in query string');
    await request.put('/plain').expect(201);
    assert.deepEqual((await request.get('/plain/_partition/foo/_all_docs')).body, { error: 'bad_request', reason: 'database is not partitioned' });
  } finally {
    await close();
  }
});

test('partition_view: partitioned and global design docs', async () => {
  const { request, close } = await inProcessNode();
  try {
    const db = await newPartitionedDb(request);
    await createPartitionDocs(request, db);
    await createDdoc(request, db);
    const url = `/${db}/_partition/foo/_design/mrtest/_view/some`;
    let res = await request.get(url);
    assert.deepEqual(partitionsOf(res.body), ['foo']);
    assert.equal(res.body.total_rows, 50);
    assert.deepEqual(partitionsOf((await request.get(`/${db}/_partition/bar/_design/mrtest/_view/some`)).body), ['bar']);
    assert.deepEqual((await request.get(url).query({ start_key: '"foo:12"' })).body.rows, []);
    res = await request.get(url).query({ start_key: 12, end_key: 20 });
    assert.deepEqual(ids(res.body), ['foo:12', 'foo:14', 'foo:16', 'foo:18', 'foo:20']);
    assert.equal(res.body.offset, 5);
    res = await request.post(url).set('content-type', JSON_TYPE).send({ keys: [2, 4, 6] });
    assert.deepEqual(ids(res.body), ['foo:2', 'foo:4', 'foo:6']);
    res = await request.get(url).query({ descending: true, limit: 5 });
    assert.deepEqual(ids(res.body), ['foo:100', 'foo:98', 'foo:96', 'foo:94', 'foo:92']);
    res = await request.get(url).query({ skip: 5, limit: 5 });
    assert.deepEqual(ids(res.body), ['foo:12', 'foo:14', 'foo:16', 'foo:18', 'foo:20']);
    assert.deepEqual(ids((await request.get(url).query({ key: 22 })).body), ['foo:22']);
    res = await request.get(url).query({ include_docs: true, key: 22 });
    assert.equal(res.body.rows[0].doc._id, 'foo:22');
    // The partition as a query parameter is the same query.
    assert.deepEqual(ids((await request.get(`/${db}/_design/mrtest/_view/some`).query({ partition: 'foo', key: 22 })).body), ['foo:22']);
    // A partitioned design doc refuses global queries; bad partitions are refused.
    res = await request.get(`/${db}/_design/mrtest/_view/some`);
    assert.equal(res.status, 400);
    assert.match(res.body.reason, /mandatory for queries to this view\./);
    assert.equal((await request.get(`/${db}/_partition/_bar/_design/mrtest/_view/some`)).status, 400);
    // An empty partition (`_partition//…`) is chttpd's empty path segment: 400, not a missing route.
    const empty = await request.get(`/${db}/_partition//_design/mrtest/_view/some`);
    assert.deepEqual([empty.status, empty.body.error], [400, 'illegal_partition']);
    assert.equal((await request.get(`/${db}/_partition/foo/a/b/c/d/e/f`)).status, 404);
    assert.equal((await request.get(`/${db}/_design/mrtest/_view/some`).query({ partition: '_bar' })).status, 400);
    // A global design doc in the same database.
    const global = { views: { some: { map: 'function(doc) { if (doc.some) { emit(doc.value, doc.some); } }' } }, options: { partitioned: false } };
    await request.put(`/${db}/_design/global`).set('content-type', JSON_TYPE).send(global).expect(201);
    res = await request.get(`/${db}/_design/global/_view/some`);
    assert.equal(res.body.rows.length, 100);
    res = await request.get(`/${db}/_partition/foo/_design/global/_view/some`);
    assert.equal(res.status, 400);
    assert.match(res.body.reason, /is not supported in this design doc/);
    // startkey_docid/endkey_docid within one key.
    const byField = { views: { some: { map: 'function(doc) { if (doc.some) { emit(doc.some); } }' } } };
    await request.put(`/${db}/_design/byfield`).set('content-type', JSON_TYPE).send(byField).expect(201);
    res = await request
      .get(`/${db}/_partition/foo/_design/byfield/_view/some`)
      .query({ startkey: '"field"', endkey: '"field"', startkey_docid: 'foo:18', endkey_docid: 'foo:24' });
    assert.deepEqual(ids(res.body), ['foo:18', 'foo:2', 'foo:20', 'foo:22', 'foo:24']);
    // Reduce with group levels (partition_view_test "query with reduce works").
    const red = { views: { some: { map: 'function(doc) { if (doc.group) { emit([doc.some, doc.group], 1); } }', reduce: '_count' } } };
    await request.put(`/${db}/_design/red`).set('content-type', JSON_TYPE).send(red).expect(201);
    const rurl = `/${db}/_partition/foo/_design/red/_view/some`;
    assert.deepEqual((await request.get(rurl).query({ reduce: true, group_level: 1 })).body.rows, [{ key: ['field'], value: 50 }]);
    const two = [
      { key: ['field', 'one'], value: 16 },
      { key: ['field', 'two'], value: 34 },
    ];
    assert.deepEqual((await request.get(rurl).query({ reduce: true, group_level: 2 })).body.rows, two);
    assert.deepEqual((await request.get(rurl).query({ reduce: true, group: true })).body.rows, two);
    assert.deepEqual((await request.get(rurl)).body.rows, [{ key: null, value: 50 }]);
    // partition_ddoc: the partitioned option is refused in a plain database, and must be a boolean.
    await request.put('/plain').expect(201);
    res = await request.put('/plain/_design/p').set('content-type', JSON_TYPE).send({ options: { partitioned: true }, views: {} });
    assert.deepEqual(res.body, { error: 'invalid_design_doc', reason: 'partitioned option cannot be true in a non-partitioned database.' });
    res = await request.put(`/${db}/_design/p`).set('content-type', JSON_TYPE).send({ options: { partitioned: 'yes' } });
    assert.equal(res.status, 400);
    // A view update after a write in the partition.
    await request.put(`/${db}/foo:200`).set('content-type', JSON_TYPE).send({ value: 200, some: 'field' }).expect(201);
    assert.deepEqual(ids((await request.get(url).query({ key: 200 })).body), ['foo:200']);
  } finally {
    await close();
  }
});

test('partition_mango: partitioned indexes, partition _find and _explain', async () => {
  const { request, close } = await inProcessNode();
  try {
    const db = await newPartitionedDb(request);
    await createPartitionDocs(request, db);
    const find = (path: string, body: object) => request.post(`/${db}/${path}`).set('content-type', JSON_TYPE).send(body);
    // Without an index: the partition's _all_docs range.
    let res = await find('_partition/foo/_find', { selector: { value: { $gte: 6, $lt: 16 } } });
    assert.deepEqual(res.body.docs.map((d: { _id: string }) => d._id), ['foo:10', 'foo:12', 'foo:14', 'foo:6', 'foo:8']);
    res = await find('_index', { index: { fields: ['value'] }, name: 'v', ddoc: 'v' });
    assert.equal(res.body.result, 'created');
    res = await find('_partition/foo/_find', { selector: { value: { $gte: 6, $lt: 16 } }, limit: 3 });
    assert.deepEqual(res.body.docs.map((d: { _id: string }) => d._id), ['foo:6', 'foo:8', 'foo:10']);
    res = await find('_partition/foo/_find', { selector: { value: { $gte: 6, $lt: 16 } }, limit: 3, bookmark: res.body.bookmark });
    assert.deepEqual(res.body.docs.map((d: { _id: string }) => d._id), ['foo:12', 'foo:14']);
    res = await find('_partition/foo/_explain', { selector: { value: { $gte: 6 } } });
    assert.equal(res.body.index.name, 'v');
    assert.equal(res.body.index.partitioned, true);
    assert.equal(res.body.partitioned, true);
    assert.equal(res.body.mrargs.partition, 'foo');
    // The global query cannot use the partitioned index.
    res = await find('_explain', { selector: { value: { $gte: 6 } } });
    assert.equal(res.body.index.name, '_all_docs');
    res = await find('_find', { selector: { value: { $gte: 98 } } });
    assert.deepEqual(res.body.docs.map((d: { _id: string }) => d._id), ['bar:99', 'foo:100', 'foo:98']);
    // A global index in a partitioned database.
    res = await find('_index', { index: { fields: ['value'] }, name: 'g', ddoc: 'g', partitioned: false });
    assert.equal(res.body.result, 'created');
    res = await find('_explain', { selector: { value: { $gte: 6 } } });
    assert.equal(res.body.index.name, 'g');
    assert.equal(res.body.index.partitioned, false);
    const listed = (await request.get(`/${db}/_index`)).body.indexes as { name: string; partitioned?: boolean }[];
    assert.deepEqual(listed.map((i) => [i.name, i.partitioned]), [['_all_docs', undefined], ['g', false], ['v', true]]);
    // Sorting needs a partitioned index in a partition query.
    res = await find('_partition/foo/_find', { selector: { some: 'field' }, sort: ['group'] });
    assert.deepEqual(res.body, { error: 'no_usable_index', reason: 'No partitioned index exists for this sort, try indexing by the sort fields.' });
  } finally {
    await close();
  }
});

test('partition_size_limit: a full partition takes no growth', async () => {
  const MAX = 10_240;
  const { request, close } = await inProcessNode({ limits: { maxPartitionBytes: MAX } });
  try {
    const db = await newPartitionedDb(request);
    const value = '0'.padStart(1024);
    const docs = Array.from({ length: 15 }, (_, i) => ({ _id: `foo:${String(i + 1).padStart(4, '0')}`, value }));
    assert.equal((await request.post(`/${db}/_bulk_docs`).set('content-type', JSON_TYPE).send({ docs })).status, 201);
    assert.ok((await request.get(`/${db}/_partition/foo`)).body.sizes.external >= MAX);
    let res = await request.post(`/${db}`).set('content-type', JSON_TYPE).send({ _id: 'foo:bar', value: 'stuff' });
    assert.equal(res.status, 403);
    assert.equal(res.body.error, 'partition_overflow');
    res = await request.put(`/${db}/foo:bar`).set('content-type', JSON_TYPE).send({ value: 'stuff' });
    assert.equal(res.status, 403);
    res = await request.post(`/${db}/_bulk_docs`).set('content-type', JSON_TYPE).send({ docs: [{ _id: 'foo:bar' }, { _id: 'baz:bang' }] });
    assert.equal(res.status, 201);
    assert.equal(res.body[0].error, 'partition_overflow');
    assert.equal(res.body[1].ok, true);
    // Reads, deletes, shrinking updates, other partitions, design docs and replicated edits still work.
    const doc = (await request.get(`/${db}/foo:0001`)).body;
    assert.equal((await request.post(`/${db}`).set('content-type', JSON_TYPE).send({ ...doc, value: '' })).status, 201);
    const d2 = (await request.get(`/${db}/foo:0002`)).body;
    assert.equal((await request.delete(`/${db}/foo:0002?rev=${d2._rev}`)).status, 200);
    assert.equal((await request.post(`/${db}`).set('content-type', JSON_TYPE).send({ _id: 'bar:foo', value: 'stuff' })).status, 201);
    assert.equal((await request.post(`/${db}`).set('content-type', JSON_TYPE).send({ _id: '_design/foo', value: 'stuff' })).status, 201);
    res = await request.put(`/${db}/foo:bar?new_edits=false`).set('content-type', JSON_TYPE).send({ _rev: '1-23202479633c2b380f79507a776743d5', value: 'stuff' });
    assert.equal(res.status, 201);
    // Indexing a full partition works.
    await request.put(`/${db}/_design/v`).set('content-type', JSON_TYPE).send({ views: { bar: { map: 'function(doc) { emit(doc.group, 1); }' } } }).expect(201);
    assert.ok((await request.get(`/${db}/_partition/foo/_design/v/_view/bar`)).body.rows.length > 0);
  } finally {
    await close();
  }
});

test('partition_query_limit: partition queries are capped, and a larger limit is refused', async () => {
  const { request, close } = await inProcessNode({ limits: { partitionQueryLimit: 30 } });
  try {
    const db = await newPartitionedDb(request);
    await createPartitionDocs(request, db);
    await createDdoc(request, db);
    for (const url of [`/${db}/_partition/foo/_all_docs`, `/${db}/_partition/foo/_design/mrtest/_view/some`]) {
      assert.equal((await request.get(url)).body.rows.length, 30, url);
      assert.equal((await request.get(url).query({ limit: 20 })).body.rows.length, 20, url);
      assert.equal((await request.get(url).query({ limit: 30, skip: 25 })).body.rows.length, 25, url);
      const res = await request.get(url).query({ limit: 31 });
      assert.equal(res.status, 400, url);
      assert.match(res.body.reason, /Limit is too large, must not exceed 30/);
    }
    // Global queries are not capped.
    assert.equal((await request.get(`/${db}/_all_docs`)).body.rows.length, 101);
  } finally {
    await close();
  }
});

test('max_partition_size and partition_query_limit follow the node config API', async () => {
  const { request, close } = await inProcessNode();
  try {
    const db = await newPartitionedDb(request);
    const setConfig = (path: string, value: string) =>
      request.put(`/_node/_local/_config/${path}`).set('content-type', JSON_TYPE).set('x-couch-persist', 'false').send(JSON.stringify(value));
    assert.equal((await setConfig('couchdb/max_partition_size', '100')).status, 200);
    assert.equal((await request.put(`/${db}/foo:1`).set('content-type', JSON_TYPE).send({ v: 'x'.repeat(200) })).status, 201);
    const full = await request.put(`/${db}/foo:2`).set('content-type', JSON_TYPE).send({ v: 'y' });
    assert.equal(full.status, 403);
    assert.equal(full.body.error, 'partition_overflow');
    // Raising the limit allows more writes at once.
    assert.equal((await setConfig('couchdb/max_partition_size', '100000')).status, 200);
    assert.equal((await request.put(`/${db}/foo:2`).set('content-type', JSON_TYPE).send({ v: 'y' })).status, 201);
    assert.equal((await setConfig('query_server_config/partition_query_limit', '1')).status, 200);
    assert.equal((await request.get(`/${db}/_partition/foo/_all_docs`)).body.rows.length, 1);
    assert.match((await request.get(`/${db}/_partition/foo/_all_docs?limit=2`)).body.reason, /must not exceed 1/);
  } finally {
    await close();
  }
});

interface Sample {
  docs: { id: string; k: number; t: string }[];
}

const sampleArb: fc.Arbitrary<Sample> = fc
  .uniqueArray(
    fc.record({ p: fc.constantFrom('a', 'b', 'c', 'd', 'aa', 'é'), n: fc.integer({ min: 0, max: 60 }), k: fc.integer({ min: 0, max: 9 }), t: fc.constantFrom('x', 'y', 'z') }),
    { selector: (d) => `${d.p}:${d.n}`, minLength: 1, maxLength: 40 },
  )
  .map((ds) => ({ docs: ds.map((d) => ({ id: `${d.p}:${d.n}`, k: d.k, t: d.t })) }));

test('property: every partition query equals the global query filtered to its partition', async () => {
  const { request, close } = await inProcessNode();
  try {
    const map = 'function(doc) { emit([doc.t, doc.k], doc.k); }';
    let round = 0;
    await fc.assert(
      fc.asyncProperty(sampleArb, async ({ docs }) => {
        const db = `prop-${++round}`;
        await request.put(`/${db}?partitioned=true`).expect(201);
        await request.post(`/${db}/_bulk_docs`).set('content-type', JSON_TYPE).send({ docs: docs.map((d) => ({ _id: d.id, k: d.k, t: d.t })) }).expect(201);
        const views = { v: { map, reduce: '_sum' } };
        await request.put(`/${db}/_design/p`).set('content-type', JSON_TYPE).send({ views }).expect(201);
        await request.put(`/${db}/_design/g`).set('content-type', JSON_TYPE).send({ views, options: { partitioned: false } }).expect(201);
        await request.post(`/${db}/_index`).set('content-type', JSON_TYPE).send({ index: { fields: ['k'] }, ddoc: 'pk', name: 'pk' }).expect(200);
        const allDocs = (await request.get(`/${db}/_all_docs`)).body.rows as { id: string }[];
        const globalMap = (await request.get(`/${db}/_design/g/_view/v`).query({ reduce: false })).body.rows as { id: string; key: [string, number]; value: number }[];
        const globalFind = (await request.post(`/${db}/_find`).set('content-type', JSON_TYPE).send({ selector: { k: { $gte: 3 } }, limit: 1000 })).body.docs as { _id: string }[];
        for (const p of new Set(docs.map((d) => d.id.split(':')[0] as string))) {
          const inP = (id: string) => id.startsWith(p + ':');
          const pAll = (await request.get(`/${db}/_partition/${encodeURIComponent(p)}/_all_docs`)).body;
          assert.deepEqual(pAll.rows, allDocs.filter((r) => r.id !== '_design/p' && r.id !== '_design/g' && !r.id.startsWith('_design/') && inP(r.id)));
          assert.equal(pAll.total_rows, pAll.rows.length);
          const pMap = (await request.get(`/${db}/_partition/${encodeURIComponent(p)}/_design/p/_view/v`).query({ reduce: false })).body;
          const wantMap = globalMap.filter((r) => inP(r.id));
          assert.deepEqual(pMap.rows, wantMap);
          assert.equal(pMap.total_rows, wantMap.length);
          // group_level=1 over the partition: sums per doc.t.
          const pRed = (await request.get(`/${db}/_partition/${encodeURIComponent(p)}/_design/p/_view/v`).query({ group_level: 1 })).body.rows;
          const sums = new Map<string, number>();
          for (const r of wantMap) sums.set(r.key[0], (sums.get(r.key[0]) ?? 0) + r.value);
          assert.deepEqual(pRed, [...sums].map(([t, v]) => ({ key: [t], value: v })));
          const pFind = (await request.post(`/${db}/_partition/${encodeURIComponent(p)}/_find`).set('content-type', JSON_TYPE).send({ selector: { k: { $gte: 3 } }, limit: 1000 })).body.docs as { _id: string }[];
          assert.deepEqual(
            pFind.map((d) => d._id).sort(),
            globalFind.filter((d) => inP(d._id)).map((d) => d._id).sort(),
          );
        }
        await request.delete(`/${db}`).expect(200);
      }),
      { numRuns: 15, seed: 1313 },
    );
  } finally {
    await close();
  }
});
