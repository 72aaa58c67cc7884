// The scheduler: runs replication jobs, restarts the ones that crash, and
// keeps what `_scheduler/jobs`, `_scheduler/docs` and `_active_tasks` report.
//
// Jobs come from two places: `POST /_replicate` (transient jobs) and documents
// in `_replicator` databases (doc jobs, fed by the watcher). The rules follow
// CouchDB's scheduling replicator (replication/replicator.rst):
// - a doc job first computes its replication id (fetching filter code); if
//   that fails it waits in `error` and retries with backoff;
// - a doc whose replication is already run by another doc or job is `failed`;
// - at most `maxJobs` jobs run; the rest are `pending`, first come first served;
// - a session that fails leaves the job `crashing`; it is restarted after an
//   exponential backoff and resumes from its checkpoints; the consecutive
//   error count resets once a session makes progress;
// - a one-shot job that finishes is `completed` (the service records that in
//   its document, so a restarted node does not run it again);
// - editing a document in a way that changes the replication restarts it;
//   editing anything else is a no-op; deleting it stops the job.
// `close()` stops every session (each writes a last checkpoint) and every timer.

import type { ReplicatorMetrics } from '../metrics.js';
import { debuglog } from 'node:util';
import { realClock, type Clock, type Random } from '../clock.js';
import { ReplicationError, toReplicationError } from '../errors.js';
import type { Endpoint, JsonObject } from '../endpoint/endpoint.js';
import { HttpEndpoint } from '../endpoint/http-endpoint.js';
import type { PeerSpec } from '../endpoint/peer.js';
import { backoffDelayMs, type BackoffPolicy } from '../retry/backoff.js';
import type { ReplicationRequest } from '../protocol/replication-options.js';
import type { ReplicationId } from '../protocol/replication-id.js';
import type { SessionStats } from '../protocol/replication-log.js';
import { Replication } from '../pipeline/replication.js';
import { resolveReplicationId } from '../pipeline/resolve-replication-id.js';
import { addStats, emptyStats } from '../pipeline/stats.js';
import { ReplicationJob, type UserCtx } from './job.js';

const log = debuglog('chaise:replicator');

/** CouchDB's `[replicator] max_jobs`. */
export const MAX_JOBS_DEFAULT = 500;
/** CouchDB's `[replicator] interval`: how often jobs are rotated when more wait than may run. */
export const INTERVAL_MS_DEFAULT = 60_000;
/** CouchDB's `[replicator] max_churn`: jobs stopped and started per rotation at most. */
export const MAX_CHURN = 20;
/**
 * Waits before restarting a crashed job: CouchDB starts at 30 s; 5 s brings a
 * job back quickly after a peer restart, and the doubling still spares a peer
 * that stays down. The cap keeps a long outage to one attempt an hour.
 */
export const JOB_RESTART_BACKOFF: BackoffPolicy = { baseMs: 5_000, capMs: 3_600_000 };

export type EndpointFactory = (peer: PeerSpec, request: ReplicationRequest) => Endpoint;

export interface SchedulerOptions {
  serverUuid: string;
  nodeName: string;
  maxJobs: number;
  /** Rotation period: running jobs make room for pending ones this often (when all slots are busy). */
  intervalMs: number;
  restartBackoff: BackoffPolicy;
  createEndpoint: EndpointFactory;
  clock: Clock;
  random: Random;
  feed: 'continuous' | 'longpoll';
  heartbeatMs: number;
  /** Called when a doc job reaches `completed` or `failed`, to record it in its document. */
  onTerminal?: (job: ReplicationJob) => void;
  /** Where requests and checkpoints are counted (the node's `_stats`), if anywhere. */
  metrics?: ReplicatorMetrics;
}

interface Waiter {
  resolve: (result: JsonObject) => void;
  reject: (err: unknown) => void;
}

export function defaultEndpointFactory(clock: Clock, random: Random, metrics?: ReplicatorMetrics): EndpointFactory {
  return (peer, request) =>
    new HttpEndpoint(peer, {
      connections: request.httpConnections,
      timeoutMs: request.connectionTimeoutMs,
      retries: request.retriesPerRequest,
      useBulkGet: request.useBulkGet,
      clock,
      random,
      metrics,
    });
}

