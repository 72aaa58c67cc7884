// `ReplicationService`: everything a node exposes about replication, behind
// one object the server constructs once it listens.
//
// - `replicate(body, userCtx)` is `POST /_replicate`: a one-shot replication
//   resolves with CouchDB's result body when done; `continuous: true`
//   resolves at once with `202 {ok, _local_id}`; `cancel: true` stops a
//   running one (by `replication_id` or by repeating the request).
// - The `_replicator` database is watched over HTTP through the node's own
//   URL: a document starts a job, an edit that changes the replication
//   restarts it, deleting it stops it. Jobs that completed or failed are
//   recorded in their documents (`_replication_state`, CouchDB's fields), so a
//   restarted node skips them and resumes the others from their checkpoints.
// - `schedulerJobs/Job/Docs/Doc` and `activeTasks` return the JSON bodies of
//   `_scheduler/*` and the replication part of `_active_tasks`.
// - `close()` stops every job (each writes a last checkpoint), every feed and
//   every timer.
//
// Bare database names in `source`/`target` mean databases on this node. For a
// `_replicate` call by a server admin (or with no userCtx, meaning the caller
// already authorised it) they carry the node credentials; otherwise, and
// always in `_replicator` documents whose author we cannot verify, they carry
// none, as in CouchDB 3.

import { newReplicatorMetrics, type ReplicatorMetrics } from '../metrics.js';
import { debuglog } from 'node:util';
import { realClock, type Clock, type Random } from '../clock.js';
import { ReplicationError } from '../errors.js';
import type { Doc, JsonObject } from '../endpoint/endpoint.js';
import { HEARTBEAT_MS_DEFAULT, HttpEndpoint } from '../endpoint/http-endpoint.js';
import type { LocalNode } from '../endpoint/peer.js';
import { canonicalJson } from '../protocol/replication-id.js';
import { parseReplicateCommand, parseReplicationRequest } from '../protocol/replication-options.js';
import type { BackoffPolicy } from '../retry/backoff.js';
import type { ReplicationJob, UserCtx } from '../scheduler/job.js';
import { activeTasks, iso8601, parseStates, schedulerDoc, schedulerDocs, schedulerJob, schedulerJobs } from '../scheduler/reports.js';
import { ReplicatorDbWatcher } from '../scheduler/replicator-db-watcher.js';
import { Scheduler, type EndpointFactory } from '../scheduler/scheduler.js';

const log = debuglog('chaise:replicator');

/** Fields of a replicator document that define its replication; edits elsewhere are no-ops. */
export const REPLICATION_SPEC_FIELDS: readonly string[] = [
  'source', 'target', 'continuous', 'create_target', 'create_target_params', 'doc_ids', 'filter', 'query_params',
  'selector', 'since_seq', 'use_checkpoints', 'checkpoint_interval', 'worker_processes', 'worker_batch_size',
  'http_connections', 'connection_timeout', 'retries_per_request', 'use_bulk_get', 'winning_revs_only', 'user_ctx', 'owner',
];

export interface ReplicationServiceOptions {
  /** The node's own base URL, e.g. `http://127.0.0.1:5984`. */
  nodeUrl: string;
  /** A server admin, to watch `_replicator` and to resolve bare names for admins. */
  credentials?: { username: string; password: string };
  /** The node's persistent uuid; fetched from `GET nodeUrl/` when absent. */
  serverUuid?: string;
  /** Shown as `node` in reports. */
  nodeName?: string;
  /** Replicator databases to watch (CouchDB also accepts names ending in `/_replicator`). */
  replicatorDbs?: string[];
  /** Set false to run `POST /_replicate` only. */
  watchReplicatorDbs?: boolean;
  /** Create a watched replicator database when it is missing. */
  createReplicatorDbs?: boolean;
  maxJobs?: number;
  /** CouchDB's `[replicator] interval`, in milliseconds. */
  intervalMs?: number;
  restartBackoff?: BackoffPolicy;
  heartbeatMs?: number;
  feed?: 'continuous' | 'longpoll';
  clock?: Clock;
  random?: Random;
  /** Replace HTTP endpoints (in-process simulations). */
  createEndpoint?: EndpointFactory;
}

export interface ReplicateResponse {
  status: number;
  body: JsonObject;
}

function num(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ReplicationError(400, 'query_parse_error', `Invalid value: ${String(value)}`);
  return n;
}

function specKey(doc: Doc): string {
  const picked: JsonObject = {};
  for (const field of REPLICATION_SPEC_FIELDS) if (doc[field] !== undefined) picked[field] = doc[field];
  return canonicalJson(picked);
}

