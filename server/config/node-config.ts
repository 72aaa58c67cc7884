// The node's settings as CouchDB config sections: what a node started with (`baseSections`), and
// the subscribers that make changed values take effect at once (`applyLiveSettings`). Which
// CouchDB keys are live is listed in LIVE_KEYS below; any other key is stored and returned but
// changes nothing until Chaise uses it.

import type { Limits } from '../limits.js';
import { DEFAULT_LIMITS } from '../limits.js';
import type { Services } from '../http/services.js';
import { DEFAULT_CORS_HEADERS, DEFAULT_CORS_MAX_AGE_SECONDS, DEFAULT_CORS_METHODS, type CorsConfig } from '../http/cors.js';
import { DEFAULT_FORWARDED } from '../http/respond.js';
import type { PasswordHash } from '../auth/password.js';
import { formatAdminHash, hashPassword, isHashedAdminValue, parseAdminHash } from '../auth/password.js';
import { SESSION_TIMEOUT_SECONDS } from '../auth/session.js';
import { DEFAULT_LOCKOUT } from '../auth/authenticator.js';
import { DEFAULT_DISK_MONITOR } from '../storage/disk-monitor.js';
import type { PeruserConfig } from '../auth/peruser.js';
import type { ConfigStore, Sections } from './store.js';
import { authHandlers } from '../auth/jwt.js';

/** The settings a change takes effect for without a restart. */
export const LIVE_KEYS = [
  'admins/*',
  'chttpd/enable_cors', 'httpd/enable_cors', 'cors/origins', 'cors/credentials', 'cors/headers', 'cors/methods', 'cors/max_age',
  'couchdb/max_document_size', 'couchdb/max_attachment_size', 'couchdb/max_bulk_docs_count', 'chttpd/max_http_request_size', 'uuids/max_count',
  'couchdb/max_partition_size', 'query_server_config/partition_query_limit',
  'chttpd/require_valid_user', 'chttpd/require_valid_user_except_for_up',
  'chttpd/decode_plus_to_space', 'httpd/x_forwarded_host', 'httpd/x_forwarded_proto', 'httpd/x_forwarded_ssl',
  'disk_monitor/enable', 'disk_monitor/interactive_view_indexing_threshold', 'disk_monitor/interactive_database_writes_threshold',
  'chttpd_auth_lockout/mode', 'chttpd_auth_lockout/threshold', 'chttpd_auth_lockout/max_lifetime',
  'chttpd_auth/timeout', 'chttpd_auth/allow_persistent_cookies', 'chttpd_auth/cookie_domain', 'chttpd_auth/same_site', 'chttpd_auth/secret', 'chttpd_auth/iterations',
  'couch_peruser/enable', 'couch_peruser/delete_dbs',
  'replicator/max_jobs', 'replicator/interval',
];

/** What a node was started with, beyond its options: facts only known once it is open. */
export interface BaseFacts {
  uuid: string;
  dir: string;
  host: string;
  port: number;
  admins: Record<string, PasswordHash>;
  sessionSecret: string;
  limits?: Partial<Limits>;
  cors?: CorsConfig;
  sessionTimeoutSeconds?: number;
  iterations?: number;
  peruser?: Partial<PeruserConfig>;
  maxJobs?: number;
}

/** The start-up configuration in CouchDB's sections (only what the node really has). */
export function baseSections(f: BaseFacts): Sections {
  const s: Sections = {
    couchdb: { uuid: f.uuid, database_dir: f.dir, view_index_dir: f.dir, single_node: 'true' },
    chttpd: { bind_address: f.host, port: String(f.port), require_valid_user: 'false' },
    chttpd_auth: { secret: f.sessionSecret, hash_algorithms: 'sha256' },
    couch_httpd_auth: { authentication_db: '_users' },
    vendor: { name: 'Chaise' },
    admins: Object.fromEntries(Object.entries(f.admins).map(([n, h]) => [n, formatAdminHash(h)])),
  };
  const limits = f.limits ?? {};
  if (limits.maxDocumentBytes !== undefined) s.couchdb!.max_document_size = String(limits.maxDocumentBytes);
  if (limits.maxAttachmentBytes !== undefined) s.couchdb!.max_attachment_size = String(limits.maxAttachmentBytes);
  if (limits.maxBulkDocs !== undefined) s.couchdb!.max_bulk_docs_count = String(limits.maxBulkDocs);
  if (limits.maxRequestBytes !== undefined) s.chttpd!.max_http_request_size = String(limits.maxRequestBytes);
  if (limits.maxUuids !== undefined) s.uuids = { max_count: String(limits.maxUuids) };
  if (limits.maxPartitionBytes !== undefined) s.couchdb!.max_partition_size = String(limits.maxPartitionBytes);
  if (limits.partitionQueryLimit !== undefined) s.query_server_config = { partition_query_limit: String(limits.partitionQueryLimit) };
  if (f.cors) {
    s.chttpd!.enable_cors = 'true';
    s.cors = {
      origins: f.cors.origins.join(', '),
      credentials: String(f.cors.credentials),
      headers: f.cors.headers.join(', '),
      methods: f.cors.methods.join(', '),
      max_age: String(f.cors.maxAgeSeconds),
    };
  }
  if (f.sessionTimeoutSeconds !== undefined) s.chttpd_auth!.timeout = String(f.sessionTimeoutSeconds);
  if (f.iterations !== undefined) s.chttpd_auth!.iterations = String(f.iterations);
  if (f.peruser) {
    s.couch_peruser = {};
    if (f.peruser.enable !== undefined) s.couch_peruser.enable = String(f.peruser.enable);
    if (f.peruser.deleteDbs !== undefined) s.couch_peruser.delete_dbs = String(f.peruser.deleteDbs);
  }
  if (f.maxJobs !== undefined) s.replicator = { max_jobs: String(f.maxJobs) };
  return s;
}