export class Scheduler {
  private readonly jobs = new Map<string, ReplicationJob>();
  private readonly waiters = new Map<ReplicationJob, Waiter[]>();
  /** Every running session, with the promise that settles once it ended and closed its endpoints. */
  private readonly sessions = new Map<Replication, Promise<void>>();
  private serial = 0;
  private closed = false;
  private rotation: AbortController | null = null;
  /** Job events since start (CouchDB's couch_replicator.jobs.adds, starts, stops, crashes, removes). */
  readonly events = { adds: 0, starts: 0, stops: 0, crashes: 0, removes: 0 };
  /** Jobs whose session is being stopped to make room; they resume as pending. */
  private readonly paused = new Set<ReplicationJob>();
  readonly options: SchedulerOptions;

  constructor(options: Partial<SchedulerOptions> & { serverUuid: string }) {
    const clock = options.clock ?? realClock;
    const random = options.random ?? Math.random;
    this.options = {
      nodeName: 'nonode@nohost',
      maxJobs: MAX_JOBS_DEFAULT,
      intervalMs: INTERVAL_MS_DEFAULT,
      restartBackoff: JOB_RESTART_BACKOFF,
      createEndpoint: defaultEndpointFactory(clock, random, options.metrics),
      feed: 'continuous',
      heartbeatMs: 10_000,
      ...options,
      clock,
      random,
    };
  }

  private now(): number {
    return this.options.clock.now();
  }

  /** Every job, in no particular order. */
  allJobs(): ReplicationJob[] {
    return [...this.jobs.values()];
  }

  get(key: string): ReplicationJob | undefined {
    return this.jobs.get(key);
  }

  private newJob(key: string, database: string | null, docId: string | null, request: ReplicationRequest | null, specKey: string, user: string | null): ReplicationJob {
    this.events.adds++;
    const job = new ReplicationJob(key, database, docId, request, specKey, user, this.now(), ++this.serial);
    job.record('added', this.now());
    return job;
  }

  /** Computes a replication id as the node would (used by `_replicate` before it creates a job). */
  async computeId(request: ReplicationRequest, signal?: AbortSignal): Promise<ReplicationId> {
    const source = this.options.createEndpoint(request.source, request);
    const target = this.options.createEndpoint(request.target, request);
    try {
      return await resolveReplicationId(this.options.serverUuid, source, target, request, signal);
    } finally {
      await Promise.all([source.close(), target.close()]);
    }
  }

  // ---- transient jobs (POST /_replicate) ----

  /** Runs a one-shot replication now; resolves with its result (joining an identical one already running). */
  async runOneShot(request: ReplicationRequest, id: ReplicationId, user: string | null): Promise<JsonObject> {
    if (this.closed) throw new ReplicationError(503, 'service_unavailable', 'replicator is shutting down');
    const key = `transient:${id.id}`;
    let job = this.activeById(id.id);
    if (!job) {
      job = this.newJob(key, null, null, request, '', user);
      job.replicationId = id;
      this.jobs.set(key, job);
      this.startJob(job);
    }
    const target = job;
    return new Promise<JsonObject>((resolve, reject) => {
      const list = this.waiters.get(target) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(target, list);
    });
  }

  /** Starts (or finds) a continuous transient job; returns it at once. */
  startContinuous(request: ReplicationRequest, id: ReplicationId, user: string | null): ReplicationJob {
    if (this.closed) throw new ReplicationError(503, 'service_unavailable', 'replicator is shutting down');
    const key = `transient:${id.id}`;
    // Posting a running replication again is a no-op, as in CouchDB (whoever started it).
    const existing = this.activeById(id.id);
    if (existing) return existing;
    const job = this.newJob(key, null, null, request, '', user);
    job.replicationId = id;
    this.jobs.set(key, job);
    job.setState('pending', this.now());
    this.schedule();
    return job;
  }

  /** The job that runs (or is about to run) replication `id`, if any. */
  private activeById(id: string): ReplicationJob | undefined {
    return this.allJobs().find((job) => job.replicationId?.id === id && isActive(job));
  }