function isAdmin(userCtx: UserCtx | undefined): boolean {
  return !userCtx || userCtx.roles.includes('_admin');
}

export class ReplicationService {
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly nodeBase: URL;
  private readonly adminHeaders: { [name: string]: string };
  private scheduler: Scheduler | null = null;
  private readonly watchers = new Map<string, ReplicatorDbWatcher>();
  private readonly writeBacks = new Set<Promise<void>>();
  private starting: Promise<void> | null = null;
  private closed = false;
  /** Requests, answers, checkpoints and document state updates, for the node's `_stats`. */
  readonly metrics: ReplicatorMetrics = newReplicatorMetrics();

  constructor(private readonly options: ReplicationServiceOptions) {
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
    this.nodeBase = new URL(options.nodeUrl.endsWith('/') ? options.nodeUrl : options.nodeUrl + '/');
    this.adminHeaders = {};
    if (options.credentials) {
      const { username, password } = options.credentials;
      this.adminHeaders['authorization'] = 'Basic ' + Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
    }
  }

  /** Learns the server uuid and starts watching replicator databases; resolves once their documents are loaded. */
  start(): Promise<void> {
    this.starting ??= this.doStart().catch((err: unknown) => {
      // Let the next call try again (the node may not have been listening yet).
      this.starting = null;
      throw err;
    });
    return this.starting;
  }

  private nodeEndpoint(path: string): HttpEndpoint {
    return new HttpEndpoint(
      { url: new URL(path, this.nodeBase), headers: { ...this.adminHeaders }, user: this.options.credentials?.username ?? null, label: new URL(path, this.nodeBase).href },
      { clock: this.clock, random: this.random },
    );
  }

  private async doStart(): Promise<void> {
    let uuid = this.options.serverUuid;
    if (uuid === undefined) {
      // Any database URL will do: `serverUuid()` reads the server root above it.
      const probe = this.nodeEndpoint('_replicator/');
      try {
        const fetched = await probe.serverUuid();
        if (fetched === null) throw new ReplicationError(500, 'no_server_uuid', `${this.nodeBase.href} reports no uuid`);
        uuid = fetched;
      } finally {
        await probe.close();
      }
    }
    if (this.closed) return;
    const schedulerOptions: ConstructorParameters<typeof Scheduler>[0] = {
      serverUuid: uuid,
      clock: this.clock,
      random: this.random,
      feed: this.options.feed ?? 'continuous',
      heartbeatMs: this.options.heartbeatMs ?? HEARTBEAT_MS_DEFAULT,
      onTerminal: (job) => this.recordTerminal(job),
      metrics: this.metrics,
    };
    if (this.options.nodeName !== undefined) schedulerOptions.nodeName = this.options.nodeName;
    if (this.options.maxJobs !== undefined) schedulerOptions.maxJobs = this.options.maxJobs;
    if (this.options.intervalMs !== undefined) schedulerOptions.intervalMs = this.options.intervalMs;
    if (this.options.restartBackoff !== undefined) schedulerOptions.restartBackoff = this.options.restartBackoff;
    if (this.options.createEndpoint !== undefined) schedulerOptions.createEndpoint = this.options.createEndpoint;
    this.scheduler = new Scheduler(schedulerOptions);
    this.scheduler.startRotation();
    if (this.options.watchReplicatorDbs === false) return;
    for (const db of this.options.replicatorDbs ?? ['_replicator']) {
      const watcher = new ReplicatorDbWatcher(
        db,
        this.nodeEndpoint(`${encodeURIComponent(db)}/`),
        (docId, doc) => this.onReplicatorDoc(db, docId, doc),
        () => this.scheduler?.removeDatabase(db),
        {
          clock: this.clock,
          random: this.random,
          heartbeatMs: this.options.heartbeatMs ?? HEARTBEAT_MS_DEFAULT,
          feed: this.options.feed ?? 'continuous',
          createIfMissing: this.options.createReplicatorDbs ?? true,
        },
      );
      this.watchers.set(db, watcher);
      watcher.start();
    }
    await Promise.all([...this.watchers.values()].map((w) => w.ready));
  }

  private async ready(): Promise<Scheduler> {
    if (this.closed) throw new ReplicationError(503, 'service_unavailable', 'replicator closed');
    await this.start();
    if (!this.scheduler) throw new ReplicationError(503, 'service_unavailable', 'replicator not started');
    return this.scheduler;
  }

