// The registry of workloads, in the order they run and print. To add one (lounge overhead…),
// write `bench/workloads/<name>.ts` exporting a `Workload` and list it here; `--only <name>`
// then picks it. See bench/README.md.

import { allDocs } from './all-docs.js';
import { bulkDocs } from './bulk-docs.js';
import { changes } from './changes.js';
import { getDoc } from './get-doc.js';
import { putDoc } from './put-doc.js';
import { reduce1m } from './reduce-1m.js';
import { partitionQuery } from './partition-query.js';
import { replicate } from './replicate.js';
import { replicateDelay } from './replicate-delay.js';
import { listView, showDoc } from './render.js';
import { rss } from './rss.js';
import { viewBuild } from './view-build.js';
import { viewUpdateLatency } from './view-update-latency.js';
import { loungeWorkloads } from './lounge.js';
import { loungeElasticWorkloads } from './lounge-elastic.js';
import type { Workload } from './workload.js';

export type { BenchOptions, Measurement, Workload, WorkloadContext } from './workload.js';
export { failed, measured, median, percentile } from './workload.js';

/**
 * The view workloads come after the full reads: they add a design doc to the shared data set
 * (which `_all_docs` would count) and change some of its docs. Memory last: it restarts the
 * server and loads the most docs.
 */
export const workloads: readonly Workload[] = [
  bulkDocs,
  putDoc,
  getDoc,
  changes,
  allDocs,
  viewBuild,
  viewUpdateLatency,
  reduce1m,
  partitionQuery,
  showDoc,
  listView,
  replicate,
  replicateDelay,
  ...loungeWorkloads,
  ...loungeElasticWorkloads,
  rss,
];