  /** Finds a transient job by its full or base id. */
  findTransient(id: string): ReplicationJob | undefined {
    for (const job of this.jobs.values()) {
      if (!job.transient || !job.replicationId) continue;
      if (job.replicationId.id === id || job.replicationId.baseId === id) return job;
    }
    return undefined;
  }

  /** Stops and forgets a transient job. */
  async cancel(job: ReplicationJob): Promise<void> {
    await this.remove(job, 'cancelled');
  }

  // ---- doc jobs (_replicator databases) ----

  /**
   * A replicator document appeared or changed. `request` is the parsed
   * document, or an error explaining why it is invalid.
   */
  upsertDocJob(database: string, docId: string, docRev: string | null, parsed: { request: ReplicationRequest; specKey: string; user: string | null } | { error: string; specKey: string }): void {
    if (this.closed) return;
    const key = `${database}\u0000${docId}`;
    const existing = this.jobs.get(key);
    if (existing && existing.specKey === parsed.specKey && existing.state !== 'failed') {
      existing.docRev = docRev;
      return; // nothing that matters to the replication changed
    }
    // The old job writes its last checkpoint before the new one reads the logs.
    const removed = existing ? this.remove(existing, 'document changed') : Promise.resolve();
    if ('error' in parsed) {
      const job = this.newJob(key, database, docId, null, parsed.specKey, null);
      job.docRev = docRev;
      job.lastError = parsed.error;
      job.setState('failed', this.now());
      this.jobs.set(key, job);
      this.options.onTerminal?.(job);
      return;
    }
    const job = this.newJob(key, database, docId, parsed.request, parsed.specKey, parsed.user);
    job.docRev = docRev;
    this.jobs.set(key, job);
    void removed.then(() => (this.jobs.get(key) === job ? this.initialize(job) : undefined));
  }

  /** A replicator document that already records a terminal state: report it, never run it. */
  recordTerminalDoc(database: string, docId: string, docRev: string | null, state: 'completed' | 'failed', details: { reason?: string; stats?: JsonObject; timeMs?: number; specKey: string }): void {
    const key = `${database}\u0000${docId}`;
    const existing = this.jobs.get(key);
    if (existing) {
      existing.docRev = docRev;
      return; // our own write-back, or a doc rewritten while its job runs: CouchDB ignores both
    }
    const job = this.newJob(key, database, docId, null, details.specKey, null);
    job.docRev = docRev;
    job.setState(state, details.timeMs ?? this.now());
    if (details.reason !== undefined) job.lastError = details.reason;
    if (details.stats) job.result = { stats: details.stats };
    this.jobs.set(key, job);
  }

  /** The document was deleted. */
  removeDocJob(database: string, docId: string): void {
    const job = this.jobs.get(`${database}\u0000${docId}`);
    if (job) void this.remove(job, 'document deleted');
  }

  /** The replicator database was deleted: stop all of its jobs. */
  removeDatabase(database: string): void {
    for (const job of this.jobs.values()) if (job.database === database) void this.remove(job, 'database deleted');
  }

  private async initialize(job: ReplicationJob): Promise<void> {
    const request = job.request;
    if (!request) return;
    job.setState('initializing', this.now());
    let id: ReplicationId;
    try {
      id = await this.computeId(request);
    } catch (err) {
      if (this.jobs.get(job.key) !== job) return;
      const e = toReplicationError(err);
      job.errorCount++;
      job.lastError = `${e.error}: ${e.reason}`;
      job.setState('error', this.now());
      log('replicator doc %s/%s: cannot compute id (%s)', job.database, job.docId, job.lastError);
      this.retryLater(job, () => void this.initialize(job));
      return;
    }
    if (this.jobs.get(job.key) !== job) return;
    job.replicationId = id;
    const twin = this.allJobs().find((other) => other !== job && other.replicationId?.id === id.id && isActive(other));
    if (twin) {
      job.lastError = twin.transient
        ? `Replication \`${id.id}\` specified by document \`${job.docId}\` already started by a \`_replicate\` request`
        : `Replication \`${id.id}\` specified by document \`${job.docId}\` already started, triggered by document \`${twin.docId}\` from db \`${twin.database}\``;
      job.setState('failed', this.now());
      this.options.onTerminal?.(job);
      return;
    }
    job.errorCount = 0;
    job.lastError = null;
    job.setState('pending', this.now());
    this.schedule();
  }

