// The registry of workloads, in the order they run and print. To add one (view build,
// replication, lounge overhead…), write `bench/workloads/<name>.ts` exporting a `Workload` and
// list it here; `--only <name>` then picks it. See bench/README.md.

import { allDocs } from './all-docs.js';
import { bulkDocs } from './bulk-docs.js';
import { changes } from './changes.js';
import { getDoc } from './get-doc.js';
import { putDoc } from './put-doc.js';
import { rss } from './rss.js';
import type { Workload } from './workload.js';

export type { BenchOptions, Measurement, Workload, WorkloadContext } from './workload.js';
export { failed, measured, median } from './workload.js';

/** Memory last: it restarts the server and loads the most docs. */
export const workloads: readonly Workload[] = [bulkDocs, putDoc, getDoc, changes, allDocs, rss];
