// Loads bench docs into a database with `_bulk_docs`, checking every batch.
//
// Used by the `_bulk_docs` workload (which times it), by the shared data set and by the memory
// workload. A batch counts only if it answered 2xx with one `"rev"` per doc and no `"error"`, so
// a server that drops or rejects docs fails here instead of looking fast. Batches are sent one
// at a time: that is the workload DESIGN.md's targets were measured with.

import { performance } from 'node:perf_hooks';
import { bulkBatchSize, bulkBodies } from './docs.js';
import { isSuccess, snippet, type HttpClient } from './http-client.js';

export type LoadResult =
  | { kind: 'ok'; docs: number; elapsedMs: number }
  | { kind: 'failed'; docs: number; reason: string };

export interface LoadPlan {
  db: string;
  /** Id prefix; doc i gets id docId(prefix, i). */
  prefix: string;
  count: number;
  seed: number;
  /**
   * Bodies made before the clock starts (timed loads) — or undefined to make each batch just
   * before sending it (untimed loads too big to hold in memory, such as 1M docs).
   */
  bodies?: Buffer[];
  /** Give up after this long. */
  timeLimitMs: number;
  /** Called after each batch with the docs loaded so far. */
  progress?: (docs: number) => void;
}

export async function bulkLoad(client: HttpClient, plan: LoadPlan): Promise<LoadResult> {
  const path = `/${encodeURIComponent(plan.db)}/_bulk_docs`;
  const batches = Math.ceil(plan.count / bulkBatchSize);
  const start = performance.now();
  let docs = 0;
  for (let b = 0; b < batches; b++) {
    if (performance.now() - start > plan.timeLimitMs) {
      return { kind: 'failed', docs, reason: `time limit of ${plan.timeLimitMs / 1000} s reached after ${docs} docs` };
    }
    const from = b * bulkBatchSize;
    const size = Math.min(bulkBatchSize, plan.count - from);
    const body = plan.bodies?.[b] ?? bulkBodies(plan.prefix, from, size, plan.seed)[0]!;
    const res = await client.requestCounting('POST', path, ['"rev"', '"error"'], body);
    if (!isSuccess(res.status)) {
      return { kind: 'failed', docs, reason: `_bulk_docs answered ${res.status}: ${snippet(res.head)}` };
    }
    const [revs, errors] = res.counts as [number, number];
    if (errors > 0 || revs !== size) {
      return {
        kind: 'failed',
        docs,
        reason: `_bulk_docs batch ${b}: ${revs} revs and ${errors} errors for ${size} docs: ${snippet(res.head)}`,
      };
    }
    docs += size;
    plan.progress?.(docs);
  }
  return { kind: 'ok', docs, elapsedMs: performance.now() - start };
}

/** Counts the docs in a database from its info (`doc_count`). */
export async function docCount(client: HttpClient, db: string): Promise<number | string> {
  const res = await client.json('GET', `/${encodeURIComponent(db)}`);
  const count = (res.body as { doc_count?: unknown } | null)?.doc_count;
  if (!isSuccess(res.status) || typeof count !== 'number') {
    return `GET /${db} answered ${res.status}: ${snippet(JSON.stringify(res.body))}`;
  }
  return count;
}
