// `_all_docs?include_docs=true` of the whole data set in one response, as rows per second.
// DESIGN.md target: ≥ 100,000 rows/s.
//
// Each row `{"id":…,"key":…,"value":{"rev":…},"doc":{…}}` carries `"key"` and `"doc"` once, so
// both counts must equal the data set's size: rows without their docs fail. The response has one
// `"total_rows"`.

import { measureFullRead } from './full-read.js';
import type { Workload } from './workload.js';

export const allDocs: Workload = {
  name: 'all_docs',
  title: '_all_docs?include_docs=true',
  unit: 'rows/s',
  better: 'higher',
  target: 100_000,
  run: (ctx) =>
    measureFullRead(ctx, {
      path: '/_all_docs?include_docs=true',
      warmupQuery: 'limit=100',
      rowTokens: ['"key"', '"doc"'],
      onceTokens: ['"total_rows"'],
    }),
};
