// selectRanges against chttpd_db's parse_ranges/2 clauses and mochiweb's parse_range_request/1,
// case by case (a 10-byte attachment unless said otherwise).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentRange, selectRanges } from './byte-ranges.js';

const ranges = (h: string, len = 10) => selectRanges(h, len);
const unsatisfiable = { status: 416, error: 'requested_range_not_satisfiable', reason: 'Requested range not satisfiable' };

test('no header, malformed headers and bytes=0- get the whole attachment', () => {
  assert.deepEqual(selectRanges(undefined, 10), { kind: 'whole' });
  for (const h of ['bytes=0-', 'items=0-3', 'bytes=a-3', 'bytes=1-2-3', 'bytes=', 'bytes= , ', 'bytes=0-, 2-3']) {
    assert.deepEqual(ranges(h), { kind: 'whole' }, h);
  }
});

test('one range: a-b, a- and -n, clamped to the attachment', () => {
  assert.deepEqual(ranges('bytes=2-5'), { kind: 'ranges', ranges: [[2, 5]] });
  assert.deepEqual(ranges('bytes=4-'), { kind: 'ranges', ranges: [[4, 9]] });
  assert.deepEqual(ranges('bytes=-3'), { kind: 'ranges', ranges: [[7, 9]] });
  assert.deepEqual(ranges('bytes=5-99'), { kind: 'ranges', ranges: [[5, 9]] }, 'an end past the last byte ends at the last byte');
  assert.deepEqual(ranges('bytes=-99'), { kind: 'ranges', ranges: [[0, 9]] }, 'a suffix longer than the attachment is all of it');
  assert.deepEqual(ranges('bytes= 1-1 '), { kind: 'ranges', ranges: [[1, 1]] });
});

test('ranges that end before they start are 416', () => {
  for (const h of ['bytes=5-2', 'bytes=10-', 'bytes=10-20', 'bytes=-0', 'bytes=1-2,6-3']) {
    assert.throws(() => ranges(h), unsatisfiable, h);
  }
  assert.throws(() => selectRanges('bytes=0-0', 0), unsatisfiable, 'nothing of an empty attachment can be served');
});

test('two to nine ranges are served as parts; ten or more get the whole body', () => {
  assert.deepEqual(ranges('bytes=0-1,4-5'), { kind: 'ranges', ranges: [[0, 1], [4, 5]] });
  const nine = Array.from({ length: 9 }, (_, i) => `${i}-${i}`).join(',');
  assert.equal((ranges(`bytes=${nine}`) as { ranges: unknown[] }).ranges.length, 9);
  const ten = Array.from({ length: 10 }, (_, i) => `${i}-${i}`).join(',');
  assert.deepEqual(ranges(`bytes=${ten}`), { kind: 'whole' });
});

test('Content-Range is "bytes start-end/length"', () => {
  assert.equal(contentRange([2, 5], 10), 'bytes 2-5/10');
});
