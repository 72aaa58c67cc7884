// One replication session, source → target, from start to result.
//
// The steps are the protocol's (API reference B.1):
//   verify both peers (creating the target if asked) → compute the
//   replication id → read the logs on both sides and pick the start sequence
//   → read `_changes` → for each batch `_revs_diff`, `_bulk_get`,
//   `_bulk_docs new_edits=false` → checkpoint on both sides.
// The stages overlap: a reader pages through `_changes` into a bounded queue
// while `workerProcesses` workers copy batches concurrently, and a timer
// checkpoints every `checkpointIntervalMs`, never past the last sequence
// below which every batch is done. A one-shot session ends when the feed is
// exhausted and resolves with CouchDB's `POST /_replicate` result body. A
// continuous session runs until `stop()`, which checkpoints and resolves the
// same way. Any error stops every stage and rejects `run()`; whatever was
// checkpointed stays valid, so a restarted session resumes from there.

import type { ReplicatorMetrics } from '../metrics.js';
import { setMaxListeners } from 'node:events';
import { debuglog } from 'node:util';
import { dbNotFound, PeerError, ReplicationError, ReplicationStopped } from '../errors.js';
import { realClock, randomHex, type Clock, type Random } from '../clock.js';
import type { ChangesFilter, Endpoint, JsonObject, LocalDoc, Seq } from '../endpoint/endpoint.js';
import { HEARTBEAT_MS_DEFAULT } from '../endpoint/http-endpoint.js';
import { compareReplicationLogs, logBody, type SessionStats } from '../protocol/replication-log.js';
import type { ReplicationId } from '../protocol/replication-id.js';
import { BatchQueue } from './batch-queue.js';
import { copyBatch } from './batch-copier.js';
import { CHANGES_PAGE_BATCHES, ChangesReader, type Batch } from './changes-reader.js';
import { Checkpointer } from './checkpointer.js';
import { resolveReplicationId } from './resolve-replication-id.js';
import { SeqTracker } from './seq-tracker.js';
import { RevsDiffSkipper } from './revs-diff-skipper.js';
import { addStats, emptyStats } from './stats.js';

const log = debuglog('chaise:replicator');

/** Batches waiting for a worker, per worker: enough to keep workers busy while the reader waits on the source. */
export const QUEUED_BATCHES_PER_WORKER = 2;
/** Requests a worker may have in flight at once (a fallback `open_revs` fan-out is the widest). */
const ABORT_LISTENERS_PER_WORKER = 12;
/** The reader, the checkpointer and the pipeline's own listeners. */
const ABORT_LISTENERS_STAGES = 16;
/** A final checkpoint after `stop()` gets this long; past it the previous checkpoint stands. */
export const FINAL_CHECKPOINT_TIMEOUT_MS = 10_000;

/** What a replication does, independent of how its peers are reached. */
export interface ReplicationOptions {
  continuous: boolean;
  createTarget: boolean;
  createTargetParams: { [key: string]: string };
  filter: ChangesFilter | undefined;
  sinceSeq?: Seq;
  winningRevsOnly: boolean;
  useCheckpoints: boolean;
  checkpointIntervalMs: number;
  workerProcesses: number;
  workerBatchSize: number;
}

export interface ReplicationSettings {
  source: Endpoint;
  target: Endpoint;
  /** The uuid of the server running the job: part of the replication id. */
  serverUuid: string;
  options: ReplicationOptions;
  /** Precomputed by a scheduler; computed (fetching filter code) when absent. */
  replicationId?: ReplicationId;
  /** Live feed flavour for continuous sessions. */
  feed?: 'continuous' | 'longpoll';
  heartbeatMs?: number;
  clock?: Clock;
  random?: Random;
  /** Called after each batch and checkpoint (for progress reports). */
  onProgress?: () => void;
  /** Skip `_revs_diff` while the target is evidently empty (default true; see revs-diff-skipper.ts). */
  skipRevsDiff?: boolean;
  /** Where checkpoints are counted (the node's `_stats`), if anywhere. */
  metrics?: ReplicatorMetrics;
  /** Record the target's update seq in each checkpoint's history entry (the lounge translates `_changes` positions with it). */
  recordTargetSeq?: boolean;
}

