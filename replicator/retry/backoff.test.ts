// Backoff and retry classification.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelayMs, isRetryableStatus, NEVER_RETRY_STATUSES, REQUEST_BACKOFF } from './backoff.js';

test('waits double from the base up to the cap, jittered within the upper half', () => {
  const policy = { baseMs: 100, capMs: 1000 };
  const low = (a: number) => backoffDelayMs(a, policy, () => 0);
  const high = (a: number) => backoffDelayMs(a, policy, () => 0.999999);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(low), [50, 100, 200, 400, 500, 500]);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(high), [100, 200, 400, 800, 1000, 1000]);
  assert.equal(backoffDelayMs(1e9, policy, () => 0.5), 750, 'huge attempt counts stay at the cap');
  assert.equal(backoffDelayMs(-3, policy, () => 0), 50);
});

test('CouchDB starts request retries at 250 ms', () => {
  assert.equal(backoffDelayMs(0, REQUEST_BACKOFF, () => 0.999999), 250);
});

test('401, 403, 409 and 412 are answers, never retried; no answer, 408, 429 and 5xx are', () => {
  assert.deepEqual([...NEVER_RETRY_STATUSES], [401, 403, 409, 412]);
  for (const status of [400, 401, 403, 404, 405, 409, 412, 413, 415, 501]) assert.equal(isRetryableStatus(status), false, String(status));
  for (const status of [0, 408, 429, 500, 502, 503, 504]) assert.equal(isRetryableStatus(status), true, String(status));
});
