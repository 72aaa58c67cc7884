// TokenCounter must give the exact count however a response is cut into chunks: the read
// workloads' row checks (and so the FAILED guard) depend on it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenCounter } from './token-count.js';

// A real `_changes` body shape (CouchDB 3.5: one "changes" per row, one "last_seq").
const body =
  '{"results":[' +
  Array.from({ length: 50 }, (_, i) => `{"seq":${i + 1},"id":"d${i}","changes":[{"rev":"1-abc"}]}`).join(',') +
  '],"last_seq":50,"pending":0}';

function countSplit(text: string, tokens: string[], cuts: number[]): number[] {
  const c = new TokenCounter(tokens);
  const buf = Buffer.from(text);
  let at = 0;
  for (const cut of [...cuts, buf.length]) {
    c.push(buf.subarray(at, cut));
    at = cut;
  }
  return c.result();
}

test('counts every row in one chunk', () => {
  assert.deepEqual(countSplit(body, ['"changes"', '"last_seq"'], []), [50, 1]);
});

test('counts tokens split across chunks exactly once, for every cut position', () => {
  for (let cut = 1; cut < body.length; cut++) {
    assert.deepEqual(countSplit(body, ['"changes"', '"last_seq"'], [cut]), [50, 1], `cut at ${cut}`);
  }
});

test('one-byte chunks give the same counts', () => {
  const cuts = Array.from({ length: body.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(countSplit(body, ['"changes"', '"rev"', '"last_seq"'], cuts), [50, 50, 1]);
});

test('matches do not overlap, across chunks as within one', () => {
  // "aa" occurs twice without overlap in "aaaa" and once in "aaa".
  assert.deepEqual(countSplit('aaa', ['aa'], []), [1]);
  assert.deepEqual(countSplit('aaa', ['aa'], [2]), [1]);
  assert.deepEqual(countSplit('aaaa', ['aa'], [1, 3]), [2]);
});

test('a missing token counts zero', () => {
  assert.deepEqual(countSplit('{"rows":[]}', ['"doc"'], [3]), [0]);
});
