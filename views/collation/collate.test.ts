// Collation against Apache CouchDB 3.5's real order (the `collationOrder` fixture)
// plus the algebraic properties a sort order must have.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { collate, compareIds, rawCollate } from './index.js';

const fixture = JSON.parse(readFileSync('test/fixtures/views-couchdb.json', 'utf8')) as {
  collationOrder: unknown[];
};

test('sorting shuffled keys reproduces CouchDB 3.5 collationOrder exactly', () => {
  const expected = fixture.collationOrder;
  const shuffled = [...expected].reverse();
  for (let i = 0; i < shuffled.length; i++) {
    const j = (i * 7919) % shuffled.length;
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  assert.deepEqual(shuffled.sort(collate), expected);
});

test('every adjacent pair of collationOrder is ordered (ties only for equal keys)', () => {
  const order = fixture.collationOrder;
  for (let i = 1; i < order.length; i++) {
    const c = collate(order[i - 1], order[i]);
    if (JSON.stringify(order[i - 1]) === JSON.stringify(order[i])) assert.equal(c, 0);
    else assert.ok(c < 0, `${JSON.stringify(order[i - 1])} < ${JSON.stringify(order[i])}`);
  }
});

test('type order, numbers by value, arrays and objects element-wise', () => {
  assert.ok(collate(null, false) < 0);
  assert.ok(collate(false, true) < 0);
  assert.ok(collate(true, -1e300) < 0);
  assert.ok(collate(1e300, '') < 0);
  assert.ok(collate('\uffff', []) < 0);
  assert.ok(collate([{}], {}) < 0);
  assert.equal(collate(1, 1.0), 0);
  assert.ok(collate(2, 10) < 0);
  assert.ok(collate([1, 2], [1, 2, 0]) < 0);
  assert.ok(collate({ a: 1 }, { a: 1, b: 0 }) < 0);
  assert.ok(collate({ b: 1 }, { a: 2 }) > 0);
  // CouchDB's usual "high key" sentinels sort after ordinary text.
  assert.ok(collate('中', '\ufff0') < 0);
  assert.ok(collate(['b', 'zzz'], ['b', {}]) < 0);
});

test('compareIds is UTF-8 byte order, not UTF-16 order', () => {
  assert.ok(compareIds('a', 'b') < 0);
  assert.ok(compareIds('B', 'a') < 0); // raw, not ICU
  assert.ok(compareIds('\uffff', '😀') < 0); // U+FFFF < U+1F600 in UTF-8
  assert.ok('\uffff' > '😀'); // while JS string order says the opposite
  assert.ok(compareIds('ab', 'abc') < 0);
});

test('rawCollate follows Erlang term order', () => {
  const sorted = [1, false, null, true, {}, { a: 1 }, [], [1], 'a'];
  assert.deepEqual([...sorted].reverse().sort(rawCollate), sorted);
});

const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -50, max: 50 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ maxLength: 4 }),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 2 }), tie('value'), { maxKeys: 3 }),
  ),
})).value;

test('collate is a total preorder (antisymmetric, transitive) on random JSON', () => {
  fc.assert(
    fc.property(json, json, json, (a, b, c) => {
      assert.equal(Math.sign(collate(a, b)), -Math.sign(collate(b, a)) || 0);
      if (collate(a, b) <= 0 && collate(b, c) <= 0) assert.ok(collate(a, c) <= 0);
    }),
    { numRuns: 2000 },
  );
});
