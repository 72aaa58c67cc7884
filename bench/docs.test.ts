// The bench docs must be about 300 bytes, valid JSON, the same for the same seed, and free of
// the tokens the read workloads count rows by.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bulkBodies, docBytesTarget, docId, docJson, makeRandom } from './docs.js';

test('docs are ~300 bytes of valid JSON with the given id', () => {
  const random = makeRandom(42);
  for (let i = 0; i < 200; i++) {
    const text = docJson(docId('d', i), i, random);
    const doc = JSON.parse(text) as { _id: string; n: number };
    assert.equal(doc._id, docId('d', i));
    assert.equal(doc.n, i);
    assert.ok(Math.abs(Buffer.byteLength(text) - docBytesTarget) <= 12, `${Buffer.byteLength(text)} bytes`);
  }
});

test('bodies never contain the row-count tokens', () => {
  const [body] = bulkBodies('d', 0, 1000, 7);
  const text = body!.toString();
  for (const token of ['"id"', '"key"', '"value"', '"doc"', '"rev"', '"seq"', '"changes"', '"error"', '"ok"', '"last_seq"', '"total_rows"']) {
    assert.equal(text.includes(token), false, token);
  }
});

test('bulk bodies: batches of 1000, same bytes for the same seed', () => {
  const a = bulkBodies('d', 0, 2500, 42);
  assert.equal(a.length, 3);
  assert.equal((JSON.parse(a[2]!.toString()) as { docs: unknown[] }).docs.length, 500);
  assert.deepEqual(bulkBodies('d', 0, 2500, 42), a);
  assert.notDeepEqual(bulkBodies('d', 0, 2500, 43), a);
});