/** CouchDB hashes a plain admin password when it is written to `[admins]`. */
export function adminTransform(iterations: () => number): (section: string, key: string, value: string) => string {
  return (section, _key, value) => (section === 'admins' && !isHashedAdminValue(value) ? formatAdminHash(hashPassword(value, iterations())) : value);
}

function int(v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const t = v.trim();
  if (t === 'infinity') return Number.POSITIVE_INFINITY;
  // config:get_integer: a value that is not an integer is ignored.
  return /^[+-]?\d+$/.test(t) ? Number(t) : fallback;
}

function bool(v: string | undefined, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  const t = v.trim();
  return t === 'true' ? true : t === 'false' ? false : fallback;
}

function list(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return v.split(',').map((x) => x.trim()).filter((x) => x !== '');
}

/** CouchDB's defaults for `[replicator] max_jobs` and `interval` (ms). */
const REPLICATOR_MAX_JOBS_DEFAULT = 500;
const REPLICATOR_INTERVAL_MS_DEFAULT = 60_000;

/** `[replicator] max_jobs` and `interval` (CouchDB gives the interval in milliseconds). */
export function replicatorLimits(config: ConfigStore): { maxJobs: number; intervalMs: number } {
  const positive = (v: number, d: number) => (v > 0 && Number.isFinite(v) ? v : d);
  return {
    maxJobs: positive(int(config.get('replicator', 'max_jobs'), -1), REPLICATOR_MAX_JOBS_DEFAULT),
    intervalMs: positive(int(config.get('replicator', 'interval'), -1), REPLICATOR_INTERVAL_MS_DEFAULT),
  };
}

export interface LiveHooks {
  /** Restarts couch_peruser with new settings. */
  peruser(cfg: PeruserConfig): void;
  /** The secret the node persisted, used when `chttpd_auth/secret` is absent. */
  storedSecret: string;
}

/**
 * Applies every live setting now and whenever it changes. CouchDB reads `chttpd` keys with a
 * fallback to `httpd`, and `chttpd_auth` keys with a fallback to `couch_httpd_auth`.
 */
