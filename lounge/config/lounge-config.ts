// The lounge's configuration as the rest of the lounge sees it, after validation, and
// the defaults of every tunable with the reason for its value.
//
// The file format (lounge.json) is documented in lounge/README.md; validate-config.ts turns
// the raw JSON into this shape or refuses it with a message naming the problem.

import type { ShardMap, ShardNameScheme } from '../placement/shard-map.js';
import type { ElasticState } from '../moves/move-types.js';

export interface NodeConfig {
  /** Base URL of the node, without a trailing slash, e.g. `http://127.0.0.1:5985`. */
  url: string;
}

export interface HealthConfig {
  /** Consecutive failures (connection error, timeout, 5xx) that open a node's breaker. */
  failThreshold: number;
  /** First wait before an open breaker is probed with `GET /_up`; doubles per failed probe. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How often the prober looks for breakers whose wait is over. */
  probeIntervalMs: number;
}

export interface TimeoutConfig {
  /** A request to a node that has not answered (headers) within this is a failure. */
  requestMs: number;
  /** View and `_find` requests may build an index first, so they get longer. */
  viewRequestMs: number;
}

export interface SyncConfig {
  /** Anti-entropy sweep period: every range's replicas are compared this often. */
  intervalMs: number;
  /** Writes the proxy could not copy are synced after this pause, batched per range. */
  debounceMs: number;
  /** Set false to run the lounge without its background syncer (tests of raw routing). */
  enabled: boolean;
}

export interface ElasticConfig {
  /** How long an old replica's shards are kept after a move or split switched away from them. */
  retireAfterMs: number;
  /** Pause before a failed step of a move is tried again. */
  retryMs: number;
  /** Tries of one step (copy, catch-up, switch) before the move is rolled back. */
  attemptsMax: number;
}

export interface LoungeConfig {
  version: 1;
  /** Bumped by whoever edits the map; reported at /_lounge/map and in tokens. */
  mapEpoch: string;
  /** The `uuid` of `GET /`; PouchDB builds replication ids from it, so it must never change. */
  serverUuid: string;
  nodes: Readonly<Record<string, NodeConfig>>;
  q: number;
  n: number;
  r: number;
  w: number;
  map: ShardMap;
  /** The credential the lounge presents to nodes (Basic), or none for admin-party nodes. */
  service: { name: string; password: string } | undefined;
  /** Lounge server admins: name → password (plain text or CouchDB's `-pbkdf2-` form). */
  admins: Readonly<Record<string, string>>;
  port: number;
  host: string;
  health: HealthConfig;
  timeouts: TimeoutConfig;
  sync: SyncConfig;
  elastic: ElasticConfig;
  /** How shard databases are named on the nodes; absent in lounge.json means `shards` (older clusters). */
  shardNames: ShardNameScheme;
  /** Moves, translations, retired shards and drains, persisted with the map. */
  state: ElasticState;
  /** The JSON the config was read from: rewritten (with the new map) on every map change. */
  source: Record<string, unknown>;
}

export const DEFAULT_PORT = 6984;
export const DEFAULT_HOST = '127.0.0.1';

export const DEFAULT_HEALTH: HealthConfig = {
  // Two in a row: one refused connection may be a restart race, two are a down node.
  failThreshold: 2,
  // A local node restarts in well under a second; probing quickly lets it rejoin quickly.
  backoffBaseMs: 250,
  // Bounded so a node that was down for an hour is noticed within seconds of coming back.
  backoffMaxMs: 5_000,
  probeIntervalMs: 250,
};

export const DEFAULT_TIMEOUTS: TimeoutConfig = {
  // CouchDB's own default request timeout for fabric calls is 60 s.
  requestMs: 60_000,
  // A first query of a view over a large shard builds the index; CouchDB allows an hour.
  viewRequestMs: 3_600_000,
};

export const DEFAULT_SYNC: SyncConfig = {
  // CouchDB's mem3_sync pushes within seconds of a write; a full sweep is the safety net.
  intervalMs: 60_000,
  // mem3_sync waits 5 s to batch writes; our copies normally succeed, so only misses wait.
  debounceMs: 1_000,
  enabled: true,
};

export const DEFAULT_ELASTIC: ElasticConfig = {
  // Long enough for every client holding a token that names the old replica to come back
  // (a replication checkpoint interval is seconds; an hour covers a paused laptop).
  retireAfterMs: 3_600_000,
  // A node restart takes about a second; a few seconds covers it without hurrying.
  retryMs: 1_000,
  // Ten tries at retryMs (doubling up to 8×) ride out a node restart, not an outage.
  attemptsMax: 10,
};
