// The public surface of the replicator. Other parts import only from here.
//
// - A node uses `ReplicationService` (`POST /_replicate`, the `_replicator`
//   scheduler, `_scheduler/*` and `_active_tasks` bodies).
// - The lounge, benchmarks and simulations use `replicate()` for a one-shot
//   run, or `Replication` with their own `Endpoint`s (in-process, faulty…).
// - Errors that reach the HTTP layer are `ReplicationError`s: `{status, error, reason}`.

import type { JsonObject } from './endpoint/endpoint.js';
import { HttpEndpoint, type HttpEndpointOptions } from './endpoint/http-endpoint.js';
import type { LocalNode } from './endpoint/peer.js';
import { parseReplicationRequest } from './protocol/replication-options.js';
import { Replication } from './pipeline/replication.js';
import type { Clock, Random } from './clock.js';

export { ReplicationService } from './service/replication-service.js';
export type { ReplicationServiceOptions, ReplicateResponse } from './service/replication-service.js';
export { newReplicatorMetrics, type ReplicatorMetrics } from './metrics.js';
export type { UserCtx, JobState } from './scheduler/job.js';

export { Replication } from './pipeline/replication.js';
export type { ReplicationSettings, ReplicationOptions, ReplicationStatus, ReplicationPhase } from './pipeline/replication.js';

export type {
  Endpoint,
  EndpointIdentity,
  Seq,
  Doc,
  Attachment,
  Revisions,
  ChangeRow,
  ChangesPage,
  ChangesRequest,
  ChangesFeedRequest,
  ChangesEvent,
  ChangesFilter,
  DbInfo,
  RevsDiffResponse,
  RevsDiffEntry,
  BulkGetItem,
  BulkGetOptions,
  BulkGetResult,
  BulkDocsError,
  LocalDoc,
  JsonObject,
} from './endpoint/endpoint.js';
export { HttpEndpoint, HTTP_ENDPOINT_DEFAULTS } from './endpoint/http-endpoint.js';
export type { HttpEndpointOptions } from './endpoint/http-endpoint.js';
export { parsePeer, peerIdentity } from './endpoint/peer.js';
export type { PeerSpec, LocalNode } from './endpoint/peer.js';

export { parseReplicationRequest, parseReplicateCommand } from './protocol/replication-options.js';
export type { ReplicationRequest, ReplicateCommand, FilterRequest } from './protocol/replication-options.js';
export { replicationId, canonicalJson, REPLICATION_ID_VERSION } from './protocol/replication-id.js';
export type { ReplicationId, ReplicationIdInput } from './protocol/replication-id.js';
export { compareReplicationLogs, buildReplicationLog, CHECKPOINT_HISTORY_MAX } from './protocol/replication-log.js';

export { ReplicationError, PeerError } from './errors.js';
export { realClock } from './clock.js';
export type { Clock, Random } from './clock.js';

export interface ReplicateOptions {
  /**
   * The uuid of "the server running the job", part of the replication id.
   * Pass a stable value to resume from checkpoints across runs; by default the
   * target's uuid is used (then the source's, then a fixed string).
   */
  serverUuid?: string;
  /** Resolves bare database names. */
  local?: LocalNode;
  endpoint?: Partial<HttpEndpointOptions>;
  clock?: Clock;
  random?: Random;
  /** Record the target's update seq in each checkpoint (ReplicationSettings.recordTargetSeq). */
  recordTargetSeq?: boolean;
}

/**
 * Runs one replication described like a `POST /_replicate` body (`source`,
 * `target`, `doc_ids`, `filter`, `selector`, `create_target`, …) over HTTP and
 * resolves with CouchDB's result body. A `continuous` body runs until the
 * returned `stop()` is called.
 */
export function replicate(body: JsonObject, options: ReplicateOptions = {}): { result: Promise<JsonObject>; stop: () => void } {
  const request = parseReplicationRequest(body, options.local);
  const endpointOptions: Partial<HttpEndpointOptions> = {
    connections: request.httpConnections,
    timeoutMs: request.connectionTimeoutMs,
    retries: request.retriesPerRequest,
    useBulkGet: request.useBulkGet,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.endpoint ?? {}),
  };
  const source = new HttpEndpoint(request.source, endpointOptions);
  const target = new HttpEndpoint(request.target, endpointOptions);
  let replication: Replication | null = null;
  let stopped = false;
  const result = (async () => {
    try {
      const serverUuid =
        options.serverUuid ?? (await target.serverUuid().catch(() => null)) ?? (await source.serverUuid().catch(() => null)) ?? 'chaise-replicator';
      replication = new Replication({
        source,
        target,
        serverUuid,
        options: request,
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.random ? { random: options.random } : {}),
        ...(options.recordTargetSeq ? { recordTargetSeq: true } : {}),
      });
      if (stopped) replication.stop();
      return await replication.run();
    } finally {
      await Promise.all([source.close(), target.close()]);
    }
  })();
  return {
    result,
    stop: () => {
      stopped = true;
      replication?.stop();
    },
  };
}
