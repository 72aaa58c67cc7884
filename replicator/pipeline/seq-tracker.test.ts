// Through-sequence tracking with batches finishing out of order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeqTracker } from './seq-tracker.js';
import { BatchQueue } from './batch-queue.js';
import { ancestorGeneration } from './batch-copier.js';

test('the through seq only moves over a contiguous prefix of finished batches', () => {
  const t = new SeqTracker('0-start');
  const a = t.add('5-a');
  const b = t.add('9-b');
  const c = t.add('12-c');
  assert.equal(t.throughSeq, '0-start');
  assert.equal(t.progressed, false);
  t.done(c);
  assert.equal(t.throughSeq, '0-start', 'batch c finished first, but a and b are not on the target yet');
  assert.equal(t.highestSeqDone, '12-c');
  t.done(a);
  assert.equal(t.throughSeq, '5-a');
  assert.equal(t.inFlight, 2);
  t.done(b);
  assert.equal(t.throughSeq, '12-c');
  assert.equal(t.inFlight, 0);
  t.done(b);
  assert.equal(t.throughSeq, '12-c', 'idempotent');
  assert.equal(t.progressed, true);
});

test('the queue applies back-pressure, drains after close, and fails loudly', async () => {
  const q = new BatchQueue<number>(2);
  await q.put(1);
  await q.put(2);
  let third = false;
  const pending = q.put(3).then(() => {
    third = true;
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(third, false, 'a full queue blocks the producer');
  assert.equal(await q.take(), 1);
  await pending;
  assert.equal(third, true);
  q.close();
  assert.equal(await q.take(), 2);
  assert.equal(await q.take(), 3);
  assert.equal(await q.take(), null);

  const f = new BatchQueue<number>(1);
  const waiting = f.take();
  f.fail(new Error('boom'));
  await assert.rejects(waiting, /boom/);
  await assert.rejects(f.put(1), /boom/);
});

test('attachments up to the newest ancestor the target has may stay stubs', () => {
  const revisions = { start: 4, ids: ['d', 'c', 'b', 'a'] };
  assert.equal(ancestorGeneration(revisions, ['2-b']), 2);
  assert.equal(ancestorGeneration(revisions, ['2-b', '3-c']), 3);
  assert.equal(ancestorGeneration(revisions, ['3-zz']), 0, 'a leaf on another branch is not an ancestor');
  assert.equal(ancestorGeneration(revisions, []), 0);
  assert.equal(ancestorGeneration(undefined, ['1-a']), 0);
});
