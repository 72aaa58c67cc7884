// A partition view query's latency, and how it changes as the database grows 10×: the issue's
// "a partition query's cost must follow the partition's size, not the database's".
//
// Two partitioned databases, loaded untimed: 10 × `--docs` docs (1,000,000 at the default) and
// `--docs` docs, each with 100 docs per partition (10,000 and 1,000 partitions), a doc's partition
// being its number modulo the partition count (so every `_bulk_docs` batch spreads over many
// partitions, as real writes do). One partitioned design doc, `emit(doc.tag, doc.score)` with
// `_sum`, built before timing. Then, on seeded random partitions, one request at a time:
// - the map query `GET /db/_partition/p/_design/b/_view/v?reduce=false` (the partition's ~100 rows),
//   which must return exactly the partition's rows;
// - the reduce `GET /db/_partition/p/_design/b/_view/v`, which must equal the partition's known sum.
// The row's value is the map query's median on the large database; the note gives its p99, the
// reduce's median and p99, the same on the small database, and the large/small ratio of medians.
// Target: ≤ 2 ms, and the 10× larger database no more than 1.3× slower.
//
// A server without partitioned databases (pouchdb-server: `PUT /db?partitioned=true` makes a plain
// database, whose info has no `props.partitioned`) gets `not-applicable`.

import { performance } from 'node:perf_hooks';
import { bulkBatchSize, makeRandom } from '../docs.js';
import { isSuccess, snippet, type HttpClient } from '../http-client.js';
import { failed, measured, median, percentile, type Measurement, type Workload, type WorkloadContext } from './workload.js';

/** Docs per partition in both databases: a partition query returns about this many rows. */
export const docsPerPartition = 100;
/** The large database is this many times the small one. */
const growth = 10;
/** Timed queries of each kind per database (median and p99 over them). */
const samples = 300;
/** Loading slower than this means the server is broken. */
const loadTimeLimitMs = 20 * 60_000;
/** The index build (first query) may take this long. */
const buildTimeLimitMs = 20 * 60_000;
const tags = ['amber', 'basil', 'cedar', 'delta', 'ember'] as const;

const design = {
  _id: '_design/b',
  views: { v: { map: 'function (doc) { emit(doc.tag, doc.score); }', reduce: '_sum' } },
} as const;

function partitionName(k: number): string {
  return `p${String(k).padStart(5, '0')}`;
}

interface Loaded {
  db: string;
  docs: number;
  partitions: number;
  /** Σ score per partition, for checking the reduce. */
  sums: Float64Array;
}

