// What the lounge's multi-process tests share: a cluster of real node processes in a fresh
// temporary directory, started before a file's tests and stopped (directory removed) after
// them, optionally with spare nodes that hold nothing yet (targets of moves); the health and
// sync timings those tests tune; and the replica check every elastic or failover test ends
// with (every replica of every range holds the same revisions), asked over HTTP so it works
// whether the lounge runs in the test's process or as its own.

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type ClusterOptions, type RunningCluster } from '../cluster/cluster.js';
import { NodeProcess } from '../cluster/node-process.js';
import { shardName, type ShardNameScheme } from '../placement/shard-map.js';
import { call, eventually } from './http.js';

/** Notices a dead node at once and a returning one quickly (failover and crash tests). */
export const FAST_HEALTH = { failThreshold: 1, backoffBaseMs: 100, backoffMaxMs: 300, probeIntervalMs: 100 };
/** Anti-entropy on, but only when triggered (hints, recoveries): no periodic sweep in a test. */
export const TRIGGERED_SYNC = { intervalMs: 600_000, debounceMs: 200, enabled: true };

export interface FixtureOptions extends Omit<ClusterOptions, 'port' | 'dir'> {
  /** Nodes started beside the cluster, in the map nowhere (n4, n5, …). */
  spareNodes?: number;
  /**
   * Runs the lounge as its own process (`chaise lounge --config <dir>/lounge.json`) so a test can
   * SIGKILL it and start it again from its file; the in-process lounge is closed at once.
   */
  loungeProcess?: { env?: Record<string, string>; onOutput?: (text: string) => void };
}

export interface ClusterFixture {
  cluster: RunningCluster;
  /** The lounge's URL (the same across restarts of a lounge process). */
  url: string;
  /** The lounge process, with `loungeProcess` (`cluster.lounge` is then closed). */
  lounge: NodeProcess | undefined;
  dir: string;
  spares: NodeProcess[];
  /**
   * Settles when the fixture's `before` has: Node 20 runs a file's root `before` hooks at the
   * same time, so a file's own `before` awaits this first.
   */
  ready: Promise<void>;
}

/**
 * Registers `before` (start) and `after` (stop every process, remove the directory) hooks for
 * the calling test file and returns the fixture, filled in once `before` has run.
 */
export function useCluster(opts: FixtureOptions): ClusterFixture {
  let settle: (e?: unknown) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => (settle = (e) => (e === undefined ? resolve() : reject(e))));
  ready.catch(() => undefined); // the fixture's own hook reports the failure
  const fx = { url: '', dir: '', spares: [], lounge: undefined, ready } as unknown as ClusterFixture;
  before(async () => {
    try {
      await start();
      settle();
    } catch (e) {
      settle(e);
      throw e;
    }
  });
  async function start(): Promise<void> {
    fx.dir = mkdtempSync(join(tmpdir(), 'chaise-cluster-'));
    const { spareNodes = 0, loungeProcess: _, ...cluster } = opts;
    fx.cluster = await startCluster({ ...cluster, port: 0, dir: fx.dir });
    fx.url = fx.cluster.lounge.url;
    if (opts.loungeProcess) {
      const { env, onOutput } = opts.loungeProcess;
      await fx.cluster.lounge.close();
      fx.lounge = new NodeProcess({ id: 'lounge', dir: fx.dir, port: 0, loungeConfig: fx.cluster.configPath, ...(env ? { env } : {}), ...(onOutput ? { onOutput: (_id, text) => onOutput(text) } : {}) });
      await fx.lounge.start();
      fx.url = fx.lounge.url;
    }
    fx.spares = Array.from({ length: spareNodes }, (_, i) => {
      const id = `n${opts.nodes + 1 + i}`;
      mkdirSync(join(fx.dir, id));
      return new NodeProcess({ id, dir: join(fx.dir, id), port: 0 });
    });
    await Promise.all(fx.spares.map((n) => n.start()));
  }
  after(async () => {
    if (fx.lounge) {
      await fx.lounge.stop();
      await Promise.all(fx.cluster.nodes.map((n) => n.stop()));
    } else await fx.cluster?.close();
    await Promise.all(fx.spares.map((n) => n.stop()));
    if (fx.dir) rmSync(fx.dir, { recursive: true, force: true });
  });
  return fx;
}

interface MapBody {
  nodes: Record<string, { url: string }>;
  shardNames: ShardNameScheme;
  ranges: { range: string; nodes: string[] }[];
}

/** Waits until no move or split of the lounge is pending or running, then requires that none failed. */
export async function movesDone(loungeUrl: string, deadlineMs: number): Promise<void> {
  const moves = async () => (await call(loungeUrl, 'GET', '/_lounge/moves')).body.moves as { state: string }[];
  await eventually(async () => (await moves()).every((m) => m.state === 'done' || m.state === 'failed'), deadlineMs, 'every move to finish', 100);
  assert.deepEqual((await moves()).filter((m) => m.state === 'failed'), [], 'no move failed');
}

/** Every leaf of every doc on one replica of one shard: `id rev,rev…[ deleted]`, sorted. */
export async function replicaState(nodeUrl: string, shard: string, opts: { skipDesign?: boolean } = {}): Promise<string[]> {
  const r = await call(nodeUrl, 'GET', `/${encodeURIComponent(shard)}/_changes?style=all_docs`);
  if (r.status !== 200) throw new Error(`${nodeUrl} ${shard}: ${r.status} ${r.text}`);
  return (r.body.results as { id: string; changes: { rev: string }[]; deleted?: boolean }[])
    .filter((x) => !(opts.skipDesign && x.id.startsWith('_design/')))
    .map((x) => `${x.id} ${x.changes.map((c) => c.rev).sort().join(',')}${x.deleted ? ' deleted' : ''}`)
    .sort();
}

/**
 * Whether every replica of every range of `db` holds the same leaves, by the lounge's live map
 * (`GET /_lounge/map`). Not identical: the first difference, named (range, nodes, a few ids).
 */
export async function replicaDifference(loungeUrl: string, db: string, opts: { skipDesign?: boolean; headers?: Record<string, string> } = {}): Promise<string | undefined> {
  const map = (await call<MapBody>(loungeUrl, 'GET', '/_lounge/map', undefined, opts.headers)).body;
  for (const { range, nodes } of map.ranges) {
    const shard = shardName(range, db, map.shardNames);
    const states = await Promise.all(nodes.map((n) => replicaState(map.nodes[n]?.url as string, shard, opts).catch((e: Error) => [`unreachable: ${e.message}`])));
    const first = new Set(states[0]);
    for (let i = 1; i < states.length; i++) {
      const other = new Set(states[i]);
      const onlyFirst = [...first].filter((x) => !other.has(x));
      const onlyOther = [...other].filter((x) => !first.has(x));
      if (onlyFirst.length + onlyOther.length > 0) {
        return `${range}: only on ${nodes[0]}: ${onlyFirst.slice(0, 3).join('; ')} | only on ${nodes[i]}: ${onlyOther.slice(0, 3).join('; ')}`;
      }
    }
  }
  return undefined;
}
