// The shared data set the read workloads query: options.docs bench docs with ids
// docId(datasetPrefix, 0 … docs-1), loaded once per server instance.
//
// It is either the database the `_bulk_docs` workload filled (offered after its checks passed) or
// loaded here, untimed, with the same bytes. Either way it holds exactly options.docs docs, which
// is what the row-count checks of `_changes` and `_all_docs` rely on.

import { bulkLoad, docCount } from '../bulk-load.js';
import { bulkBodies } from '../docs.js';
import type { HttpClient } from '../http-client.js';

/** Ids of data-set docs start with this (see docs.ts for why ids are plain). */
export const datasetPrefix = 'd';

/** Loading the data set slower than this means the server is broken, not slow. */
const loadTimeLimitMs = 15 * 60_000;

export async function loadDataset(
  client: HttpClient,
  db: string,
  docs: number,
  seed: number,
  log: (m: string) => void,
): Promise<void> {
  log(`loading data set of ${docs} docs into ${db}`);
  const load = await bulkLoad(client, {
    db,
    prefix: datasetPrefix,
    count: docs,
    seed,
    bodies: bulkBodies(datasetPrefix, 0, docs, seed),
    timeLimitMs: loadTimeLimitMs,
  });
  if (load.kind === 'failed') throw new Error(`loading the data set: ${load.reason}`);
  const count = await docCount(client, db);
  if (count !== docs) throw new Error(`data set: ${typeof count === 'string' ? count : `doc_count ${count}, expected ${docs}`}`);
}
