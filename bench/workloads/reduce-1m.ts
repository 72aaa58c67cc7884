// `_sum` over a whole index of 10 rows per doc — 1,000,000 rows at the default 100k docs — once
// it is built: the median time of a full reduce query (`GET …/_view/v`, no grouping), in ms.
// DESIGN.md target: ≤ 20 ms once built, which needs stored reductions (CouchDB's B-tree keeps
// them too); a server that scans the rows on every query takes seconds.
//
// Its own database of options.docs fresh docs (loaded untimed), so the expected sum is known
// exactly: each doc emits `doc.score + i` for i = 0…9, and the index must hold 10 rows per doc.
// The build (design doc PUT to first answer) is timed too and given in the note. A server whose
// build does not finish within the build limit gets `not-applicable` with the reason, rather than
// a half-built index being queried while it keeps the machine busy.

import { performance } from 'node:perf_hooks';
import { bulkLoad, docCount } from '../bulk-load.js';
import { bulkBodies } from '../docs.js';
import { HttpError } from '../http-client.js';
import { reduceValue, sumOfField, timedBuild, viewBuildTimeLimitMs } from './score-view.js';
import { failed, measured, median, type Workload } from './workload.js';

/** Rows each doc emits: 10 × the 100k-doc data set = the issue's 1,000,000 rows. */
export const rowsPerDoc = 10;
/** Timed reduce queries at most (median reported)… */
const repeatsMax = 9;
/** …but none starts after this long: a server that scans 1M rows per query takes seconds each. */
const repeatTimeMs = 60_000;
/** Loading the docs slower than this means the server is broken. */
const loadTimeLimitMs = 15 * 60_000;
/** Ids of this workload's docs, apart from the data set's. */
const prefix = 'r';

const design = {
  _id: '_design/bench-rows',
  language: 'javascript',
  views: {
    rows: {
      map: `function (doc) { if (doc.type === "bench") { for (var i = 0; i < ${rowsPerDoc}; i++) emit([doc.tags[i % 3], i], doc.score + i); } }`,
      reduce: '_sum',
    },
  },
} as const;

export const reduce1m: Workload = {
  name: 'reduce_1m',
  title: (o) => `_sum over a ${(o.docs * rowsPerDoc).toLocaleString('en-US')}-row view (built), median`,
  unit: 'ms',
  better: 'lower',
  target: 20,
  async run(ctx) {
    const { docs, seed } = ctx.options;
    const rows = docs * rowsPerDoc;
    const bodies = bulkBodies(prefix, 0, docs, seed);
    // Σ over docs and i of (score + i) = 10·Σscore + 45·docs.
    const expectedSum = rowsPerDoc * sumOfField(bodies, 'score') + ((rowsPerDoc * (rowsPerDoc - 1)) / 2) * docs;

    const db = await ctx.createDb('reduce');
    ctx.log(`reduce_1m: loading ${docs} docs`);
    const load = await bulkLoad(ctx.client, { db, prefix, count: docs, seed, bodies, timeLimitMs: loadTimeLimitMs });
    if (load.kind === 'failed') return failed(`loading: ${load.reason}`);
    const count = await docCount(ctx.client, db);
    if (count !== docs) return failed(typeof count === 'string' ? count : `doc_count ${count}, expected ${docs}`);

    const ddocPath = `/${encodeURIComponent(db)}/${design._id}`;
    const viewPath = `${ddocPath}/_view/rows`;
    ctx.log(`reduce_1m: building an index of ${rows} rows`);
    let buildMs: number | string;
    try {
      buildMs = await timedBuild(ctx.client, ddocPath, Buffer.from(JSON.stringify(design)), viewPath, rows);
    } catch (e) {
      if (e instanceof HttpError && /no answer within/.test(e.message)) {
        return { kind: 'not-applicable', reason: `the ${rows}-row index was not built within ${viewBuildTimeLimitMs / 60_000} min` };
      }
      throw e;
    }
    if (typeof buildMs === 'string') return failed(buildMs);
    ctx.log(`reduce_1m: built in ${(buildMs / 1000).toFixed(1)} s`);

    // The first query after the build is a warm-up, unless it alone took longer than all the
    // repeats may: then it is the one sample (pouchdb-server scans 1M rows in ~90 s per query).
    const warmStart = performance.now();
    const warm = await reduceValue(ctx.client, viewPath);
    const warmMs = performance.now() - warmStart;
    if (typeof warm === 'string') return failed(warm);
    if (warm !== expectedSum) return failed(`_sum is ${warm}, expected ${expectedSum}`);
    const times: number[] = warmMs > repeatTimeMs ? [warmMs] : [];
    const start = times.length > 0 ? warmStart : performance.now();
    while (times.length < repeatsMax && (times.length === 0 || performance.now() - start < repeatTimeMs)) {
      const t0 = performance.now();
      const sum = await reduceValue(ctx.client, viewPath);
      times.push(performance.now() - t0);
      if (typeof sum === 'string') return failed(sum);
      if (sum !== expectedSum) return failed(`_sum is ${sum}, expected ${expectedSum}`);
    }
    return measured(
      median(times),
      `${times.length === 1 ? 'one query (each takes over a minute)' : `median of ${times.length}`}; the ${rows.toLocaleString('en-US')}-row index built in ${(buildMs / 1000).toFixed(1)} s (${Math.round((docs * 1000) / buildMs).toLocaleString('en-US')} docs/s)`,
    );
  },
};
