// `_changes` (normal feed) of the whole data set in one response, as rows per second.
// DESIGN.md target: ≥ 150,000 rows/s.
//
// Each row `{"seq":…,"id":…,"changes":[{"rev":…}]}` carries `"changes"` once; the response has
// one `"last_seq"`. Both counts are checked against the data set's size.

import { measureFullRead } from './full-read.js';
import type { Workload } from './workload.js';

export const changes: Workload = {
  name: 'changes',
  title: '_changes full read',
  unit: 'rows/s',
  better: 'higher',
  target: 150_000,
  run: (ctx) =>
    measureFullRead(ctx, {
      path: '/_changes',
      warmupQuery: 'limit=100',
      rowTokens: ['"changes"'],
      onceTokens: ['"last_seq"'],
    }),
};
