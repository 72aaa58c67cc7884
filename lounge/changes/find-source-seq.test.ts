import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildReplicationLog } from '../../replicator/index.js';
import { findSourceSeq } from './find-source-seq.js';

const stats = { missing_checked: 0, missing_found: 0, docs_read: 0, docs_written: 0, doc_write_failures: 0, bulk_get_attempts: 0, bulk_get_docs: 0 };

/** A checkpoint log of L → G as the replicator writes it, sessions oldest first: [L's recorded seq, G's seq after it]. */
function logOf(sessions: [unknown, unknown][], uuid = 'g-instance-1') {
  let log: Record<string, unknown> = {};
  let t = 1_000;
  for (const [recorded, targetSeq] of sessions) {
    log = buildReplicationLog({
      sessionId: `s${t}`,
      startSeq: 0,
      recordedSeq: recorded as never,
      startTimeMs: t,
      endTimeMs: t + 1,
      stats,
      previousHistory: Array.isArray(log.history) ? (log.history as Record<string, unknown>[]) : [],
      byDocIds: false,
      target: { seq: targetSeq as never, uuid },
    });
    t += 1_000;
  }
  return log;
}

test('the newest checkpoint whose target seq the token has passed gives the source seq', () => {
  // L's changes up to 10 were on G by G's seq 14; up to 25 by 31; up to 40 by 52.
  const log = logOf([
    [10, 14],
    [25, 31],
    [40, 52],
  ]);
  assert.equal(findSourceSeq(log, 52, 'g-instance-1'), 40);
  assert.equal(findSourceSeq(log, 60, 'g-instance-1'), 40);
  assert.equal(findSourceSeq(log, 51, 'g-instance-1'), 25, 'a token before the newest checkpoint takes an older session');
  assert.equal(findSourceSeq(log, 31, 'g-instance-1'), 25);
  assert.equal(findSourceSeq(log, 14, 'g-instance-1'), 10);
  assert.equal(findSourceSeq(log, 13, 'g-instance-1'), undefined, 'older than every checkpoint: nothing is known (read from 0)');
});

test('opaque N-prefixed sequences (Chaise, CouchDB) compare by their number; the source seq comes back verbatim', () => {
  const log = logOf([
    ['7-aaa', '9-xyz'],
    ['20-bbb', '30-xyz'],
  ]);
  assert.equal(findSourceSeq(log, '29-qqq', 'g-instance-1'), '7-aaa');
  assert.equal(findSourceSeq(log, '30-qqq', 'g-instance-1'), '20-bbb');
});

test('another instance of the shard, unknown instances and checkpoints without target seqs translate nothing', () => {
  const log = logOf([[10, 14]]);
  assert.equal(findSourceSeq(log, 100, 'g-instance-2'), undefined, 'the shard on G was re-created since');
  assert.equal(findSourceSeq(log, 100, ''), undefined, 'the token does not know its instance');
  const plain = buildReplicationLog({ sessionId: 's', startSeq: 0, recordedSeq: 10, startTimeMs: 1, endTimeMs: 2, stats, previousHistory: [], byDocIds: false });
  assert.equal(findSourceSeq(plain, 100, 'g-instance-1'), undefined, 'a checkpoint written without target_seq (an ordinary replication)');
  assert.equal(findSourceSeq(null, 100, 'g-instance-1'), undefined);
  assert.equal(findSourceSeq({ history: 'junk' }, 100, 'g-instance-1'), undefined);
});