export type ReplicationPhase = 'starting' | 'running' | 'stopping' | 'completed' | 'stopped' | 'failed';

export interface ReplicationStatus {
  phase: ReplicationPhase;
  replicationId: ReplicationId | null;
  sessionId: string;
  stats: SessionStats;
  startSeq: Seq;
  /** Every change up to here is on the target. */
  throughSeq: Seq;
  /** Last sequence of the newest finished batch. */
  highestSeqDone: Seq;
  /** The sequence of the last checkpoint written. */
  checkpointedSeq: Seq;
  /** The source's `update_seq` when the session started. */
  sourceUpdateSeq: Seq;
  changesPending: number | null;
  startedAtMs: number;
  updatedAtMs: number;
}

export class Replication {
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly controller = new AbortController();
  private readonly sessionId: string;
  private phase: ReplicationPhase = 'starting';
  private id: ReplicationId | null;
  private readonly stats: SessionStats = emptyStats();
  private tracker: SeqTracker | null = null;
  private reader: ChangesReader | null = null;
  private checkpointer: Checkpointer | null = null;
  private startSeq: Seq = 0;
  private sourceUpdateSeq: Seq = null;
  private readonly startedAtMs: number;
  private updatedAtMs: number;
  private stopRequested = false;
  private firstError: unknown = null;
  /** Change rows whose batch is on the target. */
  private rowsDone = 0;
  /** The source's log as read at start (the `no_changes` result repeats it). */
  private sourceLogBody: JsonObject = {};

  constructor(private readonly settings: ReplicationSettings) {
    this.clock = settings.clock ?? realClock;
    this.random = settings.random ?? Math.random;
    this.sessionId = randomHex(16, this.random);
    // Every in-flight request listens to this signal: per worker at most one
    // bulk request, a few attachment or open_revs fetches; plus the stages.
    setMaxListeners(settings.options.workerProcesses * ABORT_LISTENERS_PER_WORKER + ABORT_LISTENERS_STAGES, this.controller.signal);
    this.id = settings.replicationId ?? null;
    this.startedAtMs = this.clock.now();
    this.updatedAtMs = this.startedAtMs;
  }

  /** Asks a running session to stop; `run()` then checkpoints and resolves. */
  stop(): void {
    if (this.stopRequested) return;
    this.stopRequested = true;
    if (this.phase === 'running' || this.phase === 'starting') this.phase = 'stopping';
    this.controller.abort(new ReplicationStopped());
  }

  status(): ReplicationStatus {
    const tracker = this.tracker;
    return {
      phase: this.phase,
      replicationId: this.id,
      sessionId: this.sessionId,
      stats: { ...this.stats },
      startSeq: this.startSeq,
      throughSeq: tracker ? tracker.throughSeq : this.startSeq,
      highestSeqDone: tracker ? tracker.highestSeqDone : this.startSeq,
      checkpointedSeq: this.checkpointer ? this.checkpointer.committedSeq : this.startSeq,
      sourceUpdateSeq: this.sourceUpdateSeq,
      changesPending: this.pendingCount(),
      startedAtMs: this.startedAtMs,
      updatedAtMs: this.updatedAtMs,
    };
  }

  /** CouchDB's `changes_pending`: what the source still has, plus what was read but is not on the target yet. */
  private pendingCount(): number | null {
    const reader = this.reader;
    if (!reader || reader.pending === null) return null;
    return reader.pending + Math.max(0, reader.rowsRead - this.rowsDone);
  }

  private touch(): void {
    this.updatedAtMs = this.clock.now();
    this.settings.onProgress?.();
  }

  /** Runs the session; resolves with CouchDB's `_replicate` result body. */
  async run(): Promise<JsonObject> {
    try {
      const result = await this.session(this.controller.signal);
      this.phase = this.stopRequested ? 'stopped' : 'completed';
      this.touch();
      return result;
    } catch (err) {
      if (this.stopRequested && this.firstError === null) {
        // Stopped before the pipeline ran (while verifying peers or reading logs).
        this.phase = 'stopped';
        this.touch();
        return { ok: true, no_changes: true, ...this.sourceLogBody };
      }
      this.phase = 'failed';
      this.touch();
      throw this.firstError ?? err;
    }
  }

