// Large writes take their rev hashes from the worker thread; the revs must be exactly those the
// main thread makes, including where the worker's guess of the parent is wrong.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Environment } from './environment.js';
import { Catalog } from './catalog.js';
import { RevHasher } from './rev-hasher.js';
import fc from 'fast-check';
import { hashFields, parseDoc } from '../docs/parse-doc.js';
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

test('a bulk body is hashed by the worker and the main thread together, each doc as the main thread would', async () => {
  const hasher = new RevHasher();
  try {
    const docs = Array.from({ length: 2000 }, (_, i) =>
      i % 7 === 3
        ? { _id: `a${i}`, _attachments: { 'x.txt': { content_type: 'text/plain', data: 'aGk=' } } }
        : { _id: `d${i}`, ...(i % 5 === 0 ? { _rev: `1-${'a'.repeat(32)}` } : {}), ...(i % 11 === 0 ? { _deleted: true } : {}), n: i, z: { b: 1, a: [i] } },
    );
    const raw = Buffer.from(JSON.stringify({ docs }));
    // At once, the threads meet somewhere in the middle; after a pause, the worker has made most.
    for (const pauseMs of [0, 50]) {
      const early = hasher.bulk(raw, 10_000);
      assert.ok(early, 'the worker started');
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      const parsed = docs.map((d) => parseDoc(d));
      early.fill(parsed);
      parsed.forEach((doc, i) => {
        if (doc.attachments) return assert.equal(doc.revHash, undefined, `doc ${i} has attachments: hashed in the transaction`);
        const want = newRevHash({ parentRev: doc.rev ?? null, deleted: doc.deleted, body: doc.body, attachmentDigests: [] });
        assert.deepEqual(doc.revHash, { parentRev: doc.rev ?? null, deleted: doc.deleted, json: doc.json, hash: want }, `doc ${i}`);
      });
    }
  } finally {
    await hasher.close();
  }
});

test('when the worker cannot use the body, the main thread hashes every doc', async () => {
  const hasher = new RevHasher();
  try {
    for (const raw of ['{"docs":[{"a":1},{"b":2}]', '{"docs":[{"a":1},{"b":2}],"new_edits":false}', '[1,2]']) {
      const early = hasher.bulk(Buffer.from(raw), 10_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const parsed = [parseDoc({ a: 1 }), parseDoc({ b: 2 })];
      early!.fill(parsed);
      for (const doc of parsed) assert.equal(doc.revHash?.hash, newRevHash({ parentRev: null, deleted: false, body: doc.body, attachmentDigests: [] }), raw);
    }
  } finally {
    await hasher.close();
  }
  assert.equal(hasher.bulk(Buffer.from('{"docs":[]}'), 10), undefined, 'a closed hasher leaves hashing to the caller');
});

test('a hash made ahead is not used once the doc has changed', async () => {
  const env = Environment.open({ inMemory: true });
  try {
    const db = await new Catalog(env).create('stale');
    const doc = parseDoc({ a: 1 });
    doc.revHash = { parentRev: null, deleted: false, json: doc.json, hash: 'f'.repeat(32) };
    // A write guard replaces the body (as the _users guard does with passwords).
    doc.body = { a: 2 };
    doc.json = JSON.stringify(doc.body);
    const [r] = await db.write([{ id: 'x', doc }], true);
    assert.deepEqual(r, { ok: true, id: 'x', rev: `1-${newRevHash({ parentRev: null, deleted: false, body: { a: 2 }, attachmentDigests: [] })}` });
  } finally {
    await env.close();
  }
});

test('the worker splits docs as parseDoc does (fast-check)', () => {
  const special = fc.constantFrom('_id', '_rev', '_deleted', '_revisions', '_conflicts', '_replication_state', '_local_seq');
  const doc = fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), special), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant('1-abc'), fc.boolean()), { maxKeys: 6 });
  fc.assert(
    fc.property(doc, (d) => {
      let parsed: ReturnType<typeof parseDoc>;
      try {
        parsed = parseDoc(d);
      } catch {
        return; // refused: never written, so its hash does not matter
      }
      assert.deepEqual(hashFields(d), { rev: parsed.rev ?? null, deleted: parsed.deleted, body: parsed.body });
    }),
    { numRuns: 2000 },
  );
});
