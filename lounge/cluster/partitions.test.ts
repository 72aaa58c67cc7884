// Partitioned databases through the lounge, in front of a 3-node, q=8, n=2 cluster of real node
// processes: `PUT /db?partitioned=true` makes partitioned shards, placement hashes only the
// partition (so all of a partition lives on one range, as CouchDB's mem3 places it), and
// `/_partition/{p}/…` requests are asked of that one range and answer what one node holding
// the same documents answers.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TRIGGERED_SYNC, useCluster } from '../test-support/cluster-fixture.js';
import { call } from '../test-support/http.js';

let L = '';

const fx = useCluster({ nodes: 3, q: 8, n: 2, tune: { sync: TRIGGERED_SYNC } });

before(async () => {
  await fx.ready;
  L = fx.url;
});

test('a partitioned database through the lounge', async () => {
  assert.deepEqual((await call(L, 'PUT', '/bad?partitioned=tru')).body, { error: 'bad_request', reason: 'Invalid `partitioned` parameter' });
  assert.equal((await call(L, 'PUT', '/pdb?partitioned=true')).status, 201);
  assert.deepEqual((await call(L, 'GET', '/pdb')).body.props, { partitioned: true });
  // Every shard on every node is partitioned.
  for (const n of fx.cluster.nodes) {
    const names = ((await call(n.url, 'GET', '/_all_dbs')).body as string[]).filter((s) => s.endsWith('/pdb'));
    for (const s of names) assert.deepEqual((await call(n.url, 'GET', `/${encodeURIComponent(s)}`)).body.props, { partitioned: true }, s);
  }
  const docs: { _id: string; n: number; g: string }[] = [];
  for (let i = 0; i < 60; i++) docs.push({ _id: `${['foo', 'bar', 'baz'][i % 3]}:${i}`, n: i, g: i % 2 === 0 ? 'even' : 'odd' });
  const bulk = await call(L, 'POST', '/pdb/_bulk_docs', { docs });
  assert.equal(bulk.status, 201);
  assert.equal((await call(L, 'PUT', '/pdb/nopartition', { a: 1 })).body.error, 'illegal_docid');

  // Placement: the partition alone decides the range.
  const ranges = new Set<string>();
  for (let i = 0; i < 60; i += 3) ranges.add((await call(L, 'GET', `/pdb/_shards/foo:${i}`)).body.range);
  assert.equal(ranges.size, 1);
  const [fooRange] = [...ranges];
  // And that shard holds the whole partition.
  const owner = (await call(L, 'GET', '/pdb/_shards/foo:0')).body.nodes[0] as string;
  const ownerUrl = fx.cluster.nodes.find((n) => n.id === owner)?.url as string;
  const shardInfo = await call(ownerUrl, 'GET', `/${encodeURIComponent(fx.cluster.lounge.lounge.map.shardName(fooRange as string, 'pdb'))}/_partition/foo`);
  assert.equal(shardInfo.body.doc_count, 20);

  // Partition endpoints.
  const info = await call(L, 'GET', '/pdb/_partition/foo');
  assert.equal(info.body.db_name, 'pdb');
  assert.equal(info.body.doc_count, 20);
  const all = await call(L, 'GET', '/pdb/_partition/foo/_all_docs');
  assert.equal(all.body.total_rows, 20);
  assert.ok(all.body.rows.every((r: { id: string }) => r.id.startsWith('foo:')));
  const global = await call(L, 'GET', '/pdb/_all_docs');
  assert.deepEqual(all.body.rows, global.body.rows.filter((r: { id: string }) => r.id.startsWith('foo:')));
  assert.equal((await call(L, 'PUT', '/pdb/_design/v', { views: { by_g: { map: 'function(doc){ emit(doc.g, doc.n); }', reduce: '_sum' } } })).status, 201);
  const view = await call(L, 'GET', '/pdb/_partition/foo/_design/v/_view/by_g?reduce=false');
  assert.equal(view.status, 200, JSON.stringify(view.body));
  assert.equal(view.body.rows.length, 20);
  const red = await call(L, 'GET', '/pdb/_partition/foo/_design/v/_view/by_g?group=true');
  const sum = (parity: number) => docs.filter((d) => d._id.startsWith('foo:') && d.n % 2 === parity).reduce((a, d) => a + d.n, 0);
  assert.deepEqual(red.body.rows, [
    { key: 'even', value: sum(0) },
    { key: 'odd', value: sum(1) },
  ]);
  assert.equal((await call(L, 'GET', '/pdb/_design/v/_view/by_g')).body.error, 'query_parse_error');
  const found = await call(L, 'POST', '/pdb/_partition/bar/_find', { selector: { n: { $gte: 50 } } });
  assert.deepEqual(found.body.docs.map((d: { _id: string }) => d._id).sort(), ['bar:52', 'bar:55', 'bar:58']);
  const explained = await call(L, 'POST', '/pdb/_partition/bar/_explain', { selector: { n: { $gte: 50 } } });
  assert.equal(explained.body.dbname, 'pdb');
  assert.equal(explained.body.mrargs.partition, 'bar');
  assert.equal((await call(L, 'GET', '/pdb/_partition/_bar/_all_docs')).body.error, 'illegal_partition');
  assert.equal((await call(L, 'PUT', '/plain')).status, 201);
  assert.deepEqual((await call(L, 'GET', '/plain/_partition/foo/_all_docs')).body, { error: 'bad_request', reason: 'database is not partitioned' });
});
