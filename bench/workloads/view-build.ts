// View build: a JS map `emit(doc.name, doc.score)` with `_sum` over the shared data set, timed
// from the design doc's PUT until the first query answers (which forces the build), as docs per
// second. DESIGN.md target: ≥ 80,000 docs/s (CouchDB 3.5: 8,200; pouchdb-server: 1,380).
//
// The index must then hold one row per doc and its `_sum` must equal the sum of the scores the
// bench loaded (see score-view.ts); otherwise the row fails.

import { scoreView } from './score-view.js';
import { failed, measured, type Workload } from './workload.js';

export const viewBuild: Workload = {
  name: 'view_build',
  title: (o) => `view build, JS map + _sum, ${o.docs.toLocaleString('en-US')} docs (first query)`,
  unit: 'docs/s',
  better: 'higher',
  target: 80_000,
  async run(ctx) {
    const view = await scoreView(ctx);
    if (typeof view === 'string') return failed(view);
    return measured((ctx.options.docs * 1000) / view.buildMs, `index built in ${(view.buildMs / 1000).toFixed(2)} s`);
  },
};
