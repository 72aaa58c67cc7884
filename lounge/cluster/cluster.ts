// A whole sharded cluster on one machine: N node processes and a lounge in front of them,
// with a generated map. Used by `chaise cluster` and by the lounge's multi-process tests.
//
// It guarantees: the nodes are started (each in its own directory under `dir`), a
// lounge.json is written to `dir` (keeping the serverUuid of an earlier run, so PouchDB
// replication ids survive a restart of the cluster), the lounge listens, and `close()`
// stops the lounge and every node. Nodes listen on `port+1 … port+N` when a lounge port is
// given, so a restarted cluster finds its nodes where its map says; with port 0 the OS
// picks every port.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateConfig } from '../config/generate-config.js';
import { validateConfig } from '../config/validate-config.js';
import { startLounge, type RunningLounge } from '../lounge.js';
import type { LoungeConfig } from '../config/lounge-config.js';
import { NodeProcess } from './node-process.js';

export interface ClusterOptions {
  nodes: number;
  q: number;
  n: number;
  /** The lounge's port; 0 picks free ports for everything. */
  port: number;
  host?: string;
  dir: string;
  admin?: { name: string; password: string };
  inMemory?: boolean;
  /** What each node runs, by position (default all 'chaise'): 'pouchdb-server' makes a mixed cluster with a third-party CouchDB-API node. */
  kinds?: readonly ('chaise' | 'pouchdb-server')[];
  /** Overrides merged into the generated config (health timings, sync period...). */
  tune?: Partial<Pick<LoungeConfig, 'health' | 'sync' | 'timeouts' | 'elastic'>>;
  onOutput?: (id: string, text: string) => void;
}

export interface RunningCluster {
  lounge: RunningLounge;
  nodes: NodeProcess[];
  configPath: string;
  close(): Promise<void>;
}

export async function startCluster(opts: ClusterOptions): Promise<RunningCluster> {
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1) throw new Error('--nodes must be a positive integer');
  if (opts.n > opts.nodes) throw new Error(`--n (${opts.n}) cannot exceed --nodes (${opts.nodes})`);
  mkdirSync(opts.dir, { recursive: true });
  const configPath = join(opts.dir, 'lounge.json');
  let serverUuid = randomBytes(16).toString('hex');
  if (existsSync(configPath)) {
    try {
      const old = JSON.parse(readFileSync(configPath, 'utf8')) as { serverUuid?: unknown };
      if (typeof old.serverUuid === 'string' && /^[0-9a-f]{32}$/.test(old.serverUuid)) serverUuid = old.serverUuid;
    } catch {
      // a broken old config is replaced
    }
  }
  const adminSpec = opts.admin ? `${opts.admin.name}:${opts.admin.password}` : undefined;
  const nodes = Array.from({ length: opts.nodes }, (_, i) => {
    const dir = join(opts.dir, `n${i + 1}`);
    mkdirSync(dir, { recursive: true });
    return new NodeProcess({
      id: `n${i + 1}`,
      dir,
      port: opts.port === 0 ? 0 : opts.port + 1 + i,
      ...(opts.host ? { host: opts.host } : {}),
      ...(adminSpec ? { admin: adminSpec } : {}),
      ...(opts.inMemory ? { inMemory: true } : {}),
      ...(opts.kinds?.[i] ? { kind: opts.kinds[i] } : {}),
      ...(opts.onOutput ? { onOutput: opts.onOutput } : {}),
    });
  });
  try {
    await Promise.all(nodes.map((n) => n.start()));
    const generated = generateConfig({
      urls: nodes.map((n) => n.url),
      q: opts.q,
      n: opts.n,
      serverUuid,
      ...(opts.admin ? { admin: opts.admin } : {}),
      port: opts.port,
    });
    const raw = { ...generated, ...(opts.host ? { host: opts.host } : {}), ...(opts.tune ?? {}) };
    writeFileSync(configPath, JSON.stringify(raw, null, 2) + '\n');
    const config = validateConfig(raw);
    const lounge = await startLounge(config, { port: opts.port, configPath });
    return {
      lounge,
      nodes,
      configPath,
      async close() {
        await lounge.close();
        await Promise.all(nodes.map((n) => n.stop()));
      },
    };
  } catch (e) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw e;
  }
}