export function applyLiveSettings(config: ConfigStore, s: Services, hooks: LiveHooks): () => void {
  const get = (section: string, key: string) => config.get(section, key);
  const chttpd = (key: string) => get('chttpd', key) ?? get('httpd', key);
  const auth = (key: string) => get('chttpd_auth', key) ?? get('couch_httpd_auth', key);

  const applyAdmins = () => {
    const admins = new Map<string, PasswordHash>();
    for (const [name, value] of Object.entries(config.section('admins'))) {
      const h = parseAdminHash(value);
      if (h) admins.set(name, h);
    }
    s.auth.setAdmins(admins);
  };
  const applyHttp = () => {
    const limits: Limits = s.limits;
    limits.maxDocumentBytes = int(get('couchdb', 'max_document_size'), DEFAULT_LIMITS.maxDocumentBytes);
    limits.maxAttachmentBytes = int(get('couchdb', 'max_attachment_size'), DEFAULT_LIMITS.maxAttachmentBytes);
    limits.maxBulkDocs = int(get('couchdb', 'max_bulk_docs_count'), DEFAULT_LIMITS.maxBulkDocs);
    limits.maxRequestBytes = int(chttpd('max_http_request_size'), DEFAULT_LIMITS.maxRequestBytes);
    limits.maxUuids = int(get('uuids', 'max_count'), DEFAULT_LIMITS.maxUuids);
    limits.maxPartitionBytes = int(get('couchdb', 'max_partition_size'), DEFAULT_LIMITS.maxPartitionBytes);
    limits.partitionQueryLimit = int(get('query_server_config', 'partition_query_limit'), DEFAULT_LIMITS.partitionQueryLimit);
    s.config.forwarded = {
      host: (chttpd('x_forwarded_host') ?? DEFAULT_FORWARDED.host).toLowerCase(),
      proto: (chttpd('x_forwarded_proto') ?? DEFAULT_FORWARDED.proto).toLowerCase(),
      ssl: (chttpd('x_forwarded_ssl') ?? DEFAULT_FORWARDED.ssl).toLowerCase(),
    };
    s.config.decodePlusToSpace = bool(chttpd('decode_plus_to_space'), true);
    s.session.requireValidUser = bool(chttpd('require_valid_user'), false);
    s.session.requireValidUserExceptUp = bool(chttpd('require_valid_user_except_for_up'), false);
    if (!bool(chttpd('enable_cors'), false)) {
      delete s.config.cors;
    } else {
      s.config.cors = {
        origins: list(get('cors', 'origins')) ?? [],
        credentials: bool(get('cors', 'credentials'), false),
        headers: list(get('cors', 'headers')) ?? DEFAULT_CORS_HEADERS,
        methods: list(get('cors', 'methods')) ?? DEFAULT_CORS_METHODS,
        maxAgeSeconds: int(get('cors', 'max_age'), DEFAULT_CORS_MAX_AGE_SECONDS),
      };
    }
  };
  const applyAuth = () => {
    s.session.timeoutSeconds = int(auth('timeout'), SESSION_TIMEOUT_SECONDS);
    s.session.persistentCookies = bool(auth('allow_persistent_cookies'), true);
    s.session.cookieDomain = auth('cookie_domain') ?? '';
    const sameSite = (auth('same_site') ?? '').toLowerCase();
    s.session.sameSite = sameSite === 'none' || sameSite === 'lax' || sameSite === 'strict' ? sameSite : '';
    s.session.secret = auth('secret') ?? hooks.storedSecret;
    const authDb = auth('authentication_db') ?? '_users';
    if (authDb !== (s.users.authDb ?? '_users')) {
      s.users.authDb = authDb;
      s.auth.forgetAll();
    }
    const handlers = authHandlers(get, () => Object.keys(config.section('jwt_keys')).length > 0);
    s.session.jwt = handlers.jwt;
    s.session.proxy = handlers.proxy;
    const mode = get('chttpd_auth_lockout', 'mode') ?? DEFAULT_LOCKOUT.mode;
    s.auth.lockout = {
      // couch_auth_lockout:lockout_mode: an unknown mode is off.
      mode: mode === 'enforce' || mode === 'warn' || mode === 'off' ? mode : 'off',
      threshold: int(get('chttpd_auth_lockout', 'threshold'), DEFAULT_LOCKOUT.threshold),
      lifetimeMs: int(get('chttpd_auth_lockout', 'max_lifetime'), DEFAULT_LOCKOUT.lifetimeMs),
    };
    const iterations = int(auth('iterations'), s.users.iterations);
    if (iterations > 0 && Number.isFinite(iterations)) s.users.iterations = iterations;
  };
  let peruser = '';
  const applyPeruser = () => {
    const cfg = { enable: bool(get('couch_peruser', 'enable'), false), deleteDbs: bool(get('couch_peruser', 'delete_dbs'), false) };
    const key = JSON.stringify(cfg);
    if (key === peruser) return;
    peruser = key;
    hooks.peruser(cfg);
  };
  const applyReplicator = () => {
    s.replication?.setSchedulerLimits(replicatorLimits(config));
  };
  const applyDiskMonitor = () => {
    s.diskMonitor.config = {
      enable: bool(get('disk_monitor', 'enable'), DEFAULT_DISK_MONITOR.enable),
      interactiveViewIndexing: int(get('disk_monitor', 'interactive_view_indexing_threshold'), DEFAULT_DISK_MONITOR.interactiveViewIndexing),
      interactiveWrites: int(get('disk_monitor', 'interactive_database_writes_threshold'), DEFAULT_DISK_MONITOR.interactiveWrites),
    };
  };
  const bySection: Record<string, () => void> = {
    disk_monitor: applyDiskMonitor,
    admins: applyAdmins,
    chttpd: () => {
      applyHttp();
      applyAuth();
    },
    jwt_keys: applyAuth,
    httpd: applyHttp,
    cors: applyHttp,
    couchdb: applyHttp,
    uuids: applyHttp,
    query_server_config: applyHttp,
    chttpd_auth: applyAuth,
    couch_httpd_auth: applyAuth,
    chttpd_auth_lockout: applyAuth,
    couch_peruser: applyPeruser,
    replicator: applyReplicator,
  };
  applyAdmins();
  applyHttp();
  applyAuth();
  applyPeruser();
  applyReplicator();
  applyDiskMonitor();
  return config.subscribe(({ section }) => bySection[section]?.());
}
