// Checkpoint logs: CouchDB's compare_replication_logs/2 behaviour, PouchDB's
// log shape, and the shape and bounds of what we write.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildReplicationLog, compareReplicationLogs, CHECKPOINT_HISTORY_MAX, rfc1123 } from './replication-log.js';

const entry = (session_id: string, recorded_seq: unknown) => ({ session_id, recorded_seq });

test('no log on either side: start from 0 with no history', () => {
  assert.deepEqual(compareReplicationLogs(null, null), { startSeq: 0, history: [] });
});

test('a log on one side only: full replication', () => {
  const log = { _id: '_local/x', session_id: 's1', source_last_seq: 42, history: [entry('s1', 42)] };
  assert.deepEqual(compareReplicationLogs(log, null), { startSeq: 0, history: [] });
  assert.deepEqual(compareReplicationLogs(null, log), { startSeq: 0, history: [] });
});

test('same session on both sides: resume from the source log', () => {
  const history = [entry('s2', 20), entry('s1', 10)];
  const src = { session_id: 's2', source_last_seq: 20, history };
  const tgt = { session_id: 's2', source_last_seq: 20, history };
  assert.deepEqual(compareReplicationLogs(src, tgt), { startSeq: 20, history });
});

test('different sessions: the newest common session wins, and its entry is dropped from the kept history', () => {
  // The target missed session s3 (restored from a backup).
  const src = { session_id: 's3', source_last_seq: 30, history: [entry('s3', 30), entry('s2', 20), entry('s1', 10)] };
  const tgt = { session_id: 's2', source_last_seq: 20, history: [entry('s2', 20), entry('s1', 10)] };
  // s3 is not on the target; the target's head s2 is in the source's rest.
  assert.deepEqual(compareReplicationLogs(src, tgt), { startSeq: 20, history: [entry('s1', 10)] });
  // And the mirror case: the source missed a session.
  assert.deepEqual(compareReplicationLogs(tgt, src), { startSeq: 20, history: [entry('s1', 10)] });
});

test('no common session: start over', () => {
  const src = { session_id: 'a', history: [entry('a', 5)] };
  const tgt = { session_id: 'b', history: [entry('b', 9)] };
  assert.deepEqual(compareReplicationLogs(src, tgt), { startSeq: 0, history: [] });
});

test('PouchDB-shaped logs (last_seq) are read, not misread', () => {
  const pouch = { _id: '_local/p', session_id: 'p1', last_seq: 7, replicator: 'pouchdb', version: 1, history: [{ last_seq: 7, session_id: 'p1' }] };
  assert.equal(compareReplicationLogs(pouch, { ...pouch }).startSeq, 7);
  const older = { ...pouch, session_id: 'p2', last_seq: 9, history: [{ last_seq: 9, session_id: 'p2' }, { last_seq: 7, session_id: 'p1' }] };
  assert.equal(compareReplicationLogs(older, pouch).startSeq, 7);
  // Garbage history does not throw.
  assert.deepEqual(compareReplicationLogs({ session_id: 'x', history: 'nope' }, { session_id: 'y', history: [null, 3] }), { startSeq: 0, history: [] });
});

test('built logs have CouchDB shape, with the new session first and at most 50 entries', () => {
  const previous = Array.from({ length: 60 }, (_, i) => ({ session_id: `old${i}`, recorded_seq: i }));
  const stats = { missing_checked: 10, missing_found: 9, docs_read: 9, docs_written: 8, doc_write_failures: 1, bulk_get_attempts: 9, bulk_get_docs: 9 };
  const log = buildReplicationLog({
    sessionId: 'new',
    startSeq: 1,
    recordedSeq: 28,
    startTimeMs: Date.UTC(2013, 7, 11, 20, 38, 50),
    endTimeMs: Date.UTC(2013, 7, 11, 20, 38, 51),
    stats,
    previousHistory: previous,
    byDocIds: false,
  });
  assert.equal(log['session_id'], 'new');
  assert.equal(log['source_last_seq'], 28);
  assert.equal(log['replication_id_version'], 4);
  const history = log['history'] as Record<string, unknown>[];
  assert.equal(history.length, CHECKPOINT_HISTORY_MAX);
  assert.deepEqual(history[0], {
    session_id: 'new',
    start_time: 'Sun, 11 Aug 2013 20:38:50 GMT',
    end_time: 'Sun, 11 Aug 2013 20:38:51 GMT',
    start_last_seq: 1,
    end_last_seq: 28,
    recorded_seq: 28,
    ...stats,
  });
  assert.equal(history[1]?.['session_id'], 'old0');
  assert.equal(log['docs_read'], undefined);
  // doc_ids replications repeat the stats at top level (CouchDB 1.0 compatibility).
  const byIds = buildReplicationLog({ sessionId: 's', startSeq: 0, recordedSeq: 2, startTimeMs: 0, endTimeMs: 0, stats, previousHistory: [], byDocIds: true });
  assert.equal(byIds['docs_read'], 9);
  assert.equal(byIds['docs_written'], 8);
  assert.equal(byIds['doc_write_failures'], 1);
  assert.equal(byIds['start_time'], rfc1123(0));
});

test('a log written by one session is resumed by the next one, on both sides', () => {
  const stats = { missing_checked: 1, missing_found: 1, docs_read: 1, docs_written: 1, doc_write_failures: 0, bulk_get_attempts: 1, bulk_get_docs: 1 };
  const first = buildReplicationLog({ sessionId: 's1', startSeq: 0, recordedSeq: '12-abc', startTimeMs: 0, endTimeMs: 0, stats, previousHistory: [], byDocIds: false });
  const resumed = compareReplicationLogs(first, first);
  assert.equal(resumed.startSeq, '12-abc');
  const second = buildReplicationLog({ sessionId: 's2', startSeq: '12-abc', recordedSeq: '15-def', startTimeMs: 0, endTimeMs: 0, stats, previousHistory: resumed.history, byDocIds: false });
  assert.deepEqual((second['history'] as { session_id: string }[]).map((e) => e.session_id), ['s2', 's1']);
  // The source got the new log but the target kept the old one: fall back to s1's seq.
  assert.equal(compareReplicationLogs(second, first).startSeq, '12-abc');
});
