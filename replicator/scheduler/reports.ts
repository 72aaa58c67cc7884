// The JSON bodies of `GET /_scheduler/jobs`, `/_scheduler/docs[/{db}[/{docid}]]`
// and the replication entries of `GET /_active_tasks`, in CouchDB's shapes
// (api/server/common.rst). They are read-only views of the scheduler's jobs:
// building them changes nothing. Source and target always appear with
// credentials masked.

import { badRequest } from '../errors.js';
import type { JsonObject } from '../endpoint/endpoint.js';
import type { ReplicationJob, JobState } from './job.js';
import type { Scheduler } from './scheduler.js';

/** CouchDB's `DEFAULT_TASK_LIMIT` for `_scheduler/jobs`. */
export const SCHEDULER_JOBS_LIMIT_DEFAULT = 100;

const STATES: readonly JobState[] = ['initializing', 'error', 'pending', 'running', 'crashing', 'completed', 'failed'];

/** `2017-04-29T05:01:37Z`: CouchDB's iso8601, to the second. */
export function iso8601(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export interface Page {
  limit?: number;
  skip?: number;
}

/** Parses `states=running,crashing`. */
export function parseStates(raw: string | undefined): JobState[] {
  if (raw === undefined || raw === '') return [];
  const states = raw.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  for (const state of states) {
    if (!STATES.includes(state as JobState)) throw badRequest(`Unknown replication state \`${state}\``);
  }
  return states as JobState[];
}

function statsInfo(scheduler: Scheduler, job: ReplicationJob): JsonObject {
  const stats = scheduler.jobStats(job);
  const status = job.session?.status();
  return {
    revisions_checked: stats.missing_checked,
    missing_revisions_found: stats.missing_found,
    docs_read: stats.docs_read,
    docs_written: stats.docs_written,
    changes_pending: status ? status.changesPending : null,
    doc_write_failures: stats.doc_write_failures,
    bulk_get_attempts: stats.bulk_get_attempts,
    bulk_get_docs: stats.bulk_get_docs,
    checkpointed_source_seq: status ? status.checkpointedSeq : (job.lastCheckpointedSeq ?? 0),
    source_seq: status ? status.highestSeqDone : (job.lastThroughSeq ?? 0),
    through_seq: status ? status.throughSeq : (job.lastThroughSeq ?? 0),
  };
}

function info(scheduler: Scheduler, job: ReplicationJob): JsonObject | null {
  switch (job.state) {
    case 'running':
    case 'pending':
      return statsInfo(scheduler, job);
    case 'completed': {
      const recorded = job.result?.['stats'];
      if (recorded && typeof recorded === 'object' && !job.request) return recorded as JsonObject;
      return statsInfo(scheduler, job);
    }
    case 'crashing':
    case 'error':
    case 'failed':
      return { error: job.lastError ?? 'unknown error' };
    case 'initializing':
      return null;
  }
}

function peers(job: ReplicationJob): { source: string | null; target: string | null } {
  return { source: job.request?.source.label ?? null, target: job.request?.target.label ?? null };
}

function jobRow(scheduler: Scheduler, job: ReplicationJob): JsonObject {
  const { source, target } = peers(job);
  return {
    id: job.replicationId?.id ?? null,
    pid: job.session ? job.pid : null,
    source,
    target,
    database: job.database,
    user: job.user,
    doc_id: job.docId,
    info: info(scheduler, job),
    history: job.history.map((event) => {
      const row: JsonObject = { timestamp: iso8601(event.timestampMs), type: event.type };
      if (event.reason !== undefined) row['reason'] = event.reason;
      return row;
    }),
    node: scheduler.options.nodeName,
    start_time: iso8601(job.startTimeMs),
  };
}

function docRow(scheduler: Scheduler, job: ReplicationJob): JsonObject {
  const { source, target } = peers(job);
  return {
    database: job.database,
    doc_id: job.docId,
    id: job.state === 'failed' ? null : (job.replicationId?.id ?? null),
    node: scheduler.options.nodeName,
    source,
    target,
    state: job.state,
    info: info(scheduler, job),
    error_count: job.errorCount,
    last_updated: iso8601(job.lastUpdatedMs),
    start_time: iso8601(job.startTimeMs),
    source_proxy: null,
    target_proxy: null,
  };
}

function page<T>(rows: T[], p: Page, defaultLimit: number): { offset: number; rows: T[] } {
  const skip = Math.max(0, p.skip ?? 0);
  const limit = Math.max(0, p.limit ?? defaultLimit);
  const offset = Math.min(skip, rows.length);
  return { offset, rows: rows.slice(offset, offset + limit) };
}

/** `GET /_scheduler/jobs`: jobs that run or will run (not completed, failed or still initializing). */
export function schedulerJobs(scheduler: Scheduler, p: Page = {}): JsonObject {
  const jobs = scheduler
    .allJobs()
    .filter((job) => job.replicationId !== null && (job.state === 'running' || job.state === 'pending' || job.state === 'crashing'))
    .sort((a, b) => ((a.replicationId?.id ?? '') < (b.replicationId?.id ?? '') ? -1 : 1));
  const { offset, rows } = page(jobs, p, SCHEDULER_JOBS_LIMIT_DEFAULT);
  return { total_rows: jobs.length, offset, jobs: rows.map((job) => jobRow(scheduler, job)) };
}

/** `GET /_scheduler/jobs/{id}`, or null (→ 404). */
export function schedulerJob(scheduler: Scheduler, id: string): JsonObject | null {
  const fixed = id.replace(/ /g, '+');
  const job = scheduler.allJobs().find((j) => j.replicationId && (j.replicationId.id === fixed || j.replicationId.baseId === fixed));
  return job ? jobRow(scheduler, job) : null;
}

/** `GET /_scheduler/docs[/{db}]`: every replicator document seen, in any state. */
export function schedulerDocs(scheduler: Scheduler, database: string | null, p: Page & { states?: JobState[] } = {}): JsonObject {
  const states = p.states ?? [];
  const docs = scheduler
    .allJobs()
    .filter((job) => job.database !== null && (database === null || job.database === database))
    .filter((job) => states.length === 0 || states.includes(job.state))
    .sort((a, b) => {
      const ka = `${a.database}\u0000${a.docId}`;
      const kb = `${b.database}\u0000${b.docId}`;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
  const { offset, rows } = page(docs, p, Number.MAX_SAFE_INTEGER);
  return { total_rows: docs.length, offset, docs: rows.map((job) => docRow(scheduler, job)) };
}

/** `GET /_scheduler/docs/{db}/{docid}`, or null (→ 404). */
export function schedulerDoc(scheduler: Scheduler, database: string, docId: string): JsonObject | null {
  const job = scheduler.get(`${database}\u0000${docId}`);
  return job ? docRow(scheduler, job) : null;
}

/** The `type: "replication"` entries of `GET /_active_tasks`: running jobs only. */
export function activeTasks(scheduler: Scheduler): JsonObject[] {
  return scheduler
    .allJobs()
    .filter((job) => job.state === 'running' && job.session)
    .map((job) => {
      const status = job.session?.status();
      const stats = scheduler.jobStats(job);
      const { source, target } = peers(job);
      return {
        pid: job.pid,
        node: scheduler.options.nodeName,
        type: 'replication',
        user: job.user,
        replication_id: job.replicationId?.id ?? null,
        database: job.database,
        doc_id: job.docId,
        source,
        target,
        continuous: job.request?.continuous ?? false,
        source_seq: status ? status.highestSeqDone : null,
        through_seq: status ? status.throughSeq : null,
        checkpointed_source_seq: status ? status.checkpointedSeq : null,
        checkpoint_interval: job.request?.checkpointIntervalMs ?? null,
        revisions_checked: stats.missing_checked,
        missing_revisions_found: stats.missing_found,
        docs_read: stats.docs_read,
        docs_written: stats.docs_written,
        doc_write_failures: stats.doc_write_failures,
        bulk_get_attempts: stats.bulk_get_attempts,
        bulk_get_docs: stats.bulk_get_docs,
        changes_pending: status ? status.changesPending : null,
        started_on: Math.floor((status?.startedAtMs ?? job.startTimeMs) / 1000),
        updated_on: Math.floor((status?.updatedAtMs ?? job.lastUpdatedMs) / 1000),
      };
    });
}