/** Loads `docs` docs in `docs / docsPerPartition` partitions; returns the partition sums, or a failure. */
async function load(ctx: WorkloadContext, tag: string, docs: number): Promise<Loaded | string> {
  const partitions = Math.max(1, Math.floor(docs / docsPerPartition));
  const db = await ctx.createDb(tag);
  const path = `/${encodeURIComponent(db)}`;
  // createDb made a plain database: make it again, partitioned.
  await ctx.client.json('DELETE', path);
  const made = await ctx.client.json('PUT', `${path}?partitioned=true`);
  if (!isSuccess(made.status)) return `PUT ?partitioned=true answered ${made.status}`;
  const info = (await ctx.client.json('GET', path)).body as { props?: { partitioned?: boolean } };
  if (info.props?.partitioned !== true) return 'not-partitioned';
  const sums = new Float64Array(partitions);
  const random = makeRandom(ctx.options.seed ^ docs);
  const start = performance.now();
  for (let from = 0; from < docs; from += bulkBatchSize) {
    if (performance.now() - start > loadTimeLimitMs) return `loading stopped at the time limit after ${from} docs`;
    const size = Math.min(bulkBatchSize, docs - from);
    const parts: string[] = [];
    for (let i = from; i < from + size; i++) {
      const k = i % partitions;
      const score = Math.floor(random() * 1000);
      sums[k] = (sums[k] as number) + score;
      parts.push(`{"_id":"${partitionName(k)}:${String(i).padStart(8, '0')}","n":${i},"tag":"${tags[i % tags.length]}","score":${score}}`);
    }
    const res = await ctx.client.requestCounting('POST', `${path}/_bulk_docs`, ['"rev"', '"error"'], Buffer.from(`{"docs":[${parts.join(',')}]}`));
    const [revs, errors] = res.counts as [number, number];
    if (!isSuccess(res.status) || errors > 0 || revs !== size) return `_bulk_docs at ${from}: ${res.status}, ${revs} revs, ${errors} errors: ${snippet(res.head)}`;
  }
  ctx.log(`partition_query: ${docs} docs in ${partitions} partitions loaded in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  return { db, docs, partitions, sums };
}

interface Timings {
  mapMedian: number;
  mapP99: number;
  reduceMedian: number;
  reduceP99: number;
  buildMs: number;
}

async function timeQueries(ctx: WorkloadContext, loaded: Loaded): Promise<Timings | string> {
  const client: HttpClient = ctx.client;
  const dbPath = `/${encodeURIComponent(loaded.db)}`;
  const put = await client.json('PUT', `${dbPath}/${design._id}`, design);
  if (!isSuccess(put.status)) return `design doc PUT answered ${put.status}`;
  const viewOf = (k: number) => `${dbPath}/_partition/${partitionName(k)}/_design/b/_view/v`;
  const buildStart = performance.now();
  const first = await client.request('GET', `${viewOf(0)}?reduce=false&limit=1`, undefined, buildTimeLimitMs);
  if (first.status !== 200) return `first query answered ${first.status}: ${snippet(first.body)}`;
  const buildMs = performance.now() - buildStart;
  ctx.log(`partition_query: index of ${loaded.db} built in ${(buildMs / 1000).toFixed(1)} s`);
  const random = makeRandom(ctx.options.seed + loaded.partitions);
  const expectRows = (k: number) => Math.floor(loaded.docs / loaded.partitions) + (k < loaded.docs % loaded.partitions ? 1 : 0);
  const map: number[] = [];
  const reduce: number[] = [];
  // Warm-up: a few of each, untimed.
  for (let i = 0; i < 20; i++) {
    await client.request('GET', `${viewOf(i % loaded.partitions)}?reduce=false`);
    await client.request('GET', viewOf(i % loaded.partitions));
  }
  for (let i = 0; i < samples; i++) {
    const k = Math.floor(random() * loaded.partitions);
    let t0 = performance.now();
    const rows = await client.requestCounting('GET', `${viewOf(k)}?reduce=false`, ['"id"']);
    map.push(performance.now() - t0);
    if (rows.status !== 200 || rows.counts[0] !== expectRows(k)) return `partition ${k}: ${rows.status}, ${rows.counts[0]} rows, expected ${expectRows(k)}`;
    t0 = performance.now();
    const red = await client.request('GET', viewOf(k));
    reduce.push(performance.now() - t0);
    const value = (JSON.parse(red.body.toString('utf8')) as { rows?: { value?: number }[] }).rows?.[0]?.value;
    if (red.status !== 200 || value !== loaded.sums[k]) return `partition ${k}: reduce ${red.status} ${String(value)}, expected ${loaded.sums[k]}`;
  }
  return { mapMedian: median(map), mapP99: percentile(map, 99), reduceMedian: median(reduce), reduceP99: percentile(reduce, 99), buildMs };
}

const ms = (v: number) => v.toFixed(2);

export const partitionQuery: Workload = {
  name: 'partition_query',
  title: (o) =>
    `partition view query, ${docsPerPartition} rows, ${(o.docs * growth).toLocaleString('en-US')}-doc db in ${((o.docs * growth) / docsPerPartition).toLocaleString('en-US')} partitions, median`,
  unit: 'ms',
  better: 'lower',
  target: 2,
  async run(ctx): Promise<Measurement> {
    const small = ctx.options.docs;
    const large = small * growth;
    const results: Timings[] = [];
    for (const [tag, docs] of [['part-small', small], ['part-large', large]] as const) {
      const loaded = await load(ctx, tag, docs);
      if (loaded === 'not-partitioned') return { kind: 'not-applicable', reason: 'no partitioned databases (PUT /db?partitioned=true makes a plain one)' };
      if (typeof loaded === 'string') return failed(loaded);
      const t = await timeQueries(ctx, loaded);
      if (typeof t === 'string') return failed(t);
      results.push(t);
      // The small database is not needed any more: free the disk before loading 10× more.
      if (docs === small) await ctx.client.json('DELETE', `/${encodeURIComponent(loaded.db)}`);
    }
    const [s, l] = results as [Timings, Timings];
    return measured(
      l.mapMedian,
      `${large.toLocaleString('en-US')} docs: map p99 ${ms(l.mapP99)} ms, _sum median ${ms(l.reduceMedian)} / p99 ${ms(l.reduceP99)} ms (index built in ${(l.buildMs / 1000).toFixed(1)} s); ` +
        `${small.toLocaleString('en-US')} docs: map median ${ms(s.mapMedian)} / p99 ${ms(s.mapP99)} ms, _sum median ${ms(s.reduceMedian)} / p99 ${ms(s.reduceP99)} ms; ` +
        `10× db: map ${(l.mapMedian / s.mapMedian).toFixed(2)}×, _sum ${(l.reduceMedian / s.reduceMedian).toFixed(2)}× (target ≤ 1.3×); ${samples} queries each`,
    );
  },
};
