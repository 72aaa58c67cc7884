// The statistics `_stats` reports for a histogram, checked against values worked out by hand,
// and the window: samples older than STATS_WINDOW_MS no longer count.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describe, Histogram, STATS_WINDOW_MS } from './histogram.js';

test('statistics of 1..10', () => {
  const v = describe([5, 3, 1, 2, 4, 6, 7, 8, 9, 10]);
  assert.equal(v.n, 10);
  assert.equal(v.min, 1);
  assert.equal(v.max, 10);
  assert.equal(v.arithmetic_mean, 5.5);
  assert.ok(Math.abs(v.variance - 9.1666666) < 1e-6, 'sample variance');
  assert.ok(Math.abs(v.standard_deviation - Math.sqrt(9.1666666)) < 1e-6);
  assert.ok(Math.abs(v.geometric_mean - 4.528728688) < 1e-6);
  assert.ok(Math.abs(v.harmonic_mean - 3.414171521) < 1e-6);
  assert.equal(v.skewness, 0);
  assert.equal(v.median, 5);
  assert.deepEqual(v.percentile.map(([p]) => p), [50, 75, 90, 95, 99, 999]);
  assert.equal(v.percentile[5]?.[1], 10);
  assert.equal(v.histogram.reduce((a, [, c]) => a + c, 0), 10, 'every sample in a bin');
});

test('no samples: zeros, as CouchDB reports an idle histogram', () => {
  const v = describe([]);
  assert.equal(v.n, 0);
  assert.deepEqual(v.histogram, [[0, 0]]);
  assert.deepEqual(v.percentile[0], [50, 0]);
});

test('only samples within the window count', () => {
  const h = new Histogram();
  h.record(100, 0);
  h.record(2, STATS_WINDOW_MS + 5);
  h.record(4, STATS_WINDOW_MS + 6);
  const v = h.value(STATS_WINDOW_MS + 10);
  assert.equal(v.n, 2);
  assert.equal(v.max, 4);
});