  private local(userCtx: UserCtx | undefined): LocalNode {
    return { baseUrl: this.nodeBase, headers: isAdmin(userCtx) ? { ...this.adminHeaders } : {} };
  }

  /** `POST /_replicate`. Throws `ReplicationError`s (400 bad_request, 404 db_not_found / not_found, 401, 500). */
  async replicate(body: unknown, userCtx?: UserCtx): Promise<ReplicateResponse> {
    const scheduler = await this.ready();
    const command = parseReplicateCommand(body, this.local(userCtx));
    const user = userCtx?.name ?? null;
    if (command.kind === 'cancel') {
      const id = command.replicationId ?? (command.request ? (await scheduler.computeId(command.request)).id : '');
      const job = scheduler.findTransient(id);
      if (!job || !job.replicationId) throw new ReplicationError(404, 'not_found', `Replication ${id} not found`);
      if (!isAdmin(userCtx) && job.user !== user) {
        throw new ReplicationError(401, 'unauthorized', 'Only the user who started a replication, or a server admin, may cancel it.');
      }
      const cancelled = job.replicationId.id;
      await scheduler.cancel(job);
      return { status: 200, body: { ok: true, _local_id: cancelled } };
    }
    const request = command.request;
    const id = await scheduler.computeId(request);
    if (request.continuous) {
      scheduler.startContinuous(request, id, user);
      return { status: 202, body: { ok: true, _local_id: id.id } };
    }
    const result = await scheduler.runOneShot(request, id, user);
    return { status: 200, body: result };
  }

  private onReplicatorDoc(database: string, docId: string, doc: Doc | null): void {
    const scheduler = this.scheduler;
    if (!scheduler) return;
    if (doc === null) {
      scheduler.removeDocJob(database, docId);
      return;
    }
    const key = specKey(doc);
    const state = doc['_replication_state'];
    const rev = doc._rev ?? null;
    if (state === 'completed' || state === 'failed') {
      const details: { reason?: string; stats?: JsonObject; timeMs?: number; specKey: string } = { specKey: key };
      if (typeof doc['_replication_state_reason'] === 'string') details.reason = doc['_replication_state_reason'];
      const stats = doc['_replication_stats'];
      if (stats && typeof stats === 'object') details.stats = stats as JsonObject;
      const time = typeof doc['_replication_state_time'] === 'string' ? Date.parse(doc['_replication_state_time']) : NaN;
      if (!Number.isNaN(time)) details.timeMs = time;
      scheduler.recordTerminalDoc(database, docId, rev, state, details);
      return;
    }
    try {
      const request = parseReplicationRequest(doc, { baseUrl: this.nodeBase, headers: {} });
      const userCtx = doc['user_ctx'] as { name?: unknown } | undefined;
      const user = typeof userCtx?.name === 'string' ? userCtx.name : typeof doc['owner'] === 'string' ? doc['owner'] : null;
      scheduler.upsertDocJob(database, docId, rev, { request, specKey: key, user });
    } catch (err) {
      const reason = err instanceof ReplicationError ? err.reason : err instanceof Error ? err.message : String(err);
      scheduler.upsertDocJob(database, docId, rev, { error: reason, specKey: key });
    }
  }

  /** Writes `_replication_state` (and stats or reason) into a doc job's document. */
  private recordTerminal(job: ReplicationJob): void {
    const watcher = job.database !== null ? this.watchers.get(job.database) : undefined;
    if (!watcher || job.docId === null || this.closed) return;
    const endpoint = this.nodeEndpoint(`${encodeURIComponent(job.database as string)}/`);
    const docId = job.docId;
    const write = (async () => {
      for (let attempt = 0; attempt < 2; attempt++) {
        const doc = await endpoint.getDoc(docId);
        if (!doc || specKey(doc) !== job.specKey) return; // edited or deleted meanwhile: its new version rules
        doc['_replication_state'] = job.state;
        doc['_replication_state_time'] = iso8601(this.clock.now());
        if (job.state === 'completed') {
          delete doc['_replication_state_reason'];
          const stats = this.scheduler?.jobStats(job);
          doc['_replication_stats'] = {
            revisions_checked: stats?.missing_checked ?? 0,
            missing_revisions_found: stats?.missing_found ?? 0,
            docs_read: stats?.docs_read ?? 0,
            docs_written: stats?.docs_written ?? 0,
            changes_pending: null,
            doc_write_failures: stats?.doc_write_failures ?? 0,
            checkpointed_source_seq: job.lastCheckpointedSeq ?? null,
            start_time: iso8601(job.startTimeMs),
          };
        } else {
          delete doc['_replication_stats'];
          doc['_replication_state_reason'] = job.lastError ?? 'unknown error';
        }
        try {
          await endpoint.putDoc(doc);
          if (job.state === 'completed') this.metrics.completedStateUpdates++;
          else this.metrics.failedStateUpdates++;
          return;
        } catch (err) {
          if (attempt === 1) throw err;
        }
      }
    })()
      .catch((err: unknown) => log('could not record %s in %s/%s: %s', job.state, job.database, docId, err instanceof Error ? err.message : String(err)))
      .finally(async () => {
        await endpoint.close();
        this.writeBacks.delete(write);
      });
    this.writeBacks.add(write);
  }

