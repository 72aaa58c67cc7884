// Counts the replicator keeps for the node's `_stats` (CouchDB's couch_replicator counters). One
// object per replication service, handed down to the parts that do the counted work; parts built
// without one (tests, `_replicate` simulations) count nothing.

export interface ReplicatorMetrics {
  /** HTTP requests sent to a peer, every attempt (couch_replicator.requests). */
  requests: number;
  /** Answers received: below 500 and neither 408 nor 429 (couch_replicator.responses.success). */
  responsesSuccess: number;
  /** No answer, or 408, 429 or 5xx (couch_replicator.responses.failure). */
  responsesFailure: number;
  /** Batch-copying workers started, `worker_processes` per session (couch_replicator.workers_started). */
  workersStarted: number;
  /** Checkpoints recorded, and checkpoint attempts that failed (couch_replicator.checkpoints). */
  checkpointsSuccess: number;
  checkpointsFailure: number;
  /** `_replication_state` written back to a replicator document (couch_replicator.docs.*_state_updates). */
  completedStateUpdates: number;
  failedStateUpdates: number;
}

export function newReplicatorMetrics(): ReplicatorMetrics {
  return { requests: 0, responsesSuccess: 0, responsesFailure: 0, workersStarted: 0, checkpointsSuccess: 0, checkpointsFailure: 0, completedStateUpdates: 0, failedStateUpdates: 0 };
}