  private async session(signal: AbortSignal): Promise<JsonObject> {
    const { source, target, options } = this.settings;
    await this.verifyPeers(signal);
    this.id ??= await resolveReplicationId(this.settings.serverUuid, source, target, options, signal);
    const localId = this.id.baseId;

    let sourceLog: LocalDoc | null = null;
    let targetLog: LocalDoc | null = null;
    if (options.useCheckpoints) {
      [sourceLog, targetLog] = await Promise.all([source.getLocal(localId, signal), target.getLocal(localId, signal)]);
    }
    let resume = compareReplicationLogs(sourceLog, targetLog);
    let writeSource = true;
    if (options.useCheckpoints && sourceLog === null && targetLog !== null) {
      // Only the target remembers. Either the source lost its log (trust
      // nothing) or it is read-only (the target's log is all there is). Probe
      // as PouchDB does: a source that forbids the write is read-only.
      const probe = await this.probeSourceWritable(localId, signal);
      if (!probe.writable) {
        writeSource = false;
        resume = compareReplicationLogs(targetLog, targetLog);
      } else {
        sourceLog = probe.doc;
      }
    }
    this.startSeq = options.sinceSeq !== undefined ? options.sinceSeq : resume.startSeq;
    const tracker = new SeqTracker(this.startSeq);
    this.tracker = tracker;
    this.checkpointer = new Checkpointer({
      source,
      target,
      docId: this.id.checkpointDocId,
      sessionId: this.sessionId,
      startSeq: this.startSeq,
      startTimeMs: this.startedAtMs,
      previousHistory: resume.history,
      byDocIds: options.filter?.kind === 'doc_ids',
      sourceRev: sourceLog?._rev,
      targetRev: targetLog?._rev,
      writeSource,
      ...(this.settings.metrics ? { metrics: this.settings.metrics } : {}),
      ...(this.settings.recordTargetSeq ? { recordTargetSeq: true } : {}),
    });
    this.sourceLogBody = logBody(sourceLog);
    this.phase = this.stopRequested ? 'stopping' : 'running';
    this.touch();
    log('replication %s (%s -> %s) starts at %j, session %s', this.id.id, source.label, target.label, this.startSeq, this.sessionId);

    const reader = new ChangesReader(source, {
      since: this.startSeq,
      filter: options.filter,
      style: options.winningRevsOnly ? 'main_only' : 'all_docs',
      batchSize: options.workerBatchSize,
      batchesPerPage: Math.min(options.workerProcesses, CHANGES_PAGE_BATCHES),
      continuous: options.continuous,
      feed: this.settings.feed ?? 'continuous',
      heartbeatMs: this.settings.heartbeatMs ?? HEARTBEAT_MS_DEFAULT,
      clock: this.clock,
      random: this.random,
    });
    this.reader = reader;
    const queue = new BatchQueue<Batch>(options.workerProcesses * QUEUED_BATCHES_PER_WORKER);
    const skipper = new RevsDiffSkipper(this.settings.skipRevsDiff ?? true);
    const fail = (err: unknown): void => {
      if (this.firstError === null && !(err instanceof ReplicationStopped) && !this.stopRequested) this.firstError = err;
      queue.fail(err);
      if (!signal.aborted) this.controller.abort(err);
    };
    signal.addEventListener('abort', () => queue.fail(signal.reason), { once: true });

    const readerDone = reader.run(queue, tracker, signal).catch((err: unknown) => {
      fail(err);
      throw err;
    });
    if (this.settings.metrics) this.settings.metrics.workersStarted += options.workerProcesses;
    const workers = Array.from({ length: options.workerProcesses }, async () => {
      for (;;) {
        const batch = await queue.take();
        if (batch === null) return;
        try {
          const batchStats = await copyBatch(batch.rows, { source, target, signal, revsDiffSkipper: skipper });
          addStats(this.stats, batchStats);
          tracker.done(batch.index);
          this.rowsDone += batch.rows.length;
          this.touch();
        } catch (err) {
          fail(err);
          throw err;
        }
      }
    });
    const ticker = new AbortController();
    const onStop = (): void => ticker.abort(signal.reason);
    signal.addEventListener('abort', onStop, { once: true });
    const checkpoints = this.checkpointLoop(ticker.signal, signal).catch((err: unknown) => {
      if (!ticker.signal.aborted) fail(err);
    });
    // Wait for every stage to settle, so no request is in flight once run() returns.
    const settled = await Promise.allSettled([readerDone, ...workers]);
    ticker.abort();
    signal.removeEventListener('abort', onStop);
    await checkpoints;
    if (this.firstError !== null) throw this.firstError;
    if (!this.stopRequested) {
      const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure) throw failure.reason;
    }
    return this.finish();
  }

  /** Every `checkpointIntervalMs`, records the through sequence. */
  private async checkpointLoop(ticker: AbortSignal, signal: AbortSignal): Promise<void> {
    const { options } = this.settings;
    if (!options.useCheckpoints) return;
    for (;;) {
      try {
        await this.clock.sleep(options.checkpointIntervalMs, ticker);
      } catch {
        return;
      }
      const tracker = this.tracker;
      if (!tracker?.progressed || !this.checkpointer) continue;
      await this.checkpointer.checkpoint(tracker.throughSeq, this.stats, this.clock.now(), signal);
      this.touch();
    }
  }

  /** The last checkpoint, then the result body. */
  private async finish(): Promise<JsonObject> {
    const { options } = this.settings;
    const tracker = this.tracker;
    const checkpointer = this.checkpointer;
    if (!tracker || !checkpointer || !tracker.progressed) {
      // Nothing crossed: CouchDB answers with the existing log and `no_changes`.
      return { ok: true, no_changes: true, ...this.sourceLogBody };
    }
    if (!options.useCheckpoints) return { ok: true, use_checkpoints: false };
    const timeout = new AbortController();
    const timer = this.clock.sleep(FINAL_CHECKPOINT_TIMEOUT_MS, timeout.signal).then(
      () => timeout.abort(new ReplicationError(500, 'checkpoint_commit_failure', 'final checkpoint timed out')),
      () => undefined,
    );
    try {
      await checkpointer.checkpoint(tracker.throughSeq, this.stats, this.clock.now(), timeout.signal);
    } finally {
      timeout.abort();
      await timer;
    }
    this.touch();
    // Only filtered-out changes went by: the checkpoint moved (so the next run
    // need not rescan them), but nothing was replicated, which CouchDB calls `no_changes`.
    const nothingRead = (this.reader?.rowsRead ?? 0) === 0;
    return { ok: true, ...(nothingRead ? { no_changes: true } : {}), ...(checkpointer.lastLog ?? {}) };
  }

  private async probeSourceWritable(localId: string, signal: AbortSignal): Promise<{ writable: boolean; doc: LocalDoc | null }> {
    const { source } = this.settings;
    const placeholder: LocalDoc = { _id: `_local/${localId}`, replication_id_version: 4, source_last_seq: 0, history: [] };
    try {
      const rev = await source.putLocal(placeholder, signal);
      return { writable: true, doc: { ...placeholder, _rev: rev } };
    } catch (err) {
      if (err instanceof PeerError && (err.status === 401 || err.status === 403)) return { writable: false, doc: null };
      throw err;
    }
  }

  private async verifyPeers(signal: AbortSignal): Promise<void> {
    const { source, target, options } = this.settings;
    const open = async (endpoint: Endpoint, create: boolean): Promise<JsonObject> => {
      try {
        return await endpoint.dbInfo(signal);
      } catch (err) {
        if (!(err instanceof PeerError)) throw err;
        if (err.status === 404 && create) {
          try {
            await endpoint.createDb(options.createTargetParams, signal);
          } catch (createErr) {
            if (createErr instanceof PeerError && (createErr.status === 401 || createErr.status === 403)) {
              throw new ReplicationError(500, 'unauthorized', `unauthorized to access or create database ${endpoint.label}`, { cause: createErr });
            }
            throw createErr;
          }
          return endpoint.dbInfo(signal);
        }
        if (err.status === 404) throw dbNotFound(endpoint.label);
        if (err.status === 401 || err.status === 403) {
          throw new ReplicationError(500, 'unauthorized', `unauthorized to access or create database ${endpoint.label}`, { cause: err });
        }
        throw err;
      }
    };
    const [sourceInfo] = await Promise.all([open(source, false), open(target, options.createTarget)]);
    this.sourceUpdateSeq = sourceInfo['update_seq'] ?? null;
  }
}
