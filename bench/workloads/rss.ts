// Resident memory of the server process after loading options.rssDocs docs (1M by default), in
// MiB, read from /proc/PID/status VmRSS. Smaller is better. DESIGN.md sets no target.
//
// It runs on a freshly started server so that earlier workloads do not inflate the reading, and
// only where the bench started the process itself (a server given by URL has no pid here). Docs
// are loaded with `_bulk_docs` in batches of 1000, made batch by batch (1M bodies would not fit the
// client's budget), every batch checked; the reading is taken after a short settle.

import { bulkLoad, docCount } from '../bulk-load.js';
import { readRssBytes } from '../servers.js';
import { failed, measured, type Workload } from './workload.js';

/** Loading slower than this is reported as a failure (1M docs at 7,500 docs/s take ~2.5 min). */
const loadTimeLimitMs = 15 * 60_000;
/** Wait after the load, so the reading is not of a write burst in flight. */
const settleMs = 2_000;
/** A progress line every this many docs. */
const progressEveryDocs = 100_000;

export const rss: Workload = {
  name: 'rss',
  title: (o) => `resident memory after loading ${o.rssDocs.toLocaleString('en-US')} docs`,
  unit: 'MiB',
  better: 'lower',
  target: undefined,
  freshServer: true,
  async run(ctx) {
    const pid = ctx.server.pid;
    if (pid === undefined) return { kind: 'not-applicable', reason: 'not a local process' };
    const count = ctx.options.rssDocs;
    const db = await ctx.createDb('rss');
    const load = await bulkLoad(ctx.client, {
      db,
      prefix: 'r',
      count,
      seed: ctx.options.seed,
      timeLimitMs: loadTimeLimitMs,
      progress: (n) => {
        if (n % progressEveryDocs === 0) ctx.log(`rss: ${n} docs loaded`);
      },
    });
    if (load.kind === 'failed') return failed(load.reason);
    const stored = await docCount(ctx.client, db);
    if (stored !== count) return failed(typeof stored === 'string' ? stored : `doc_count ${stored} after loading ${count}`);
    await new Promise((r) => setTimeout(r, settleMs));
    const bytes = readRssBytes(pid);
    if (bytes === undefined) return failed(`cannot read /proc/${pid}/status`);
    return measured(bytes / (1024 * 1024));
  },
};