  /** Applies `[replicator] max_jobs` and `interval` while running (kept for a scheduler not started yet). */
  setSchedulerLimits(limits: { maxJobs?: number; intervalMs?: number }): void {
    if (limits.maxJobs !== undefined) this.options.maxJobs = limits.maxJobs;
    if (limits.intervalMs !== undefined) this.options.intervalMs = limits.intervalMs;
    this.scheduler?.setLimits(limits);
  }

  /** How many jobs are in each state, for the node's `_stats` (couch_replicator.jobs.*). */
  jobCounts(): { running: number; pending: number; crashed: number; total: number; adds: number; starts: number; stops: number; crashes: number; removes: number } {
    const jobs = this.scheduler?.allJobs() ?? [];
    let running = 0;
    let pending = 0;
    let crashed = 0;
    for (const j of jobs) {
      if (j.state === 'running') running++;
      else if (j.state === 'pending') pending++;
      else if (j.state === 'crashing') crashed++;
    }
    const events = this.scheduler?.events ?? { adds: 0, starts: 0, stops: 0, crashes: 0, removes: 0 };
    return { running, pending, crashed, total: jobs.length, ...events };
  }

  /** `GET /_scheduler/jobs?limit&skip`. */
  async schedulerJobs(query: { limit?: unknown; skip?: unknown } = {}): Promise<JsonObject> {
    const scheduler = await this.ready();
    const page: { limit?: number; skip?: number } = {};
    const limit = num(query.limit);
    const skip = num(query.skip);
    if (limit !== undefined) page.limit = limit;
    if (skip !== undefined) page.skip = skip;
    return schedulerJobs(scheduler, page);
  }

  /** `GET /_scheduler/jobs/{id}`; 404 when unknown. */
  async schedulerJob(id: string): Promise<JsonObject> {
    const scheduler = await this.ready();
    const row = schedulerJob(scheduler, id);
    if (!row) throw new ReplicationError(404, 'not_found', 'unknown replication job');
    return row;
  }

  /** `GET /_scheduler/docs[/{db}]?limit&skip&states`. */
  async schedulerDocs(database?: string, query: { limit?: unknown; skip?: unknown; states?: unknown } = {}): Promise<JsonObject> {
    const scheduler = await this.ready();
    if (database !== undefined && database !== '_replicator' && !database.endsWith('/_replicator')) {
      throw new ReplicationError(400, 'bad_request', `${database} is not a replicator database`);
    }
    const page: { limit?: number; skip?: number; states?: ReturnType<typeof parseStates> } = {
      states: parseStates(typeof query.states === 'string' ? query.states : undefined),
    };
    const limit = num(query.limit);
    const skip = num(query.skip);
    if (limit !== undefined) page.limit = limit;
    if (skip !== undefined) page.skip = skip;
    return schedulerDocs(scheduler, database ?? null, page);
  }

  /** `GET /_scheduler/docs/{db}/{docid}`; 404 when unknown. */
  async schedulerDoc(database: string, docId: string): Promise<JsonObject> {
    const scheduler = await this.ready();
    const row = schedulerDoc(scheduler, database, docId);
    if (!row) throw new ReplicationError(404, 'not_found', 'missing');
    return row;
  }

  /** The replication entries of `GET /_active_tasks` (the node adds its own tasks). */
  activeTasks(): JsonObject[] {
    return this.scheduler ? activeTasks(this.scheduler) : [];
  }

  /** Stops every job (each checkpoints), feed, timer and socket. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.watchers.values()].map((w) => w.close()));
    await this.starting?.catch(() => undefined);
    await Promise.all([...this.watchers.values()].map((w) => w.close()));
    await this.scheduler?.close();
    while (this.writeBacks.size > 0) await Promise.allSettled([...this.writeBacks]);
  }
}
