// runConcurrent must run exactly countMax tasks when time allows, never more than `concurrency`
// at once, stop at the first failed check, and stop starting tasks when time is up.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runConcurrent } from './concurrent.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('runs exactly countMax tasks, at most `concurrency` in flight', async () => {
  let inFlight = 0;
  let peak = 0;
  const seen = new Set<number>();
  const res = await runConcurrent({
    concurrency: 8,
    countMax: 100,
    durationMs: 60_000,
    async task(i) {
      seen.add(i);
      peak = Math.max(peak, ++inFlight);
      await tick();
      inFlight--;
      return undefined;
    },
  });
  assert.equal(res.kind, 'ok');
  assert.equal(res.completed, 100);
  assert.equal(seen.size, 100);
  assert.equal(peak, 8);
});

test('the first failed check fails the run with its reason', async () => {
  const res = await runConcurrent({
    concurrency: 4,
    countMax: 1_000,
    durationMs: 60_000,
    async task(i) {
      await tick();
      return i === 10 ? 'answered 500' : undefined;
    },
  });
  assert.equal(res.kind, 'failed');
  assert.ok(res.kind === 'failed' && res.reason === 'request 10: answered 500');
  assert.ok(res.completed < 1_000);
});

test('a thrown error fails the run too', async () => {
  const res = await runConcurrent({
    concurrency: 2,
    countMax: 10,
    durationMs: 60_000,
    async task() {
      throw new Error('ECONNRESET');
    },
  });
  assert.equal(res.kind, 'failed');
  assert.match(res.kind === 'failed' ? res.reason : '', /ECONNRESET/);
});

test('no task starts after durationMs', async () => {
  const res = await runConcurrent({
    concurrency: 2,
    countMax: 1_000_000,
    durationMs: 50,
    task: () => new Promise((r) => setTimeout(() => r(undefined), 5)),
  });
  assert.equal(res.kind, 'ok');
  // 2 workers × 50 ms / 5 ms ≈ 20 tasks; far fewer than countMax, and the run ended promptly.
  assert.ok(res.completed > 0 && res.completed < 100, `${res.completed}`);
  assert.ok(res.kind === 'ok' && res.elapsedMs < 1_000);
});
