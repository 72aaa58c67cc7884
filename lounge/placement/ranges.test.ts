import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findRangeIndex, generateRanges, makeRange, parseRange, tilingProblem } from './ranges.js';

test('generateRanges follows mem3_util:make_key_ranges', () => {
  assert.deepEqual(
    generateRanges(8).map((r) => r.name),
    [
      '00000000-1fffffff', '20000000-3fffffff', '40000000-5fffffff', '60000000-7fffffff',
      '80000000-9fffffff', 'a0000000-bfffffff', 'c0000000-dfffffff', 'e0000000-ffffffff',
    ],
  );
  // q=3 does not divide 2^32: the last range absorbs the remainder.
  assert.deepEqual(generateRanges(3).map((r) => r.name), ['00000000-55555554', '55555555-aaaaaaa9', 'aaaaaaaa-ffffffff']);
  assert.deepEqual(generateRanges(1).map((r) => r.name), ['00000000-ffffffff']);
});

test('parseRange accepts only canonical ranges', () => {
  assert.deepEqual(parseRange('20000000-3fffffff'), { begin: 0x20000000, end: 0x3fffffff, name: '20000000-3fffffff' });
  assert.equal(parseRange('2000000-3fffffff'), undefined);
  assert.equal(parseRange('20000000-3FFFFFFF'), undefined);
  assert.equal(parseRange('3fffffff-20000000'), undefined);
});

test('tilingProblem names gaps and overlaps', () => {
  assert.equal(tilingProblem(generateRanges(4)), undefined);
  const [a, b, , d] = generateRanges(4);
  assert.match(tilingProblem([a!, b!, d!]) ?? '', /gap: 80000000-bfffffff is not covered/);
  assert.match(tilingProblem([a!, makeRange(0x30000000, 0xffffffff), b!]) ?? '', /overlap/);
  assert.match(tilingProblem([makeRange(0, 0x7fffffff)]) ?? '', /gap: 80000000-ffffffff/);
  assert.match(tilingProblem([]) ?? '', /no ranges/);
});

test('findRangeIndex puts every bound in its range', () => {
  const rs = generateRanges(8);
  for (const [i, r] of rs.entries()) {
    assert.equal(findRangeIndex(rs, r.begin), i);
    assert.equal(findRangeIndex(rs, r.end), i);
  }
  assert.equal(findRangeIndex(rs, 0xe0b852df), 7);
  assert.equal(findRangeIndex(rs, 0x791875e7), 3);
});
