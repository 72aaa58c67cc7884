// Behaviour Apache CouchDB's own HTTP suite (test/elixir/test/*.exs, files i–z) asserts and the
// other black-box tests did not reach. Each test names the .exs test it stands for; expected
// values come from those tests and from couch_mrview, not from Chaise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type supertest from 'supertest';
import { nodeForFile } from './helpers/in-process-node.js';

let request: ReturnType<typeof supertest>;
nodeForFile((t) => {
  request = t.request;
});

const NUM_DOCS = 1000;

test('view_compaction_test "view compaction": the index file holds replaced nodes until compaction shrinks it', async () => {
  assert.equal((await request.put('/vc')).status, 201);
  const ddoc = { _id: '_design/foo', language: 'javascript', views: { view1: { map: 'function(doc) { emit(doc._id, doc.value) }' }, view2: { map: 'function(doc) { if (typeof(doc.integer) === "number") {emit(doc._id, doc.integer);} }', reduce: 'function(keys, values, rereduce) { return sum(values); }' } } };
  assert.equal((await request.put('/vc/_design/foo').send(ddoc)).status, 201);
  let docs = Array.from({ length: NUM_DOCS }, (_, i) => ({ _id: String(i), integer: i, string: String(i) }));
  const info = async () => (await request.get('/vc/_design/foo/_info')).body.view_index as { update_seq: number; sizes: { file: number; active: number }; compact_running: boolean };
  for (let round = 1; round <= 3; round++) {
    const res = await request.post('/vc/_bulk_docs').send({ docs });
    assert.equal(res.status, 201);
    docs = docs.map((d, i) => ({ ...d, _rev: (res.body as { rev: string }[])[i]?.rev as string }));
    assert.equal((await request.get('/vc/_design/foo/_view/view1')).body.rows.length, NUM_DOCS);
    assert.equal((await request.get('/vc/_design/foo/_view/view2')).body.rows.length, 1);
    assert.equal((await info()).update_seq, round * NUM_DOCS + 1);
  }
  const before = (await info()).sizes;
  assert.ok(Number.isInteger(before.file));
  assert.ok(before.active < before.file, `active ${before.active} < file ${before.file}`);
  assert.deepEqual((await request.post('/vc/_compact/foo').set('content-type', 'application/json')).body, { ok: true });
  for (let i = 0; i < 100 && (await info()).compact_running; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await request.get('/vc/_design/foo/_view/view1')).body.rows.length, NUM_DOCS);
  assert.equal((await info()).update_seq, 3 * NUM_DOCS + 1);
  const after = (await info()).sizes;
  assert.ok(after.file < before.file, `file ${after.file} < ${before.file}`);
  assert.ok(Number.isInteger(after.active));
  assert.ok(after.active < after.file, `active ${after.active} < file ${after.file}`);
});

test('reshard_basic_test "toggle global state" and "check validation of invalid parameters" (mem3_reshard_httpd on one node)', async () => {
  // The file's node is in admin party: every request is a server admin's.
  const admin = (r: supertest.Test) => r;
  assert.deepEqual((await admin(request.get('/_reshard/state'))).body, { state: 'running', reason: null });
  const stop = await admin(request.put('/_reshard/state')).send({ state: 'stopped', reason: 'xyz' });
  assert.equal(stop.status, 200);
  assert.deepEqual(stop.body, { ok: true });
  assert.deepEqual((await admin(request.get('/_reshard/state'))).body, { state: 'stopped', reason: 'xyz' });
  assert.equal((await admin(request.get('/_reshard'))).body.state_reason, 'xyz');
  assert.equal((await admin(request.put('/_reshard/state')).send({ state: 'running' })).status, 200);
  assert.deepEqual((await admin(request.get('/_reshard/state'))).body, { state: 'running', reason: null });
  assert.deepEqual((await admin(request.put('/_reshard/state')).send({})).body, { error: 'bad_request', reason: 'Expected a `state` field' });
  assert.deepEqual((await admin(request.put('/_reshard/state')).send({ state: 'paused' })).body, { error: 'bad_request', reason: 'State field not `running` or `stopped`' });

  assert.equal((await admin(request.put('/reshard1'))).status, 201);
  const node = (await admin(request.get('/_membership'))).body.cluster_nodes[0] as string;
  const post = (body: Record<string, unknown>) => admin(request.post('/_reshard/jobs')).send({ type: 'split', ...body });
  assert.deepEqual((await post({ db: 'reshard1', node: 'badnode' })).body, { error: 'bad_request', reason: '`node` is not a valid node name' });
  assert.deepEqual((await post({ db: 'badresharddb', node })).body, { error: 'bad_request', reason: 'Invalid `db`' });
  assert.equal((await post({ db: 'badresharddb' })).status, 400);
  assert.deepEqual((await post({ db: 'reshard1', range: 'randomgarbage' })).body, { error: 'bad_request', reason: 'Invalid `range`' });
  assert.deepEqual((await admin(request.post('/_reshard/jobs')).send({ db: 'reshard1', type: 'merge' })).body, { error: 'bad_request', reason: '`job type must be `split`' });
  assert.deepEqual((await post({})).body, { error: 'bad_request', reason: 'Must specify at least `db` or `shard`' });
  // A valid job: the node keeps the database whole, so the job fails as CouchDB reports failed jobs.
  const job = await post({ db: 'reshard1', node });
  assert.equal(job.status, 500);
  assert.equal(job.body[0].shard, 'shards/00000000-ffffffff/reshard1');
  assert.equal((await admin(request.get('/_reshard/jobs/badjobid'))).status, 404);
  assert.equal((await admin(request.delete('/_reshard/jobs/badjobid'))).status, 404);
  assert.equal((await admin(request.post('/_reshard'))).status, 405);
});
