// Db info `sizes` (file, active, external) are real byte counts that follow writes and fall when
// compaction or a purge frees space. What each counts is defined in storage/records.ts (DbSizes):
// Chaise keeps every database in one LMDB file, so `file` is what this database stores there.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeForFile, type TestNode } from './helpers/in-process-node.js';

let t: TestNode;
nodeForFile((node) => (t = node));

interface Sizes {
  file: number;
  active: number;
  external: number;
}

async function sizes(db: string): Promise<Sizes> {
  const res = await t.request.get(`/${db}`);
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.body.sizes), ['file', 'external', 'active']);
  return res.body.sizes as Sizes;
}

/** What measuring from scratch gives: the kept counters must always agree with it. */
function measured(db: string): Sizes {
  return t.node.services.catalog.require(db).measureSizes();
}

test('sizes follow writes, updates, attachments and deletes', async () => {
  const req = t.request;
  assert.equal((await req.put('/sz')).status, 201);
  assert.deepEqual(await sizes('sz'), { file: 0, external: 0, active: 0 });
  const body = { text: 'x'.repeat(1000) };
  const json = JSON.stringify(body).length;
  const a = await req.put('/sz/a').send(body);
  assert.deepEqual(await sizes('sz'), { file: json, external: json, active: json });
  // Ten updates: every old body is still stored (file grows), only the leaf is live.
  let rev = a.body.rev as string;
  for (let i = 0; i < 10; i++) rev = (await req.put('/sz/a').send({ ...body, _rev: rev, i })).body.rev;
  let s = await sizes('sz');
  const leaf = JSON.stringify({ ...body, i: 9 }).length;
  assert.equal(s.active, leaf);
  assert.equal(s.external, leaf);
  assert.ok(s.file > 10 * json, JSON.stringify(s));
  assert.deepEqual(s, measured('sz'));
  // An attachment: identity length in external, stored (gzipped) length in active and file.
  const text = 'attachment text '.repeat(200);
  const withAtt = await req.put(`/sz/a/t.txt?rev=${rev}`).set('content-type', 'text/plain').send(text);
  assert.equal(withAtt.status, 201);
  const stub = (await req.get('/sz/a?att_encoding_info=true')).body._attachments['t.txt'];
  s = await sizes('sz');
  assert.equal(s.external, leaf + text.length);
  assert.equal(s.active, leaf + stub.encoded_length);
  assert.deepEqual(s, measured('sz'));
  // A conflict adds a live leaf; a delete leaves a tombstone that is no longer external.
  await req.post('/sz/_bulk_docs').send({ new_edits: false, docs: [{ _id: 'a', _rev: '12-ffffffffffffffffffffffffffffffff', other: true }] });
  assert.deepEqual(await sizes('sz'), measured('sz'));
  await req.put('/sz/b').send({ small: 1 });
  const b = await req.get('/sz/b');
  await req.delete(`/sz/b?rev=${b.body._rev}`);
  s = await sizes('sz');
  assert.deepEqual(s, measured('sz'));
  assert.ok(s.file >= s.active && s.active > 0 && s.external > 0, JSON.stringify(s));
});

test('compaction makes file fall to what is live; a purge takes its bodies out', async () => {
  const req = t.request;
  assert.equal((await req.put('/szc')).status, 201);
  let rev: string | undefined;
  for (let i = 0; i < 20; i++) rev = (await req.put('/szc/doc').send({ ...(rev ? { _rev: rev } : {}), pad: 'p'.repeat(500), i })).body.rev;
  await req.put('/szc/other').send({ pad: 'q'.repeat(300) });
  const before = await sizes('szc');
  assert.ok(before.file > 2 * before.active, JSON.stringify(before));
  assert.equal((await req.post('/szc/_compact').set('content-type', 'application/json')).status, 202);
  const deadline = Date.now() + 10_000;
  let after = await sizes('szc');
  while (after.file === before.file && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    after = await sizes('szc');
  }
  assert.ok(after.file < before.file, `${JSON.stringify(before)} → ${JSON.stringify(after)}`);
  assert.equal(after.active, before.active);
  assert.equal(after.external, before.external);
  assert.equal(after.file, after.active);
  const other = await req.get('/szc/other');
  const purge = await req.post('/szc/_purge').send({ other: [other.body._rev] });
  assert.equal(purge.status, 201);
  const purged = await sizes('szc');
  assert.equal(purged.external, before.external - JSON.stringify({ pad: 'q'.repeat(300) }).length);
  assert.deepEqual(purged, measured('szc'));
});
