// What the HTTP layer needs from the rest of the node, handed to every route module.

import type { Catalog } from '../storage/catalog.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { Limits } from '../limits.js';
import type { UserCtx } from '../auth/access.js';
import type { WriteGuard } from './write.js';
import type { ViewEngine } from '../../views/index.js';
import type { ReplicationService } from '../../replicator/index.js';
import type { UsersConfig } from '../auth/users.js';
import type { SessionConfig } from '../auth/sessions-http.js';
import type { ConfigStore } from '../config/store.js';
import type { NodeStats } from '../stats/node-stats.js';
import type { DiskMonitor } from '../storage/disk-monitor.js';

export interface NodeConfig {
  /** Shown in `GET /` and used in `Location` headers. */
  version: string;
  /** CORS settings in effect, or none when CORS is off (follows the config live). */
  cors?: { origins: string[]; credentials: boolean; headers: string[]; methods: string[]; maxAgeSeconds: number };
  /**
   * The request headers a proxy in front names the original host and scheme in (`[httpd]
   * x_forwarded_host`, `x_forwarded_proto`, `x_forwarded_ssl`), lower-cased; CouchDB's by default.
   */
  forwarded?: { host: string; proto: string; ssl: string };
  /** `[chttpd] decode_plus_to_space` (default true): a `+` in the path is a space, as mochiweb_util:unquote reads it. */
  decodePlusToSpace?: boolean;
}

export interface Services {
  catalog: Catalog;
  auth: Authenticator;
  limits: Limits;
  config: NodeConfig;
  users: UsersConfig;
  /** The replicator (`_replicate`, `_replicator`, `_scheduler`); set once the node listens. */
  replication?: ReplicationService;
  /** Design-document code: views, validate_doc_update, filters, Mango. */
  views: ViewEngine;
  session: SessionConfig;
  /** Checks every document write (the `_users` rules, validate_doc_update); parts add theirs. */
  guards: WriteGuard[];
  /** Resolves when the node shuts down; long-lived feeds end on it. */
  closing: AbortSignal;
  /** The node's configuration (`/_node/{node}/_config`); live settings follow its changes. */
  configStore: ConfigStore;
  /** `[disk_monitor]`: refuses interactive writes and index updates when the disk is too full. */
  diskMonitor: DiskMonitor;
  /** Request counts, latencies and other metrics (`/_node/{node}/_stats`). */
  stats: NodeStats;
  /** This node's name, as `/_node/_local` and `/_membership` give it. */
  nodeName: string;
  /**
   * Restarts the node in place, after the current request's answer is out; set by `startNode`
   * (a node opened without listening, as in-process tests do, has nothing to restart).
   */
  restart?: () => void;
}

declare module 'koa' {
  interface DefaultState {
    user: UserCtx;
    /** How the user proved who they are: 'default' (Basic) or 'cookie'. */
    authenticated?: string | undefined;
  }
}
