// Re-reducing shard reductions at the proxy, as CouchDB's coordinator does.
//
// Built-in reduces run natively with the views part's own reducers: their shard answers
// (`_sum`, `_count`, `_stats`, `_top_N`, `_bottom_N`) are already in the form a rereduce
// takes. JavaScript reduces run in the views part's isolated-vm sandbox with
// `rereduce = true`, many groups per crossing.
//
// Known limits, because a node answers finalized values: `_approx_count_distinct` shard
// answers are estimates, so the proxy adds them (exact when shards hold disjoint keys, as a
// grouped query has; an over-estimate otherwise); `_first`/`_last` keep the value of the
// first/last shard row in merge order.

import { builtinReducer, type SandboxPool, type DesignDoc } from '../../views/index.js';
import type { Rereduce } from '../merge/view-rows.js';

export function rereducerFor(source: string, ddoc: DesignDoc, viewName: string, pool: SandboxPool): Rereduce {
  const src = source.trim();
  if (src.startsWith('_')) {
    if (src.startsWith('_approx_count_distinct')) {
      return async (groups) => groups.map((g) => g.reduce<number>((a, v) => a + (typeof v === 'number' ? v : 0), 0));
    }
    if (src.startsWith('_first')) return async (groups) => groups.map((g) => g[0]);
    if (src.startsWith('_last')) return async (groups) => groups.map((g) => g[g.length - 1]);
    const builtin = builtinReducer(src);
    if (!builtin) throw Object.assign(new Error(`unknown built-in reduce ${src}`), { status: 500, error: 'unknown_error', reason: `Unsupported reduce function ${src}` });
    return async (groups) => groups.map((g) => builtin.finalize(builtin.rereduce(g)));
  }
  return (groups) => pool.get(ddoc).reduce(viewName, groups.map((values) => ({ keys: null, values, rereduce: true })));
}
