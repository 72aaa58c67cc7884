import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker } from './circuit-breaker.js';

test('opens after the threshold, probes with growing waits, closes on success', () => {
  let now = 1000;
  const b = new CircuitBreaker({ failThreshold: 2, backoffBaseMs: 100, backoffMaxMs: 350, probeIntervalMs: 10 }, () => now);
  assert.equal(b.failure('ECONNREFUSED'), false);
  assert.equal(b.available, true, 'one failure is not enough');
  assert.equal(b.success(), false, 'closing a closed breaker is not a recovery');
  b.failure('x');
  assert.equal(b.failure('ECONNREFUSED'), true, 'second consecutive failure opens');
  assert.equal(b.available, false);
  assert.equal(b.probeDue, false);
  now += 100;
  assert.equal(b.probeDue, true);
  b.failure('probe failed');
  now += 199;
  assert.equal(b.probeDue, false, 'wait doubled to 200');
  now += 1;
  assert.equal(b.probeDue, true);
  b.failure('probe failed');
  now += 350;
  assert.equal(b.probeDue, true, 'wait capped at backoffMaxMs');
  assert.equal(b.success(), true, 'a success after opening is a recovery');
  assert.equal(b.available, true);
  b.failure('x');
  assert.equal(b.available, true, 'the count starts again');
});
