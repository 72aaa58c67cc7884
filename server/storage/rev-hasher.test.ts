// Large writes take their rev hashes from the worker thread; the revs must be exactly those the
// main thread makes, including where the worker's guess of the parent is wrong.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Environment } from './environment.js';
import { Catalog } from './catalog.js';
import { RevHasher } from './rev-hasher.js';
import { parseDoc } from '../docs/parse-doc.js';
import { newRevHash } from '../revtree/index.js';

const BATCH = 300; // above the offload threshold, and more than one write chunk

test('the worker hashes exactly as newRevHash does', async () => {
  const hasher = new RevHasher();
  try {
    const bodies = [{ b: 1, a: [1.5, { z: null, y: 'é' }] }, {}, { '10': 1, '9': 2, __proto__: 'x' }];
    const jobs = bodies.map((body, i) => ({ parentRev: i === 0 ? null : `${i}-abc`, deleted: i === 2, json: JSON.stringify(body) }));
    const got = await hasher.hash(jobs);
    const want = bodies.map((body, i) => newRevHash({ parentRev: jobs[i]!.parentRev, deleted: jobs[i]!.deleted, body: JSON.parse(jobs[i]!.json), attachmentDigests: [] }));
    assert.deepEqual(got, want);
  } finally {
    await hasher.close();
  }
  assert.equal(await hasher.hash([{ parentRev: null, deleted: false, json: '{}' }]), undefined, 'a closed hasher leaves hashing to the caller');
});

test('large writes get the same revs as hashing in the transaction would give', async () => {
  const env = Environment.open({ inMemory: true });
  try {
    const db = await new Catalog(env).create('hashes');
    const body = (i: number) => ({ n: i, name: `doc ${i}`, nested: { z: i, a: [i] } });
    const created = await db.write(Array.from({ length: BATCH }, (_, i) => ({ id: `d${i}`, doc: parseDoc({ _id: `d${i}`, ...body(i) }) })), true);
    created.forEach((r, i) => {
      const hash = newRevHash({ parentRev: null, deleted: false, body: body(i), attachmentDigests: [] });
      assert.deepEqual(r, { ok: true, id: `d${i}`, rev: `1-${hash}` });
    });
    // Delete them all, then write them again without a rev: the parent is each tombstone, not the
    // "no parent" the worker guessed, so the transaction must hash again.
    const deleted = await db.write(created.map((r) => ({ id: r!.id, doc: parseDoc({ _id: r!.id, _rev: (r as { rev: string }).rev, _deleted: true }) })), true);
    const again = await db.write(Array.from({ length: BATCH }, (_, i) => ({ id: `d${i}`, doc: parseDoc({ _id: `d${i}`, ...body(i) }) })), true);
    again.forEach((r, i) => {
      const tombstone = (deleted[i] as { rev: string }).rev;
      const hash = newRevHash({ parentRev: tombstone, deleted: false, body: body(i), attachmentDigests: [] });
      assert.deepEqual(r, { ok: true, id: `d${i}`, rev: `3-${hash}` });
    });
  } finally {
    await env.close();
  }
});
