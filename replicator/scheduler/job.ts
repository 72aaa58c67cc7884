// A replication job as the scheduler sees it: what was asked, who asked, and
// where it stands in CouchDB's scheduler state machine.
//
//   initializing ──► pending ──► running ──► completed        (one-shot)
//        │              ▲           │
//        ▼              └─crashing◄─┘   (error; restarted after a backoff)
//      error (could not compute the id, e.g. filter fetch failed; retried)
//      failed (invalid document, or a duplicate of another job; terminal)
//
// A job outlives its sessions: each start creates a new `Replication`
// (a new session id), which resumes from the checkpoints of the last.
// Plain data plus small helpers; the scheduler drives it.

import type { JsonObject } from '../endpoint/endpoint.js';
import type { ReplicationRequest } from '../protocol/replication-options.js';
import type { ReplicationId } from '../protocol/replication-id.js';
import type { SessionStats } from '../protocol/replication-log.js';
import type { Replication } from '../pipeline/replication.js';

export type JobState = 'initializing' | 'error' | 'pending' | 'running' | 'crashing' | 'completed' | 'failed';

/** Events kept per job for `_scheduler/jobs` (CouchDB's `max_history` is 20). */
export const JOB_HISTORY_MAX = 20;

export interface JobEvent {
  timestampMs: number;
  type: 'added' | 'started' | 'crashed' | 'stopped' | 'completed';
  reason?: string;
}

export interface UserCtx {
  name: string | null;
  roles: string[];
}

export class ReplicationJob {
  state: JobState = 'initializing';
  replicationId: ReplicationId | null = null;
  errorCount = 0;
  /** Why the job is in `error`, `crashing` or `failed`. */
  lastError: string | null = null;
  readonly history: JobEvent[] = [];
  /** The running session, if any. */
  session: Replication | null = null;
  /** Stats carried over from earlier sessions of this job (CouchDB keeps counting across restarts). */
  carriedStats: SessionStats | null = null;
  /** The last session's stats, for reports once it ended. */
  lastStats: SessionStats | null = null;
  lastThroughSeq: unknown = 0;
  lastCheckpointedSeq: unknown = 0;
  /** The one-shot result body, once completed. */
  result: JsonObject | null = null;
  startTimeMs: number;
  lastUpdatedMs: number;
  /** A pending restart or retry. */
  timer: AbortController | null = null;
  /** A stable pseudo process id, so reports look like CouchDB's (`<0.N.0>`). */
  readonly pid: string;
  /** The `_rev` of the replicator document this job was built from. */
  docRev: string | null = null;
  /** When its current or last session started (rotation stops the longest-running first). */
  lastStartedMs = 0;

  constructor(
    /** `transient:<id>` or `<db>\u0000<docid>`. */
    readonly key: string,
    /** The replicator database, or null for `POST /_replicate` jobs. */
    readonly database: string | null,
    readonly docId: string | null,
    readonly request: ReplicationRequest | null,
    /** The canonical JSON of the fields that define the replication (to spot no-op doc edits). */
    readonly specKey: string,
    readonly user: string | null,
    nowMs: number,
    serial: number,
  ) {
    this.startTimeMs = nowMs;
    this.lastUpdatedMs = nowMs;
    this.pid = `<0.${serial}.0>`;
  }

  record(type: JobEvent['type'], nowMs: number, reason?: string): void {
    const event: JobEvent = { timestampMs: nowMs, type };
    if (reason !== undefined) event.reason = reason;
    this.history.unshift(event);
    if (this.history.length > JOB_HISTORY_MAX) this.history.length = JOB_HISTORY_MAX;
    this.lastUpdatedMs = nowMs;
  }

  setState(state: JobState, nowMs: number): void {
    this.state = state;
    this.lastUpdatedMs = nowMs;
  }

  get transient(): boolean {
    return this.database === null;
  }
}