  // ---- running ----

  /**
   * New limits (the `[replicator]` config changed): more slots start pending jobs at once; fewer
   * stop the most recently started jobs, which wait as pending. The rotation timer follows
   * the new interval.
   */
  setLimits(limits: { maxJobs?: number; intervalMs?: number }): void {
    if (limits.maxJobs !== undefined) this.options.maxJobs = limits.maxJobs;
    if (limits.intervalMs !== undefined && limits.intervalMs !== this.options.intervalMs) {
      this.options.intervalMs = limits.intervalMs;
      if (this.rotation) this.startRotation();
    }
    const running = this.allJobs().filter((j) => j.state === 'running' && j.session);
    const excess = running.length - this.options.maxJobs;
    if (excess > 0) {
      running.sort((a, b) => b.lastStartedMs - a.lastStartedMs);
      for (const job of running.slice(0, excess)) this.pause(job);
    }
    this.schedule();
  }

  /** Starts rotating jobs every `intervalMs` (CouchDB's scheduler does; `close()` stops it). */
  startRotation(): void {
    this.rotation?.abort();
    const ctl = new AbortController();
    this.rotation = ctl;
    const loop = async (): Promise<void> => {
      while (!this.closed && !ctl.signal.aborted) {
        try {
          await this.options.clock.sleep(this.options.intervalMs, ctl.signal);
        } catch {
          return;
        }
        if (this.closed || ctl.signal.aborted) return;
        this.rotate();
      }
    };
    void loop();
  }

  /**
   * When jobs wait and every slot is busy, the longest-running jobs (at most MAX_CHURN) make way:
   * they stop, checkpointing, and queue behind the waiting ones.
   */
  private rotate(): void {
    const pending = this.allJobs().filter((j) => j.state === 'pending').length;
    const running = this.allJobs().filter((j) => j.state === 'running' && j.session);
    if (pending === 0 || running.length < this.options.maxJobs) return this.schedule();
    running.sort((a, b) => a.lastStartedMs - b.lastStartedMs);
    for (const job of running.slice(0, Math.min(MAX_CHURN, pending))) this.pause(job);
    this.schedule();
  }

  /** Stops a running job's session; the job waits as pending (see sessionEnded). */
  private pause(job: ReplicationJob): void {
    if (!job.session) return;
    this.paused.add(job);
    job.session.stop();
    job.record('stopped', this.now(), 'rotated out');
    this.events.stops++;
    // Queued behind jobs that were already waiting.
    job.setState('pending', this.now());
  }

  private schedule(): void {
    if (this.closed) return;
    let running = 0;
    for (const job of this.jobs.values()) if (job.state === 'running') running++;
    const pending = this.allJobs()
      .filter((job) => job.state === 'pending')
      .sort((a, b) => a.lastUpdatedMs - b.lastUpdatedMs);
    for (const job of pending) {
      if (running >= this.options.maxJobs) break;
      this.startJob(job);
      running++;
    }
  }

  private startJob(job: ReplicationJob): void {
    const request = job.request;
    if (!request || !job.replicationId) return;
    this.paused.delete(job);
    job.setState('running', this.now());
    job.lastStartedMs = this.now();
    job.record('started', this.now());
    this.events.starts++;
    const source = this.options.createEndpoint(request.source, request);
    const target = this.options.createEndpoint(request.target, request);
    const session = new Replication({
      source,
      target,
      serverUuid: this.options.serverUuid,
      options: request,
      replicationId: job.replicationId,
      feed: this.options.feed,
      heartbeatMs: this.options.heartbeatMs,
      clock: this.options.clock,
      random: this.options.random,
      onProgress: () => {
        job.lastUpdatedMs = this.now();
      },
      ...(this.options.metrics ? { metrics: this.options.metrics } : {}),
    });
    job.session = session;
    const done = session
      .run()
      .then(
        (result) => this.sessionEnded(job, session, result, null),
        (err: unknown) => this.sessionEnded(job, session, null, err),
      )
      .finally(async () => {
        await Promise.all([source.close(), target.close()]);
        this.sessions.delete(session);
      });
    this.sessions.set(session, done);
  }

