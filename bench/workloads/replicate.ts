// One-shot replication of options.docs docs (100k by default) from one server to a second
// server of the same kind, over HTTP: `POST /_replicate` on the target's server (a pull), timed
// until it answers, as docs per second. DESIGN.md target: ≥ 25,000 docs/s (CouchDB 3.5: 4,900;
// pouchdb-server: 2,060).
//
// The source is a fresh database loaded untimed with the bench docs; the target is empty. The
// answer must be 200 with `"ok": true`, its `docs_written` (top level as PouchDB gives it, or the
// newest `history` entry as CouchDB does) must equal the docs when it is there, and the target's
// `doc_count` must then equal the docs.

import { performance } from 'node:perf_hooks';
import { bulkLoad, docCount } from '../bulk-load.js';
import { snippet } from '../http-client.js';
import { replicationPair } from './replication-pair.js';
import { failed, measured, type Workload } from './workload.js';

/** A one-shot replication slower than this has failed (100k docs at pouchdb-server's 2,060 docs/s take 49 s). */
const replicateTimeLimitMs = 15 * 60_000;
/** Loading the source slower than this means the server is broken. */
const loadTimeLimitMs = 15 * 60_000;
/** Ids of this workload's docs. */
const prefix = 'p';

export const replicate: Workload = {
  name: 'replicate',
  title: (o) => `replicate ${o.docs.toLocaleString('en-US')} docs node→node over HTTP, one-shot`,
  unit: 'docs/s',
  better: 'higher',
  target: 25_000,
  async run(ctx) {
    const { docs, seed } = ctx.options;
    const pair = await replicationPair(ctx, 'repl');
    try {
      const { source, target } = pair;
      ctx.log(`replicate: loading ${docs} docs into the source`);
      const load = await bulkLoad(source.client, { db: source.db, prefix, count: docs, seed, timeLimitMs: loadTimeLimitMs });
      if (load.kind === 'failed') return failed(`loading the source: ${load.reason}`);
      const loaded = await docCount(source.client, source.db);
      if (loaded !== docs) return failed(`source: ${typeof loaded === 'string' ? loaded : `doc_count ${loaded}, expected ${docs}`}`);

      ctx.log('replicate: POST /_replicate on the target server');
      const start = performance.now();
      const res = await target.client.json('POST', '/_replicate', { source: source.url, target: target.url }, replicateTimeLimitMs);
      const elapsedMs = performance.now() - start;
      const body = res.body as { ok?: unknown; docs_written?: unknown; history?: { docs_written?: unknown }[] } | null;
      if (res.status !== 200 || body?.ok !== true) return failed(`POST /_replicate answered ${res.status}: ${snippet(JSON.stringify(res.body))}`);
      const written = body.docs_written ?? body.history?.[0]?.docs_written;
      if (written !== undefined && written !== docs) return failed(`the replication wrote ${String(written)} docs, expected ${docs}`);
      const copied = await docCount(target.client, target.db);
      if (copied !== docs) return failed(`target: ${typeof copied === 'string' ? copied : `doc_count ${copied} after replicating ${docs}`}`);
      return measured((docs * 1000) / elapsedMs, `${(elapsedMs / 1000).toFixed(1)} s; pulled by the target server, both ends as http URLs`);
    } finally {
      pair.close();
    }
  },
};
