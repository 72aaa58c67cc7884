// The lounge (lounge/) in front of 3 node processes, measured against one direct node, in
// the same run on the same machine. Four Chaise-only rows:
//
// - `lounge_get`, `lounge_get_p99`: GET latency through the lounge divided by the latency of
//   the same GET on a direct node, at the median and at the 99th percentile; requests are
//   sequential (concurrency 1), so each sample is one request's latency, and the two sides
//   alternate in rounds so drift on a shared machine hits both;
// - `lounge_bulk_docs`: `_bulk_docs` inserts through the lounge (q=8, n=2: every doc is
//   written on its range's leader and copied to the other replica), docs/s, with the direct
//   node's rate for the same docs in the note;
// - `lounge_view_reduce`: a `_sum` reduce over the whole data set (`--docs`, 100k by
//   default), warm (index built), ms per query through the lounge, with the direct node's in
//   the note; the note also gives both index build times (first query).
//
// The cluster is 3 node processes (LMDB on disk) and a lounge process (`chaise lounge`, q=8,
// n=2, anti-entropy off so its first full pass does not land in a measurement), started
// once by whichever of these runs first and stopped by `lounge_view_reduce` (or at exit).
// The direct node is the bench's own Chaise with its shared data set. To list these rows,
// add `loungeWorkloads` to bench/workloads/index.ts.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { bulkLoad, docCount } from '../bulk-load.js';
import { bulkBodies, docId, makeRandom } from '../docs.js';
import { HttpClient, isSuccess, snippet } from '../http-client.js';
import { datasetPrefix } from './dataset.js';
import { failed, measured, median, type Workload, type WorkloadContext } from './workload.js';
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { generateConfig, NodeProcess } from '../../lounge/index.js';

/** Samples per side for the latency rows (each sample is one sequential GET). */
const LATENCY_SAMPLES = 4_000;
/** Rounds the latency samples are split into, alternating direct and lounge. */
const LATENCY_ROUNDS = 4;
/** Warm-up GETs per side before sampling. */
const WARMUP_GETS = 300;
/** Warm queries of the reduce view per side; the median is reported. */
const VIEW_QUERIES = 9;
/** Nothing here should take longer than this; a hung cluster fails the row. */
const TIME_LIMIT_MS = 15 * 60_000;
const CLUSTER = { nodes: 3, q: 8, n: 2 };
const DESIGN = { _id: '_design/bench', views: { score: { map: 'function (doc) { if (doc.type === "bench") emit(doc.tags[0], doc.score); }', reduce: '_sum' } } };

interface Shared {
  nodes: NodeProcess[];
  lounge: NodeProcess;
  url: string;
  client: HttpClient;
  dir: string;
  /** The lounge database holding the data set, once loaded. */
  dataset?: string;
  bulkRate?: number;
}

let shared: Promise<Shared> | undefined;

function cluster(ctx: WorkloadContext): Promise<Shared> {
  shared ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chaise-bench-lounge-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    ctx.log(`lounge: starting ${CLUSTER.nodes} node processes and a lounge process (q=${CLUSTER.q}, n=${CLUSTER.n})`);
    const nodes = Array.from({ length: CLUSTER.nodes }, (_, i) => {
      const nodeDir = join(dir, `n${i + 1}`);
      mkdirSync(nodeDir);
      return new NodeProcess({ id: `n${i + 1}`, dir: nodeDir, port: 0 });
    });
    await Promise.all(nodes.map((n) => n.start()));
    const config = {
      ...generateConfig({ urls: nodes.map((n) => n.url), q: CLUSTER.q, n: CLUSTER.n, serverUuid: randomBytes(16).toString('hex') }),
      sync: { enabled: false },
    };
    const configPath = join(dir, 'lounge.json');
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const lounge = new NodeProcess({ id: 'lounge', dir, port: 0, loungeConfig: configPath });
    await lounge.start();
    return { nodes, lounge, url: lounge.url, client: new HttpClient(lounge.url, ctx.options.concurrency), dir };
  })();
  return shared;
}

async function stopCluster(): Promise<void> {
  const s = shared ? await shared.catch(() => undefined) : undefined;
  shared = undefined;
  if (!s) return;
  s.client.close();
  await s.lounge.stop();
  await Promise.all(s.nodes.map((n) => n.stop()));
  rmSync(s.dir, { recursive: true, force: true });
}

