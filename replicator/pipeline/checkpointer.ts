// Writes checkpoints: the replication log in `_local/<base id>` on both peers.
//
// Order and failure rules:
// - The target is written first. It is the side we must be able to write
//   anyway, so its log is always the freshest.
// - A source that refuses the write with 401/403 (a read-only source) is not
//   fatal: like PouchDB's checkpointer, we stop writing source checkpoints for
//   the session and rely on the target's log.
// - A 409 may mean that our own earlier attempt succeeded but its answer was
//   lost (the request was then retried). As CouchDB does, we re-read the doc:
//   if it already holds what we meant to write, that is success; otherwise
//   we write again on top of the current revision, once.
// A checkpoint never claims more than the SeqTracker's through sequence.

import type { ReplicatorMetrics } from '../metrics.js';
import { debuglog } from 'node:util';
import { PeerError } from '../errors.js';
import type { Endpoint, JsonObject, LocalDoc, Seq } from '../endpoint/endpoint.js';
import { buildReplicationLog, canonicalLogEqual, logBody, type SessionStats } from '../protocol/replication-log.js';
import { sameSeq } from './changes-reader.js';

const log = debuglog('chaise:replicator');

export interface CheckpointerOptions {
  source: Endpoint;
  target: Endpoint;
  /** `_local/<base id>`. */
  docId: string;
  sessionId: string;
  startSeq: Seq;
  startTimeMs: number;
  previousHistory: JsonObject[];
  byDocIds: boolean;
  sourceRev: string | undefined;
  targetRev: string | undefined;
  writeSource: boolean;
  /** Where checkpoints are counted, if anywhere. */
  metrics?: ReplicatorMetrics;
  /** Record the target's update seq in each history entry (HistoryEntry.target_seq). */
  recordTargetSeq?: boolean;
}

export class Checkpointer {
  private sourceRev: string | undefined;
  private targetRev: string | undefined;
  private writeSource: boolean;
  /** The sequence of the last checkpoint written this session. */
  committedSeq: Seq;
  /** The body last written (the one-shot result is built from it). */
  lastLog: JsonObject | null = null;

  constructor(private readonly options: CheckpointerOptions) {
    this.sourceRev = options.sourceRev;
    this.targetRev = options.targetRev;
    this.writeSource = options.writeSource;
    this.committedSeq = options.startSeq;
  }

  /**
   * Records `throughSeq`; a no-op when it is already recorded. Counted as CouchDB's scheduler
   * job counts do_checkpoint: a success (a no-op too) or a failure.
   */
  async checkpoint(throughSeq: Seq, stats: SessionStats, nowMs: number, signal?: AbortSignal): Promise<void> {
    const metrics = this.options.metrics;
    try {
      await this.record(throughSeq, stats, nowMs, signal);
    } catch (err) {
      if (metrics) metrics.checkpointsFailure++;
      throw err;
    }
    if (metrics) metrics.checkpointsSuccess++;
  }

  private async record(throughSeq: Seq, stats: SessionStats, nowMs: number, signal?: AbortSignal): Promise<void> {
    if (this.lastLog && sameSeq(throughSeq, this.committedSeq)) return;
    const { source, target } = this.options;
    await Promise.all([target.ensureFullCommit(signal), this.writeSource ? source.ensureFullCommit(signal) : undefined]);
    let targetAt: { seq: Seq; uuid: string | undefined } | undefined;
    if (this.options.recordTargetSeq) {
      const info = await target.dbInfo(signal);
      const uuid = typeof info['uuid'] === 'string' ? info['uuid'] : info.instance_start_time;
      targetAt = { seq: info.update_seq, uuid };
    }
    const body = buildReplicationLog({
      sessionId: this.options.sessionId,
      startSeq: this.options.startSeq,
      recordedSeq: throughSeq,
      startTimeMs: this.options.startTimeMs,
      endTimeMs: nowMs,
      stats,
      previousHistory: this.options.previousHistory,
      byDocIds: this.options.byDocIds,
      ...(targetAt ? { target: targetAt } : {}),
    });
    this.targetRev = await this.write(target, this.targetRev, body, signal);
    if (this.writeSource) {
      try {
        this.sourceRev = await this.write(source, this.sourceRev, body, signal);
      } catch (err) {
        if (!(err instanceof PeerError) || (err.status !== 401 && err.status !== 403)) throw err;
        log('source %s refuses checkpoints (%d); keeping them on the target only', source.label, err.status);
        this.writeSource = false;
      }
    }
    this.committedSeq = throughSeq;
    this.lastLog = body;
  }

  private async write(endpoint: Endpoint, rev: string | undefined, body: JsonObject, signal?: AbortSignal): Promise<string> {
    const doc: LocalDoc = { _id: this.options.docId, ...body };
    if (rev !== undefined) doc._rev = rev;
    try {
      return await endpoint.putLocal(doc, signal);
    } catch (err) {
      if (!(err instanceof PeerError) || err.status !== 409) throw err;
      const current = await endpoint.getLocal(this.localId(), signal);
      if (current && canonicalLogEqual(logBody(current), body) && current._rev !== undefined) return current._rev;
      const retry: LocalDoc = { _id: this.options.docId, ...body };
      if (current?._rev !== undefined) retry._rev = current._rev;
      return endpoint.putLocal(retry, signal);
    }
  }

  private localId(): string {
    return this.options.docId.replace(/^_local\//, '');
  }
}