  private sessionEnded(job: ReplicationJob, session: Replication, result: JsonObject | null, err: unknown): void {
    const status = session.status();
    const total = job.carriedStats ? { ...job.carriedStats } : emptyStats();
    addStats(total, status.stats);
    job.lastStats = total;
    job.lastThroughSeq = status.throughSeq;
    job.lastCheckpointedSeq = status.checkpointedSeq;
    if (job.session !== session) return; // replaced or removed meanwhile
    job.session = null;
    job.carriedStats = total;
    const now = this.now();
    if (this.paused.delete(job)) {
      // Stopped to make room (setLimits, rotate): it waits its turn, resuming from its checkpoint.
      if (job.state === 'pending') this.schedule();
      return;
    }
    if (err === null && result !== null) {
      if (status.phase === 'stopped') return;
      job.result = result;
      job.errorCount = 0;
      job.setState('completed', now);
      job.record('completed', now);
      this.settleWaiters(job, result, null);
      if (job.transient) this.jobs.delete(job.key);
      else this.options.onTerminal?.(job);
      this.schedule();
      return;
    }
    const e = toReplicationError(err);
    if (job.transient && !job.request?.continuous) {
      this.settleWaiters(job, null, e);
      this.jobs.delete(job.key);
      this.schedule();
      return;
    }
    const progressed = status.stats.missing_checked > 0 || JSON.stringify(status.throughSeq) !== JSON.stringify(status.startSeq);
    job.errorCount = progressed ? 1 : job.errorCount + 1;
    job.lastError = `${e.error}: ${e.reason}`;
    job.setState('crashing', now);
    job.record('crashed', now, job.lastError);
    this.events.crashes++;
    log('replication %s crashed (%s); restart #%d pending', job.replicationId?.id, job.lastError, job.errorCount);
    this.retryLater(job, () => {
      job.setState('pending', this.now());
      this.schedule();
    });
    this.schedule();
  }

  private retryLater(job: ReplicationJob, then: () => void): void {
    job.timer?.abort();
    const timer = new AbortController();
    job.timer = timer;
    const waitMs = backoffDelayMs(Math.max(0, job.errorCount - 1), this.options.restartBackoff, this.options.random);
    this.options.clock.sleep(waitMs, timer.signal).then(
      () => {
        if (job.timer === timer) job.timer = null;
        if (!this.closed && this.jobs.get(job.key) === job) then();
      },
      () => undefined,
    );
  }

  private settleWaiters(job: ReplicationJob, result: JsonObject | null, err: unknown): void {
    const list = this.waiters.get(job) ?? [];
    this.waiters.delete(job);
    for (const waiter of list) {
      if (result !== null) waiter.resolve(result);
      else waiter.reject(err);
    }
  }

  private async remove(job: ReplicationJob, why: string): Promise<void> {
    if (this.jobs.get(job.key) === job) this.jobs.delete(job.key);
    job.timer?.abort();
    job.timer = null;
    job.record('stopped', this.now(), why);
    this.events.removes++;
    if (job.session) this.events.stops++;
    const session = job.session;
    if (session) {
      session.stop();
      // Let the session write its last checkpoint before we report it gone.
      await this.sessions.get(session);
    }
    this.settleWaiters(job, null, new ReplicationError(404, 'not_found', `replication ${why}`));
    this.schedule();
  }

  /** Stops every session (each checkpoints) and every timer. */
  async close(): Promise<void> {
    this.closed = true;
    this.rotation?.abort();
    for (const job of this.jobs.values()) {
      job.timer?.abort();
      job.timer = null;
      job.session?.stop();
    }
    while (this.sessions.size > 0) await Promise.allSettled([...this.sessions.values()]);
    for (const job of this.jobs.values()) this.settleWaiters(job, null, new ReplicationError(503, 'service_unavailable', 'replicator closed'));
  }

  /** Current stats of a job: earlier sessions plus the running one. */
  jobStats(job: ReplicationJob): SessionStats {
    const total = job.carriedStats ? { ...job.carriedStats } : emptyStats();
    if (job.session) addStats(total, job.session.status().stats);
    return total;
  }
}

function isActive(job: ReplicationJob): boolean {
  return job.state === 'pending' || job.state === 'running' || job.state === 'crashing' || job.state === 'initializing';
}

export type { UserCtx };
