// sortActions must give exactly the order a plain stable sort by RowOrder.cmp (removals first
// within a row) gives: it only changes how often keys are collated, never the result.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { collate } from '../collation/collate.js';
import { compareIds, rawCollate } from '../collation/raw-order.js';
import { sortActions } from './action-order.js';
import { RowOrder, type Action } from './btree.js';

/** The definition sortActions must match. */
function plainSort(acts: readonly Action[], order: RowOrder): Action[] {
  return [...acts].sort(
    (a, b) => order.cmp(a.key, a.id, b.key, b.id) || (a.entry === null ? 0 : 1) - (b.entry === null ? 0 : 1),
  );
}

// Keys chosen to collide in every way that matters: ICU ties between different strings (NFC and
// NFD spellings of é), case and accents, a string that reads like an array's JSON next to that
// array, numbers, nested values, and null.
const keys: unknown[] = [
  null, false, true, 0, 1, -2.5, 10, 'a', 'A', 'b', 'é', 'e\u0301', 'e', '[1]', [1], [1, 'a'], ['a'], [],
  { a: 1 }, { a: 1, b: 2 }, { b: 1 }, {},
];
const ids = ['d1', 'd10', 'd2', 'D1', '\u00e9', '\ud83d\ude00', '\uffff', 'a'];

const action = fc.record({
  key: fc.constantFrom(...keys),
  id: fc.constantFrom(...ids),
  insert: fc.boolean(),
  value: fc.integer(),
});

for (const [name, order] of [
  ['ICU collation', new RowOrder(collate)],
  ['raw collation', new RowOrder(rawCollate)],
] as const) {
  test(`sortActions orders actions exactly as a stable sort by row, removals first (${name})`, () => {
    fc.assert(
      fc.property(fc.array(action, { maxLength: 200 }), (raw) => {
        // Fresh key objects per action, as the sandbox's JSON gives them.
        const acts: Action[] = raw.map((r) => {
          const key = JSON.parse(JSON.stringify(r.key)) as unknown;
          return { key, id: r.id, entry: r.insert ? [key, r.id, r.value] : null };
        });
        const got = sortActions(acts, order);
        const want = plainSort(acts, order);
        assert.equal(got.length, want.length);
        got.forEach((a, i) => assert.equal(a, want[i], `position ${i}`));
      }),
      { numRuns: 300 },
    );
  });
}

test('sortActions keeps docids in raw code point order within a key', () => {
  const order = new RowOrder(collate);
  const acts: Action[] = ['\uffff', '\ud83d\ude00', 'b', 'a'].map((id) => ({ key: 'k', id, entry: ['k', id, 1] }));
  // U+1F600 (a surrogate pair in UTF-16) sorts after U+FFFF in UTF-8 byte order.
  assert.deepEqual(
    sortActions(acts, order).map((a) => a.id),
    ['a', 'b', '\uffff', '\ud83d\ude00'],
  );
  assert.ok(compareIds('\uffff', '\ud83d\ude00') < 0);
});
