// The repeat statistics the workloads print: the median of an even count is the mean of the
// middle two, and percentiles are nearest-rank (so the p99 of 50 samples is the largest).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, percentile } from './workload.js';

test('median: middle sample, or the mean of the middle two', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]));
});

test('percentile: nearest rank over the sorted samples', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted on purpose
  assert.equal(percentile(hundred, 95), 95);
  assert.equal(percentile(hundred, 50), 50);
  assert.equal(percentile(hundred, 100), 100);
  const fifty = Array.from({ length: 50 }, (_, i) => i + 1);
  assert.equal(percentile(fifty, 99), 50); // rank ceil(49.5) = 50: the largest sample
  assert.equal(percentile(fifty, 95), 48); // rank ceil(47.5) = 48
  assert.equal(percentile([7], 1), 7);
  assert.throws(() => percentile([], 50));
});