/** Loads the data set into the lounge (timed), returning docs/s. */
async function loadLounge(s: Shared, ctx: WorkloadContext): Promise<number | string> {
  const { docs, seed } = ctx.options;
  const db = `lounge-bench-${Date.now().toString(36)}`;
  const created = await s.client.json('PUT', `/${db}`);
  if (!isSuccess(created.status)) return `PUT /${db} through the lounge answered ${created.status}`;
  const bodies = bulkBodies(datasetPrefix, 0, docs, seed);
  const load = await bulkLoad(s.client, { db, prefix: datasetPrefix, count: docs, seed, bodies, timeLimitMs: TIME_LIMIT_MS });
  if (load.kind === 'failed') return `through the lounge: ${load.reason}`;
  const count = await docCount(s.client, db);
  if (count !== docs) return `through the lounge: ${typeof count === 'string' ? count : `doc_count ${count}, expected ${docs}`}`;
  s.dataset = db;
  return (docs / load.elapsedMs) * 1000;
}

async function loungeDataset(s: Shared, ctx: WorkloadContext): Promise<string> {
  if (s.dataset) return s.dataset;
  ctx.log('lounge: loading the data set through the lounge');
  const r = await loadLounge(s, ctx);
  if (typeof r === 'string') throw new Error(r);
  s.bulkRate = r;
  return s.dataset as string;
}

export const loungeBulkDocs: Workload = {
  name: 'lounge_bulk_docs',
  title: (o) => `lounge _bulk_docs, ${o.docs} docs, batches of 1000 (q=8, n=2, 3 nodes)`,
  unit: 'docs/s',
  better: 'higher',
  target: undefined,
  chaiseOnly: true,
  async run(ctx) {
    const s = await cluster(ctx);
    const { docs, seed } = ctx.options;
    // The direct node's rate for the same docs, into a fresh db, in this same run.
    const direct = await ctx.createDb('lounge-direct-bulk');
    const bodies = bulkBodies(datasetPrefix, 0, docs, seed);
    const d = await bulkLoad(ctx.client, { db: direct, prefix: datasetPrefix, count: docs, seed, bodies, timeLimitMs: TIME_LIMIT_MS });
    if (d.kind === 'failed') return failed(`direct node: ${d.reason}`);
    const directRate = (docs / d.elapsedMs) * 1000;
    if (s.dataset === undefined) {
      const r = await loadLounge(s, ctx);
      if (typeof r === 'string') return failed(r);
      s.bulkRate = r;
    }
    const rate = s.bulkRate as number;
    return measured(rate, `direct node ${Math.round(directRate)} docs/s; lounge/direct ${(rate / directRate).toFixed(2)} (each doc is written twice, n=2)`);
  },
};

/** Sequential GET latencies (ms) of random data-set ids. */
async function latencies(client: HttpClient, db: string, n: number, random: () => number, docs: number): Promise<number[] | string> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = docId(datasetPrefix, Math.floor(random() * docs));
    const t = performance.now();
    const res = await client.request('GET', `/${encodeURIComponent(db)}/${id}`);
    out.push(performance.now() - t);
    if (res.status !== 200 || !res.body.includes(`"${id}"`)) return `GET ${id} answered ${res.status}: ${snippet(res.body)}`;
  }
  return out;
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

let latencyResult: Promise<{ direct: number[]; lounge: number[] } | string> | undefined;

function measureLatency(ctx: WorkloadContext): Promise<{ direct: number[]; lounge: number[] } | string> {
  latencyResult ??= (async () => {
    const s = await cluster(ctx);
    const direct = await ctx.dataset();
    const via = await loungeDataset(s, ctx);
    const { docs, seed } = ctx.options;
    const single = new HttpClient(ctx.server.url, 1);
    const lounge = new HttpClient(s.url, 1);
    try {
      const warmD = await latencies(single, direct, WARMUP_GETS, makeRandom(seed + 7), docs);
      const warmL = await latencies(lounge, via, WARMUP_GETS, makeRandom(seed + 7), docs);
      if (typeof warmD === 'string') return `direct warm-up: ${warmD}`;
      if (typeof warmL === 'string') return `lounge warm-up: ${warmL}`;
      const all = { direct: [] as number[], lounge: [] as number[] };
      const per = Math.ceil(LATENCY_SAMPLES / LATENCY_ROUNDS);
      for (let r = 0; r < LATENCY_ROUNDS; r++) {
        const d = await latencies(single, direct, per, makeRandom(seed + 100 + r), docs);
        const l = await latencies(lounge, via, per, makeRandom(seed + 100 + r), docs);
        if (typeof d === 'string') return `direct: ${d}`;
        if (typeof l === 'string') return `lounge: ${l}`;
        all.direct.push(...d);
        all.lounge.push(...l);
      }
      return all;
    } finally {
      single.close();
      lounge.close();
    }
  })();
  return latencyResult;
}

