// The lounge's composition root: every service the proxy runs, built from one validated
// config, and the HTTP server in front of them.
//
// It guarantees that `startLounge` resolves only once the server listens and the registry
// has been read from the nodes that answer, and that `close()` stops every timer, probe,
// background sync and socket it started, so a test (or the cluster command) can stop a
// lounge without leaving anything running.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { LoungeConfig } from './config/lounge-config.js';
import type { ShardMap } from './placement/shard-map.js';
import { NodeHealth } from './health/node-health.js';
import { dbPath, docPath, NodeClient } from './upstream/node-client.js';
import { ReplicaReader } from './upstream/replica-reader.js';
import { Registry } from './registry/registry.js';
import { DesignCache } from './design/design-cache.js';
import { DesignCopies } from './reads/design-copies.js';
import { SecurityCache } from './auth/security-cache.js';
import { Authenticator } from './auth/authenticator.js';
import { DocWriter } from './writes/doc-writer.js';
import { LocalDocs } from './local/local-docs.js';
import { ChangesFeeds } from './changes/changes-feed.js';
import { ShardInstances } from './changes/shard-instances.js';
import { HintSet } from './sync/hints.js';
import { createApp } from './http/app.js';
import { AntiEntropy } from './sync/anti-entropy.js';
import { SandboxPool } from '../views/index.js';
import { Elastic } from './moves/elastic.js';
import { QuorumReader } from './reads/quorum-read.js';

/** How long a probe of a down node may take before it counts as failed. */
const PROBE_TIMEOUT_MS = 2_000;
/** How long `close()` waits for open client connections before destroying them. */
const CLOSE_GRACE_MS = 1_000;

export class Lounge {
  readonly config: LoungeConfig;
  readonly map: ShardMap;
  readonly health: NodeHealth;
  readonly client: NodeClient;
  readonly reader: ReplicaReader;
  readonly registry: Registry;
  readonly designs: DesignCache;
  readonly designCopies: DesignCopies;
  readonly security: SecurityCache;
  readonly auth: Authenticator;
  readonly hints: HintSet;
  readonly writer: DocWriter;
  readonly locals: LocalDocs;
  readonly instances: ShardInstances;
  readonly changes: ChangesFeeds;
  readonly sync: AntiEntropy;
  /** Single-document reads from `r` replicas, with read repair. */
  readonly quorum: QuorumReader;
  /** Nodes joining and leaving, moves and splits (moves/elastic.ts). */
  readonly elastic: Elastic;
  /** Isolates for JavaScript re-reduce, one per design doc (views' sandbox). */
  readonly sandboxes = new SandboxPool();
  /** Unix seconds when this lounge started (for `/_lounge/health`). */
  readonly startedAt = Math.floor(Date.now() / 1000);

  constructor(config: LoungeConfig, configPath?: string) {
    this.config = config;
    this.map = config.map;
    const nodeIds = Object.keys(config.nodes);
    this.health = new NodeHealth(nodeIds, config.health, (node) => this.client.probe(node, PROBE_TIMEOUT_MS));
    this.client = new NodeClient(config, this.health);
    this.reader = new ReplicaReader(this.map, this.client);
    this.registry = new Registry(this.client, nodeIds);
    this.map.partitionedOf = (db) => this.registry.get(db)?.partitioned === true;
    this.designs = new DesignCache(this.map, this.reader);
    this.designCopies = new DesignCopies(this);
    this.security = new SecurityCache(this.map, this.reader);
    this.auth = new Authenticator(config.admins, (name) => this.userDoc(name));
    this.hints = new HintSet();
    this.writer = new DocWriter(this.map, this.client, this.reader, config.w, this.hints);
    this.locals = new LocalDocs(this.map, this.client, this.hints);
    this.instances = new ShardInstances(this.client);
    this.elastic = new Elastic(this, configPath);
    this.quorum = new QuorumReader(this);
    this.changes = new ChangesFeeds(this.map, this.client, this.reader, this.instances, this.elastic);
    this.sync = new AntiEntropy(this);
  }

  async start(): Promise<void> {
    this.health.start();
    await this.registry.refresh();
    if (this.config.sync.enabled) this.sync.start();
    this.elastic.start();
  }

  async close(): Promise<void> {
    await this.elastic.close();
    this.health.close();
    await this.sync.close();
    this.sandboxes.close();
    this.client.close();
  }

  /** Probes every node once (`GET /_up`); returns the ids of those that did not answer 200. */
  async unreachableNodes(): Promise<string[]> {
    const ids = Object.keys(this.config.nodes);
    const ok = await Promise.all(ids.map((n) => this.client.probe(n, PROBE_TIMEOUT_MS).catch(() => false)));
    return ids.filter((_, i) => !ok[i]);
  }

  /** A design doc was written through this lounge: drop what was cached about it. */
  designWritten(db: string, id: string): void {
    this.designs.forget(db, id);
    this.designCopies.forget(db);
  }

  /** A `_users` document read through the cluster (its shards), for authentication. */
  private async userDoc(name: string): Promise<Record<string, unknown> | undefined> {
    if (!this.registry.get('_users')) return undefined;
    const id = `org.couchdb.user:${name}`;
    const range = this.map.rangeOf(id);
    try {
      const { body } = await this.reader.json<Record<string, unknown>>('_users', range, () => ({
        method: 'GET',
        path: `${dbPath(this.map.shardName(range, '_users'))}/${docPath(id)}`,
      }));
      return body;
    } catch {
      return undefined;
    }
  }
}

export interface RunningLounge {
  lounge: Lounge;
  app: Koa;
  /** `http://host:port` the lounge listens on. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Builds the services, reads the registry, and listens. `port` 0 picks a free port. */
export async function startLounge(config: LoungeConfig, opts: { port?: number; host?: string; configPath?: string } = {}): Promise<RunningLounge> {
  const lounge = new Lounge(config, opts.configPath);
  await lounge.start();
  const app = createApp(lounge);
  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  const host = opts.host ?? config.host;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? config.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    lounge,
    app,
    url,
    port,
    async close() {
      await lounge.close();
      await new Promise<void>((done) => {
        const t = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        server.close(() => {
          clearTimeout(t);
          done();
        });
        server.closeIdleConnections();
      });
    },
  };
}
