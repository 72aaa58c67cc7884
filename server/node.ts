// Starting and stopping one Chaise node: the LMDB environment, the catalog, authentication and
// the HTTP server. `startNode` is what the CLI and the multi-process tests call.

import { createServer, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import type Koa from 'koa';
import type { AddressInfo } from 'node:net';
import { Environment } from './storage/environment.js';
import { Catalog } from './storage/catalog.js';
import { DiskMonitor } from './storage/disk-monitor.js';
import { Authenticator } from './auth/authenticator.js';
import { createApp, type Extensions } from './http/app.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import type { NodeConfig, Services } from './http/services.js';
import { hashPassword, PBKDF2_ITERATIONS } from './auth/password.js';
import { SESSION_TIMEOUT_SECONDS } from './auth/session.js';
import { defaultSessionConfig, loadSecret } from './auth/sessions-http.js';
import { authDbOf, lookupUser, usersGuard, USERS_DB, type UsersConfig } from './auth/users.js';
import { AUTH_DDOC_BODY, AUTH_DDOC_ID, AUTH_DDOC_VALIDATE } from './auth/auth-ddoc.js';
import { parseDoc } from './docs/parse-doc.js';
import type { Database } from './storage/database.js';
import { startPeruser, type PeruserConfig } from './auth/peruser.js';
import { ViewEngine } from '../views/index.js';
import { newReplicatorMetrics, ReplicationService } from '../replicator/index.js';
import { validateGuard } from './design/validate-guard.js';
import { ConfigStore } from './config/store.js';
import { configFilePath, readOverlay, writeOverlay } from './config/file.js';
import { adminTransform, applyLiveSettings, baseSections, replicatorLimits } from './config/node-config.js';
import { NodeStats } from './stats/node-stats.js';

/** The node's name when none is given (CouchDB's are `name@host`). */
export const DEFAULT_NODE_NAME = 'chaise@127.0.0.1';

/** Created at start-up when missing. */
const SYSTEM_DATABASES = ['_users', '_replicator'];

export const VERSION = '3.5.0';

/** What a node without a replicator (in-process tests) reports: nothing sent, nothing checkpointed. */
const NO_REPLICATOR_METRICS = newReplicatorMetrics();

export interface NodeOptions {
  port?: number;
  host?: string;
  dir?: string;
  inMemory?: boolean;
  admins?: { name: string; password: string }[];
  /** This node's name in `/_node/{name}` and `/_membership`. */
  nodeName?: string;
  limits?: Partial<Limits>;
  cors?: NodeConfig['cors'];
  auth?: {
    publicSignup?: boolean;
    iterations?: number;
    sessionTimeoutSeconds?: number;
    peruser?: Partial<PeruserConfig>;
  };
  /** Design-code limits (tests shorten the call timeout so hostile code is stopped quickly). */
  sandbox?: { timeoutMs?: number; memoryLimitMb?: number };
}

export interface RunningNode {
  url: string;
  port: number;
  services: Services;
  server: Server;
  close(): Promise<void>;
  /** Closes the node and opens it again on the same address (`POST /_node/_local/_restart`). */
  restart(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

export interface OpenedNode {
  services: Services;
  app: Koa;
  env: Environment;
  /** Stops feeds and closes the store (the HTTP server, if any, must be closed first). */
  shutdown(): Promise<void>;
}

/** Builds a node without listening: the store, services and koa app (tests use this with supertest). */
export async function openNode(opts: NodeOptions, ext: Extensions | ((s: Services) => Extensions) = {}): Promise<OpenedNode> {
  const env = Environment.open({ ...(opts.dir !== undefined ? { dir: opts.dir } : {}), ...(opts.inMemory ? { inMemory: true } : {}) });
  const catalog = new Catalog(env);
  const limits: Limits = { ...DEFAULT_LIMITS, ...opts.limits };
  // Databases read the partition size limit from the node's limits object, so a change applies at once.
  catalog.settings = limits;
  await catalog.resumePurges();
  const auth = new Authenticator();
  // Admins are hashed with the node's iteration count (CouchDB: `[chttpd_auth] iterations`).
  for (const a of opts.admins ?? []) auth.addAdmin(a.name, a.password, hashPassword(a.password, opts.auth?.iterations ?? PBKDF2_ITERATIONS));
  const closing = new AbortController();
  const config: NodeConfig = { version: VERSION };
  const users: UsersConfig = { publicSignup: opts.auth?.publicSignup ?? false, iterations: opts.auth?.iterations ?? PBKDF2_ITERATIONS };
  const views = new ViewEngine({ db: env.stores.views as never, partitionQueryLimit: () => limits.partitionQueryLimit, ...(opts.sandbox ? { sandbox: opts.sandbox } : {}) });
  // Set below, once the services it reads exist.
  let services = undefined as unknown as Services;
  const stats = new NodeStats({
    store: env.stats,
    views: views.stats,
    find: views.findStats,
    openDatabases: () => catalog.openCount,
    dbOpenTimes: catalog.openTimes,
    // A node without a replicator (in-process tests) runs no jobs.
    replicator: () => services.replication?.jobCounts() ?? { running: 0, pending: 0, crashed: 0, total: 0, adds: 0, starts: 0, stops: 0, crashes: 0, removes: 0 },
    replicatorMetrics: () => services.replication?.metrics ?? NO_REPLICATOR_METRICS,
    auth: auth.counts,
  });
  const dir = opts.inMemory ? env.path : opts.dir ?? './data';
  const storedSecret = loadSecret(env);
  const configFile = configFilePath(env.path);
  const configStore = new ConfigStore({
    base: baseSections({
      uuid: catalog.uuid,
      dir,
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? 5984,
      admins: auth.adminHashes(),
      sessionSecret: storedSecret,
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...(opts.cors ? { cors: opts.cors } : {}),
      ...(opts.auth?.sessionTimeoutSeconds !== undefined ? { sessionTimeoutSeconds: opts.auth.sessionTimeoutSeconds } : {}),
      ...(opts.auth?.iterations !== undefined ? { iterations: opts.auth.iterations } : {}),
      ...(opts.auth?.peruser ? { peruser: opts.auth.peruser } : {}),
    }),
    load: () => readOverlay(configFile),
    save: (overlay) => writeOverlay(configFile, env.path, overlay),
    transform: adminTransform(() => users.iterations),
  });
  services = {
    views,
    catalog,
    auth,
    limits,
    config,
    closing: closing.signal,
    guards: [],
    users,
    session: defaultSessionConfig(opts.auth?.sessionTimeoutSeconds ?? SESSION_TIMEOUT_SECONDS),
    configStore,
    stats,
    diskMonitor: new DiskMonitor(env.path),
    nodeName: opts.nodeName ?? DEFAULT_NODE_NAME,
  };
  views.findStats.onQueryTime = (ms) => stats.mangoQueryTime.record(ms, performance.now());
  catalog.onCreateInit(ensureAuthDdoc);
  // The system databases CouchDB 3 asks an operator to create; a node makes them itself.
  for (const name of SYSTEM_DATABASES) if (!catalog.get(name)) await catalog.create(name);
  await ensureAuthDdoc(catalog.require(USERS_DB));
  auth.userLookup = (name) => lookupUser(catalog.get(authDbOf(users)), name);
  users.passwordRules = () => configStore.get('chttpd_auth', 'password_regexp') ?? configStore.get('couch_httpd_auth', 'password_regexp');
  services.guards.push(usersGuard(users, (name) => auth.forget(name)));
  services.guards.push(validateGuard(views, stats));
  // A deleted database's indexes go with it.
  catalog.onDbEvent((_name, kind, record) => {
    if (kind === 'deleted' && record) void views.dropDatabase(record.uuid).catch((e: unknown) => console.error('dropping view indexes failed', e));
  });
  let stopPeruser = () => {};
  const stopLive = applyLiveSettings(configStore, services, {
    storedSecret,
    peruser: (cfg) => {
      stopPeruser();
      stopPeruser = startPeruser(catalog, cfg);
    },
  });
  const app = createApp(services, typeof ext === 'function' ? ext(services) : ext);
  return {
    services,
    app,
    env,
    async shutdown() {
      closing.abort();
      stopLive();
      stopPeruser();
      stats.close();
      await views.close();
      await catalog.settle();
      await env.close();
    },
  };
}

/** How a node started by `startNode` restarts (`POST /_node/_local/_restart`). */
export interface RestartHooks {
  /**
   * The options to open the node with again (the CLI reads its `--config` file again); the first
   * start's when absent. Host and port stay those of the first start. Called before the node
   * closes: if it throws, the node keeps running and `onRestartFailed` hears of it.
   */
  reloadOptions?: () => NodeOptions;
  /** The node is open and listening again. */
  onRestarted?: (node: RunningNode) => void;
  /** The restart failed; unless `reloadOptions` threw, the node is closed (the CLI exits, so a supervisor starts it). */
  onRestartFailed?: (e: unknown) => void;
}

/**
 * Opens a node and listens. The node restarts in place on `POST /_node/_local/_restart`, as
 * CouchDB's `init:restart()` restarts the whole VM in its OS process: listeners, feeds,
 * replications and the store are closed, the options and the persisted config are read again,
 * and it listens on the same host and port. The returned object stays valid across restarts
 * (`services` and `server` are replaced).
 */
export async function startNode(opts: NodeOptions, ext: Extensions | ((s: Services) => Extensions) = {}, hooks: RestartHooks = {}): Promise<RunningNode> {
  const host = opts.host ?? '127.0.0.1';
  let current = await launch(opts, ext);
  let closed: Promise<void> | undefined;
  let restarting: Promise<void> | undefined;
  const running: RunningNode = {
    url: current.url,
    port: current.port,
    services: current.services,
    server: current.server,
    close() {
      closed ??= (async () => {
        await restarting?.catch(() => {});
        await current.close();
      })();
      return closed;
    },
    restart() {
      if (closed) return Promise.reject(new Error('the node is closed'));
      restarting ??= (async () => {
        const next: NodeOptions = { ...(hooks.reloadOptions?.() ?? opts), host, port: running.port };
        await current.close();
        current = await launch(next, ext);
        running.services = current.services;
        running.server = current.server;
        offerRestart();
        hooks.onRestarted?.(running);
      })().finally(() => {
        restarting = undefined;
      });
      return restarting;
    },
  };
  const offerRestart = () => {
    current.services.restart = () => {
      void running.restart().catch((e: unknown) => {
        if (hooks.onRestartFailed) hooks.onRestartFailed(e);
        else console.error('chaise: restart failed', e);
      });
    };
  };
  offerRestart();
  return running;
}

/** One life of a started node: open, listen, run the replicator; `close` undoes all three. */
async function launch(opts: NodeOptions, ext: Extensions | ((s: Services) => Extensions)): Promise<Omit<RunningNode, 'restart'>> {
  const host = opts.host ?? '127.0.0.1';
  if ((opts.admins ?? []).length === 0 && !isLoopback(host)) {
    throw new Error(`refusing to bind ${host} without an admin: an admin party may listen only on a loopback address (pass --admin name:password)`);
  }
  const node = await openNode(opts, ext);
  const services = node.services;
  // Node checks request deadlines on this interval; a short one makes slow-loris senders go quickly.
  const checkMs = Math.min(30_000, Math.max(100, Math.floor(services.limits.requestTimeoutMs / 4)));
  const server = createServer({ connectionsCheckingInterval: checkMs, headersTimeout: services.limits.requestTimeoutMs }, node.app.callback());
  server.keepAliveTimeout = services.limits.idleTimeoutMs;
  server.requestTimeout = services.limits.requestTimeoutMs;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 5984, host, () => resolve());
    });
  } catch (e) {
    await node.shutdown();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
  // The replicator talks to this node over HTTP, as any client would, with the first admin's credentials.
  const admin = opts.admins?.[0];
  services.configStore.setBase('chttpd', 'port', String(port));
  const replication = new ReplicationService({
    nodeUrl: url,
    serverUuid: services.catalog.uuid,
    nodeName: services.nodeName,
    ...replicatorLimits(services.configStore),
    ...(admin ? { credentials: { username: admin.name, password: admin.password } } : {}),
  });
  services.replication = replication;
  await replication.start();
  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    services,
    server,
    close() {
      closed ??= (async () => {
        await replication.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await node.shutdown();
      })();
      return closed;
    },
  };
}

/**
 * couch_users_db:ensure_auth_ddoc_exists/2: `_users` always has CouchDB's `_design/_auth`; a
 * missing or deleted one is written, one with another validate function is brought up to date.
 */
async function ensureAuthDdoc(db: Database): Promise<void> {
  if (db.name !== USERS_DB) return;
  const info = db.docInfo(AUTH_DDOC_ID);
  const body: Record<string, unknown> = { ...AUTH_DDOC_BODY };
  if (info && !info.deleted) {
    const current = JSON.parse(info.json) as Record<string, unknown>;
    if (current.validate_doc_update === AUTH_DDOC_VALIDATE) return;
    Object.assign(body, current, { validate_doc_update: AUTH_DDOC_VALIDATE, _rev: info.rev });
  }
  await db.write([{ id: AUTH_DDOC_ID, doc: parseDoc(body) }], true);
}
