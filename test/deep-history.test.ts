// Replicated histories far deeper than `_revs_limit`: a `_revisions` path of 5,000 or 100,000 ids
// written with `new_edits=false` is stored and stemmed as CouchDB stems it (the newest revs_limit
// revisions; fixture api-couchdb-2 step 42/43 shows 3,000 ids kept as 1,000), and every read of
// the tree (GET ?revs=true, revs_info, open_revs, _revs_diff, _bulk_get, _changes, compaction)
// answers without overflowing the call stack, also when revs_limit is raised above the depth.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeForFile, type TestNode } from './helpers/in-process-node.js';

let req: TestNode['request'];
nodeForFile((t) => (req = t.request));

/** Ids like the fixture's: the leaf first, 32 hex digits each. */
function ids(n: number, salt = ''): string[] {
  return Array.from({ length: n }, (_, i) => (salt + i.toString(16)).padStart(32, '0'));
}

async function writeDeep(db: string, id: string, n: number, salt = ''): Promise<string[]> {
  const revIds = ids(n, salt);
  const res = await req
    .post(`/${db}/_bulk_docs`)
    .set('content-type', 'application/json')
    .send(JSON.stringify({ new_edits: false, docs: [{ _id: id, v: n, _revisions: { start: n, ids: revIds } }] }));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(res.body, []);
  return revIds;
}

test('a 5,000-id and a 100,000-id history are stored stemmed to revs_limit', async () => {
  assert.equal((await req.put('/deep1')).status, 201);
  for (const n of [5000, 100_000]) {
    const revIds = await writeDeep('deep1', `d${n}`, n);
    const doc = await req.get(`/deep1/d${n}?revs=true`);
    assert.equal(doc.status, 200);
    assert.equal(doc.body._rev, `${n}-${revIds[0]}`);
    assert.deepEqual(doc.body._revisions, { start: n, ids: revIds.slice(0, 1000) });
    const info = await req.get(`/deep1/d${n}?revs_info=true`);
    assert.equal(info.body._revs_info.length, 1000);
    assert.equal(info.body._revs_info[999].rev, `${n - 999}-${revIds[999]}`);
    // A stemmed-away revision is unknown.
    const old = await req.get(`/deep1/d${n}?rev=${n - 1000}-${revIds[1000]}`);
    assert.equal(old.status, 404);
  }
});

test('extending a deep history, and branching from it, with new_edits=false', async () => {
  assert.equal((await req.put('/deep2')).status, 201);
  const n = 6000;
  const revIds = await writeDeep('deep2', 'doc', n);
  // The same history plus one more revision: a new leaf on top.
  const longer = ['f'.repeat(32), ...revIds];
  let res = await req
    .post('/deep2/_bulk_docs')
    .send({ new_edits: false, docs: [{ _id: 'doc', v: 'top', _revisions: { start: n + 1, ids: longer } }] });
  assert.equal(res.status, 201);
  // A branch 10 revisions below the leaf.
  const branch = ['e'.repeat(32), ...revIds.slice(10)];
  res = await req
    .post('/deep2/_bulk_docs')
    .send({ new_edits: false, docs: [{ _id: 'doc', v: 'side', _revisions: { start: n - 9, ids: branch } }] });
  assert.equal(res.status, 201);
  const doc = await req.get('/deep2/doc?conflicts=true&revs=true');
  assert.equal(doc.body._rev, `${n + 1}-${'f'.repeat(32)}`);
  assert.deepEqual(doc.body._conflicts, [`${n - 9}-${'e'.repeat(32)}`]);
  assert.equal(doc.body._revisions.ids.length, 1000);
  const open = await req.get(`/deep2/doc?open_revs=all&revs=true`).set('accept', 'application/json');
  assert.equal(open.status, 200);
  assert.equal(open.body.length, 2);
  for (const row of open.body) assert.equal(row.ok._revisions.ids.length, 1000);
  const diff = await req.post('/deep2/_revs_diff').send({ doc: [`${n + 2}-abc`, `${n + 1}-${'f'.repeat(32)}`] });
  assert.deepEqual(diff.body.doc.missing, [`${n + 2}-abc`]);
  const bulk = await req.post('/deep2/_bulk_get?revs=true').send({ docs: [{ id: 'doc' }] });
  assert.equal(bulk.status, 200);
  assert.equal(bulk.body.results[0].docs[0].ok._revisions.ids.length, 1000);
  const changes = await req.get('/deep2/_changes?style=all_docs');
  assert.equal(changes.body.results[0].changes.length, 2);
  assert.equal((await req.post('/deep2/_compact').set('content-type', 'application/json')).status, 202);
  assert.equal((await req.get('/deep2/doc')).body.v, 'top');
});

test('with revs_limit above the depth, a 100,000-revision history is kept whole', async () => {
  assert.equal((await req.put('/deep3')).status, 201);
  assert.equal((await req.put('/deep3/_revs_limit').send('200000').set('content-type', 'application/json')).status, 200);
  const n = 100_000;
  const revIds = await writeDeep('deep3', 'doc', n);
  const doc = await req.get('/deep3/doc?revs=true');
  assert.equal(doc.body._revisions.ids.length, n);
  assert.equal(doc.body._revisions.ids[n - 1], revIds[n - 1]);
  // An interactive edit on top, and a conflicting branch near the root.
  const edit = await req.put('/deep3/doc').send({ _rev: doc.body._rev, v: 'next' });
  assert.equal(edit.status, 201);
  const side = await req
    .post('/deep3/_bulk_docs')
    .send({ new_edits: false, docs: [{ _id: 'doc', v: 'side', _revisions: { start: 3, ids: ['d'.repeat(32), revIds[n - 2], revIds[n - 1]] } }] });
  assert.equal(side.status, 201);
  const again = await req.get('/deep3/doc?conflicts=true');
  assert.equal(again.body.v, 'next');
  assert.deepEqual(again.body._conflicts, [`3-${'d'.repeat(32)}`]);
  assert.equal((await req.post('/deep3/_compact').set('content-type', 'application/json')).status, 202);
  // Compaction runs after the 202; wait for it as CouchDB's own tests do (bounded: 30 s).
  for (let i = 0; i < 300 && (await req.get('/deep3')).body.compact_running !== false; i++) await new Promise((r) => setTimeout(r, 100));
  const info = await req.get('/deep3/doc?revs_info=true');
  assert.equal(info.body._revs_info.length, n + 1);
  assert.equal(info.body._revs_info[1].status, 'missing');
});
