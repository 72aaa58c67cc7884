// A large write looks its ids up with one range read (Database.absentDocs) instead of one lookup
// per id. It must decide exactly as the lookups would: the same edits written as one large chunk
// and as single-doc writes give the same answers and leave the same documents.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Environment } from './environment.js';
import { Catalog } from './catalog.js';
import { parseDoc } from '../docs/parse-doc.js';
import type { Database, Edit } from './database.js';

// Few distinct ids, so edits meet stored docs, each other and tombstones. Chunks with an id
// outside ASCII take the lookups; the others the range read.
const asciiId = fc.oneof(
  fc.integer({ min: 0, max: 40 }).map((n) => `d${String(n).padStart(2, '0')}`),
  fc.constantFrom('A', '~~', 'd', 'd99z'),
);
const anyId = fc.oneof(asciiId, fc.constantFrom('é1', 'z\u{1F600}'));
const editOf = (id: fc.Arbitrary<string>) => fc.record({ id, n: fc.integer({ min: 0, max: 9 }), deleted: fc.boolean(), withRev: fc.boolean() });

function edits(db: Database, plan: { id: string; n: number; deleted: boolean; withRev: boolean }[]): Edit[] {
  return plan.map((p) => {
    const current = db.docInfo(p.id);
    const rev = p.withRev && current ? { _rev: current.rev } : {};
    return { id: p.id, doc: parseDoc({ _id: p.id, ...rev, n: p.n, ...(p.deleted ? { _deleted: true } : {}) }) };
  });
}

test('a large chunk decides each edit exactly as single-doc writes do (fast-check)', async () => {
  const env = Environment.open({ inMemory: true });
  const catalog = new Catalog(env);
  let run = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(editOf(anyId), { maxLength: 30 }), fc.array(editOf(asciiId), { minLength: 64, maxLength: 150 }), async (mixed, setup, asciiPlan) => {
        const plan = mixed ? [...asciiPlan, { id: 'é1', n: 1, deleted: false, withRev: false }] : asciiPlan;
        const bulk = await catalog.create(`bulk${run}`);
        const single = await catalog.create(`single${run++}`);
        for (const db of [bulk, single]) for (const e of edits(db, setup)) await db.write([e], true);
        // Revs are resolved against the state before the chunk, the same for both.
        const chunk = edits(bulk, plan);
        const together = await bulk.write(chunk, true);
        const oneByOne = [];
        for (const e of chunk) oneByOne.push(...(await single.write([{ id: e.id, doc: { ...e.doc } }], true)));
        assert.deepEqual(together, oneByOne);
        const state = (db: Database) => [...new Set(plan.map((p) => p.id))].sort().map((i) => db.docInfo(i) ?? null);
        assert.deepEqual(state(bulk), state(single));
      }),
      { numRuns: 40 },
    );
  } finally {
    await env.close();
  }
});
