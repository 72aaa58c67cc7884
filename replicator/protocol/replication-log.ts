// Replication logs: the checkpoint documents, and where to resume from them.
//
// A replication records its progress in `_local/<base id>` on *both* peers.
// Reading one side is not enough: a target restored from a backup, or a
// source that lost its `_local` docs, holds a log that claims progress the
// other side never saw. So a run starts from the source's `source_last_seq`
// only when both logs carry the same `session_id`; otherwise it walks both
// histories for the newest session they share and resumes from that entry's
// `recorded_seq`; with nothing shared it starts over from 0. This is a port of
// CouchDB's `compare_replication_logs/2` (couch_replicator_scheduler_job.erl),
// which PouchDB's checkpointer also ports.
//
// Logs written here have CouchDB's shape: `session_id`, `source_last_seq`,
// `replication_id_version` and a `history` of at most 50 sessions, newest
// first. Logs written by PouchDB (`last_seq`, history entries with `last_seq`)
// are read as well, so neither replicator misreads the other's documents.
// Pure: no I/O, times passed in.

import type { JsonObject, LocalDoc, Seq } from '../endpoint/endpoint.js';
import { canonicalJson, REPLICATION_ID_VERSION } from './replication-id.js';

/** CouchDB keeps 50 sessions: enough to find a common ancestor after many one-sided restarts, small enough to rewrite often. */
export const CHECKPOINT_HISTORY_MAX = 50;

/** The sequence before everything. */
export const LOWEST_SEQ = 0;

export interface SessionStats {
  missing_checked: number;
  missing_found: number;
  docs_read: number;
  docs_written: number;
  doc_write_failures: number;
  bulk_get_attempts: number;
  bulk_get_docs: number;
}

export interface HistoryEntry extends SessionStats {
  session_id: string;
  start_time: string;
  end_time: string;
  start_last_seq: Seq;
  end_last_seq: Seq;
  recorded_seq: Seq;
  /**
   * Only when the replication was asked to record it (the lounge's shard copies): the
   * target's `update_seq` read after everything up to `recorded_seq` was on it, and the
   * target's instance id. A position at or past `target_seq` on the target has seen every
   * source change up to `recorded_seq` (CouchDB's mem3_rep records the same pair).
   */
  target_seq?: Seq;
  target_uuid?: string;
}

export interface ResumePoint {
  /** Where the changes feed starts. */
  startSeq: Seq;
  /** The older sessions to keep under the new one. */
  history: JsonObject[];
}

function asHistory(value: unknown): JsonObject[] {
  return Array.isArray(value) ? value.filter((e): e is JsonObject => e !== null && typeof e === 'object' && !Array.isArray(e)) : [];
}

/** `source_last_seq` (CouchDB) or `last_seq` (PouchDB). */
function logSeq(log: JsonObject): Seq {
  if (log['source_last_seq'] !== undefined) return log['source_last_seq'];
  if (log['last_seq'] !== undefined) return log['last_seq'];
  return LOWEST_SEQ;
}

/** `recorded_seq` (CouchDB) or `last_seq` (PouchDB history entries). */
function entrySeq(entry: JsonObject): Seq {
  if (entry['recorded_seq'] !== undefined) return entry['recorded_seq'];
  if (entry['last_seq'] !== undefined) return entry['last_seq'];
  return LOWEST_SEQ;
}

function hasSession(sessionId: unknown, history: JsonObject[]): boolean {
  return sessionId !== undefined && history.some((entry) => entry['session_id'] === sessionId);
}

function compareHistories(source: JsonObject[], target: JsonObject[]): ResumePoint {
  // Iterative form of CouchDB's compare_rep_history/2.
  let s = source;
  let t = target;
  for (;;) {
    const [sHead, ...sRest] = s;
    const [tHead, ...tRest] = t;
    if (sHead === undefined || tHead === undefined) return { startSeq: LOWEST_SEQ, history: [] };
    if (hasSession(sHead['session_id'], t)) return { startSeq: entrySeq(sHead), history: sRest };
    if (hasSession(tHead['session_id'], sRest)) return { startSeq: entrySeq(tHead), history: tRest };
    s = sRest;
    t = tRest;
  }
}

/** Where to resume, from the logs read on each side (null when a side has none). */
export function compareReplicationLogs(sourceLog: LocalDoc | JsonObject | null, targetLog: LocalDoc | JsonObject | null): ResumePoint {
  const src: JsonObject = sourceLog ?? {};
  const tgt: JsonObject = targetLog ?? {};
  if (src['session_id'] === tgt['session_id']) {
    // Same session on both sides (or no log on either): the source's word is good.
    return { startSeq: logSeq(src), history: asHistory(src['history']) };
  }
  return compareHistories(asHistory(src['history']), asHistory(tgt['history']));
}

/** RFC 1123 dates, as CouchDB writes `start_time`/`end_time` ("Sun, 11 Aug 2013 20:38:50 GMT"). */
export function rfc1123(ms: number): string {
  return new Date(ms).toUTCString();
}

export interface LogUpdate {
  sessionId: string;
  /** Where this session started reading. */
  startSeq: Seq;
  /** Everything up to here is on the target. */
  recordedSeq: Seq;
  startTimeMs: number;
  endTimeMs: number;
  stats: SessionStats;
  /** The history found at session start (`ResumePoint.history`). */
  previousHistory: JsonObject[];
  /** Replications by `doc_ids` repeat some stats at top level (CouchDB 1.0 compatibility, still written by 3.x). */
  byDocIds: boolean;
  /** The target's update seq and instance id after this checkpoint's writes (see HistoryEntry.target_seq). */
  target?: { seq: Seq; uuid: string | undefined };
}

/** The body of a checkpoint document (without `_id`/`_rev`). */
export function buildReplicationLog(update: LogUpdate): JsonObject {
  const startTime = rfc1123(update.startTimeMs);
  const endTime = rfc1123(update.endTimeMs);
  const entry: HistoryEntry = {
    session_id: update.sessionId,
    start_time: startTime,
    end_time: endTime,
    start_last_seq: update.startSeq,
    end_last_seq: update.recordedSeq,
    recorded_seq: update.recordedSeq,
    missing_checked: update.stats.missing_checked,
    missing_found: update.stats.missing_found,
    docs_read: update.stats.docs_read,
    docs_written: update.stats.docs_written,
    doc_write_failures: update.stats.doc_write_failures,
    bulk_get_attempts: update.stats.bulk_get_attempts,
    bulk_get_docs: update.stats.bulk_get_docs,
  };
  if (update.target) {
    entry.target_seq = update.target.seq;
    if (update.target.uuid !== undefined) entry.target_uuid = update.target.uuid;
  }
  const log: JsonObject = {
    session_id: update.sessionId,
    source_last_seq: update.recordedSeq,
    replication_id_version: REPLICATION_ID_VERSION,
  };
  if (update.byDocIds) {
    log['start_time'] = startTime;
    log['end_time'] = endTime;
    log['docs_read'] = update.stats.docs_read;
    log['docs_written'] = update.stats.docs_written;
    log['doc_write_failures'] = update.stats.doc_write_failures;
  }
  log['history'] = [entry, ...update.previousHistory].slice(0, CHECKPOINT_HISTORY_MAX);
  return log;
}

/** A log body without the `_id`/`_rev` of the document that held it. */
export function logBody(doc: LocalDoc | null): JsonObject {
  if (!doc) return {};
  const { _id: _ignoredId, _rev: _ignoredRev, ...body } = doc;
  return body;
}

/** Whether two log bodies hold the same data, whatever their key order. */
export function canonicalLogEqual(a: JsonObject, b: JsonObject): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
