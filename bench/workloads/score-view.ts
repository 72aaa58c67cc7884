// The view the `view_build` and `view_update_latency` workloads share: a JS map emitting each
// bench doc's `name` with its `score`, reduced by `_sum`, on the shared data set.
//
// It is built once per server instance (timed by `view_build`, untimed when another workload
// needs it first) and checked twice before anyone uses it: the index must hold exactly one row per
// doc, and its `_sum` must equal the sum of the scores the bench loaded, computed here from the
// same seeded bodies. Workloads that change scores afterwards keep `expectedSum` current, so the
// index can be checked again at any later point.

import { performance } from 'node:perf_hooks';
import { bulkBodies } from '../docs.js';
import { isSuccess, snippet, type HttpClient } from '../http-client.js';
import type { RunningServer } from '../servers.js';
import { datasetPrefix } from './dataset.js';
import type { WorkloadContext } from './workload.js';

/**
 * The first query builds the whole index; 100k docs at pouchdb-server's 1,380 docs/s take 72 s,
 * so the usual 2-minute request limit would be too tight on a loaded machine.
 */
export const viewBuildTimeLimitMs = 15 * 60_000;

/**
 * Its own design doc (not `_design/bench`, which the lounge workload puts on the same data set).
 * The `type` guard keeps any other doc out of the index, so its row count is exactly the data set.
 */
export const scoreDesign = {
  _id: '_design/bench-score',
  language: 'javascript',
  views: {
    score: {
      map: 'function (doc) { if (doc.type === "bench") emit(doc.name, doc.score); }',
      reduce: '_sum',
    },
  },
} as const;

export interface ScoreView {
  db: string;
  /** `/<db>/_design/bench-score/_view/score`, encoded. */
  viewPath: string;
  /** From the design doc's PUT to the first query's answer. */
  buildMs: number;
  /** The `_sum` the whole view must answer; writers that change a score update it. */
  expectedSum: number;
}

const views = new WeakMap<RunningServer, Promise<ScoreView | string>>();

/** The built, checked view on this server's data set (building it now if no workload has yet); a string says why it failed. */
export function scoreView(ctx: WorkloadContext): Promise<ScoreView | string> {
  let view = views.get(ctx.server);
  if (view === undefined) {
    view = buildScoreView(ctx);
    views.set(ctx.server, view);
  }
  return view;
}

async function buildScoreView(ctx: WorkloadContext): Promise<ScoreView | string> {
  const { docs, seed } = ctx.options;
  const db = await ctx.dataset();
  const expectedSum = sumOfField(bulkBodies(datasetPrefix, 0, docs, seed), 'score');
  const ddocPath = `/${encodeURIComponent(db)}/${scoreDesign._id}`;
  const viewPath = `${ddocPath}/_view/score`;
  const ddocBody = Buffer.from(JSON.stringify(scoreDesign));

  ctx.log(`building the score view over ${docs} docs`);
  const built = await timedBuild(ctx.client, ddocPath, ddocBody, viewPath, docs);
  if (typeof built === 'string') return built;
  const sum = await reduceValue(ctx.client, viewPath);
  if (typeof sum === 'string') return sum;
  if (sum !== expectedSum) return `_sum is ${sum}, expected ${expectedSum} (the sum of the loaded scores)`;
  return { db, viewPath, buildMs: built, expectedSum };
}

/**
 * PUTs a design doc and times until its first query answers, which forces the index build. The
 * clock starts before the PUT, so a server that starts building as soon as the design doc is
 * saved is timed the same way as one that builds on the query. Checks `total_rows` === rows.
 * Returns the elapsed ms, or why it failed.
 */
export async function timedBuild(client: HttpClient, ddocPath: string, ddocBody: Buffer, viewPath: string, rows: number): Promise<number | string> {
  const start = performance.now();
  const put = await client.request('PUT', ddocPath, ddocBody);
  if (!isSuccess(put.status)) return `PUT ${ddocPath} answered ${put.status}: ${snippet(put.body)}`;
  const first = await client.request('GET', `${viewPath}?reduce=false&limit=1`, undefined, viewBuildTimeLimitMs);
  const elapsedMs = performance.now() - start;
  if (first.status !== 200) return `first view query answered ${first.status}: ${snippet(first.body)}`;
  const body = JSON.parse(first.body.toString('utf8')) as { total_rows?: unknown; rows?: unknown };
  if (body.total_rows !== rows) return `the view has total_rows ${String(body.total_rows)}, expected ${rows}`;
  if (!Array.isArray(body.rows) || body.rows.length !== 1) return `limit=1 answered ${snippet(first.body)}`;
  return elapsedMs;
}

/** The value of a view's full reduce (no grouping), or why the answer was not one. */
export async function reduceValue(client: HttpClient, viewPath: string): Promise<number | string> {
  const res = await client.request('GET', viewPath, undefined, viewBuildTimeLimitMs);
  if (res.status !== 200) return `reduce query answered ${res.status}: ${snippet(res.body)}`;
  const rows = (JSON.parse(res.body.toString('utf8')) as { rows?: unknown }).rows;
  const row = Array.isArray(rows) && rows.length === 1 ? (rows[0] as { key?: unknown; value?: unknown }) : undefined;
  if (row === undefined || row.key !== null || typeof row.value !== 'number') return `reduce query answered ${snippet(res.body)}`;
  return row.value;
}

/** The sum of one numeric field over every doc in `_bulk_docs` bodies (made by docs.ts). */
export function sumOfField(bodies: readonly Buffer[], field: string): number {
  let sum = 0;
  for (const body of bodies) {
    for (const doc of (JSON.parse(body.toString('utf8')) as { docs: Record<string, unknown>[] }).docs) {
      const value = doc[field];
      if (typeof value !== 'number') throw new Error(`bench doc ${String(doc._id)} has no numeric ${field}`);
      sum += value;
    }
  }
  return sum;
}