function latencyRow(name: string, p: number): Workload {
  return {
    name,
    title: `lounge GET latency, ${p === 50 ? 'median' : `p${p}`}, ×direct node (sequential)`,
    unit: '× direct',
    better: 'lower',
    target: undefined,
    chaiseOnly: true,
    async run(ctx) {
      const r = await measureLatency(ctx);
      if (typeof r === 'string') return failed(r);
      const d = percentile(r.direct, p);
      const l = percentile(r.lounge, p);
      return measured(l / d, `lounge ${l.toFixed(3)} ms, direct ${d.toFixed(3)} ms over ${r.direct.length} GETs each`);
    },
  };
}

export const loungeGet = latencyRow('lounge_get', 50);
export const loungeGetP99 = latencyRow('lounge_get_p99', 99);

/** First query (builds the index) then warm queries; checks the total against the data set. */
async function viewTimes(client: HttpClient, db: string, docs: number): Promise<{ buildMs: number; warmMs: number; rows: number } | string> {
  const path = `/${encodeURIComponent(db)}/_design/bench/_view/score`;
  const put = await client.json('PUT', `/${encodeURIComponent(db)}/_design/bench`, DESIGN);
  if (!isSuccess(put.status)) return `PUT design doc answered ${put.status}: ${snippet(JSON.stringify(put.body))}`;
  let t = performance.now();
  const first = await client.json('GET', `${path}?group=true`);
  const buildMs = performance.now() - t;
  if (first.status !== 200) return `first view query answered ${first.status}: ${snippet(JSON.stringify(first.body))}`;
  const check = await client.json('GET', `/${encodeURIComponent(db)}/_design/bench/_view/score?reduce=false&limit=0`);
  const total = (check.body as { total_rows?: number }).total_rows;
  if (total !== docs) return `the view has ${total} rows, expected ${docs}`;
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < VIEW_QUERIES; i++) {
    t = performance.now();
    const r = await client.json('GET', `${path}?group=true`);
    times.push(performance.now() - t);
    if (r.status !== 200) return `view query answered ${r.status}`;
    rows = (r.body as { rows: unknown[] }).rows.length;
  }
  return { buildMs, warmMs: median(times), rows };
}

export const loungeViewReduce: Workload = {
  name: 'lounge_view_reduce',
  title: (o) => `lounge view query, _sum group=true over ${o.docs} docs (warm)`,
  unit: 'ms',
  better: 'lower',
  target: undefined,
  chaiseOnly: true,
  async run(ctx) {
    try {
      const s = await cluster(ctx);
      const via = await loungeDataset(s, ctx);
      const direct = await ctx.dataset();
      const single = new HttpClient(ctx.server.url, 1);
      const lounge = new HttpClient(s.url, 1);
      try {
        const d = await viewTimes(single, direct, ctx.options.docs);
        if (typeof d === 'string') return failed(`direct: ${d}`);
        const l = await viewTimes(lounge, via, ctx.options.docs);
        if (typeof l === 'string') return failed(`lounge: ${l}`);
        if (d.rows !== l.rows) return failed(`lounge answered ${l.rows} groups, the direct node ${d.rows}`);
        return measured(
          l.warmMs,
          `direct ${d.warmMs.toFixed(1)} ms (lounge/direct ${(l.warmMs / d.warmMs).toFixed(2)}); index build ${(l.buildMs / 1000).toFixed(1)} s through the lounge, ${(d.buildMs / 1000).toFixed(1)} s direct`,
        );
      } finally {
        single.close();
        lounge.close();
      }
    } finally {
      await stopCluster();
    }
  },
};

/** In run order: bulk first (it loads the lounge's data set, timed), the view last (it stops the cluster). */
export const loungeWorkloads: readonly Workload[] = [loungeBulkDocs, loungeGet, loungeGetP99, loungeViewReduce];
