// `_bulk_docs` insert: options.docs docs of ~300 bytes into an empty database, in sequential
// batches of 1000, as docs per second. DESIGN.md target: ≥ 60,000 docs/s.
//
// Bodies are serialized before the clock starts. Every batch must answer 2xx with one rev per doc
// and no error, and the database must then report exactly options.docs docs. Because the result
// is exactly the shared data set, the database is offered to the read workloads afterwards, which
// saves loading it a second time.

import { bulkLoad, docCount } from '../bulk-load.js';
import { bulkBatchSize, bulkBodies } from '../docs.js';
import { datasetPrefix } from './dataset.js';
import { failed, measured, type Workload } from './workload.js';

/** Batches inserted into a scratch database before timing, to warm the server's code paths. */
const warmupBatches = 2;
/** A load slower than this has failed (100k docs at pouchdb-server's 7,500 docs/s take 13 s). */
const loadTimeLimitMs = 10 * 60_000;

export const bulkDocs: Workload = {
  name: 'bulk_docs',
  title: '_bulk_docs insert, batches of 1000',
  unit: 'docs/s',
  better: 'higher',
  target: 60_000,
  async run(ctx) {
    const { docs, seed } = ctx.options;
    const warmDb = await ctx.createDb('warmup');
    const warmDocs = Math.min(docs, warmupBatches * bulkBatchSize);
    const warm = await bulkLoad(ctx.client, { db: warmDb, prefix: 'w', count: warmDocs, seed, timeLimitMs: loadTimeLimitMs });
    if (warm.kind === 'failed') return failed(`warm-up: ${warm.reason}`);

    const db = await ctx.createDb('bulk');
    const bodies = bulkBodies(datasetPrefix, 0, docs, seed);
    const load = await bulkLoad(ctx.client, { db, prefix: datasetPrefix, count: docs, seed, bodies, timeLimitMs: loadTimeLimitMs });
    if (load.kind === 'failed') return failed(load.reason);
    const count = await docCount(ctx.client, db);
    if (count !== docs) return failed(typeof count === 'string' ? count : `doc_count is ${count} after inserting ${docs}`);
    ctx.offerDataset(db);
    return measured((docs * 1000) / load.elapsedMs);
  },
};
