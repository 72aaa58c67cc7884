// One view answer from the answers of every range: the merged, re-reduced and windowed
// row stream, plus the totals CouchDB reports.
//
// It guarantees CouchDB's coordinator semantics for a view queried on q shards: the rows
// are those a single node holding all documents would return, in the same order, with
// `total_rows` the sum over shards and `offset` the sum of shard offsets plus the skip,
// capped at `total_rows` (fabric_view_map). Shards must have been asked for `skip=0` and
// `limit=skip+limit`. Pure: rows come in as async iterables, the re-reduce is injected.

import { mergeSorted } from './k-way-merge.js';
import { keysOrder, mapOrder, reduceOrder, rereduceGroups, window, withKeyIndex, type Rereduce, type ViewRow } from './view-rows.js';
import { collate } from '../../views/index.js';

export interface ViewMergeQuery {
  /** True when the view has a reduce function and the query did not say reduce=false. */
  reduce: boolean;
  descending: boolean;
  skip: number;
  limit: number | undefined;
  keys: readonly unknown[] | undefined;
}

/** The merged rows of a view query, in CouchDB's order, skip and limit applied. */
export function mergeViewRows(sources: readonly AsyncIterable<ViewRow>[], q: ViewMergeQuery, rereduce: Rereduce | undefined): AsyncIterable<ViewRow> {
  const keyed = q.keys ? sources.map((s) => withKeyIndex(s, q.keys as unknown[])) : sources;
  if (!q.reduce) {
    const order = q.keys ? keysOrder(q.descending, true) : mapOrder(q.descending);
    return window(unwrap(mergeSorted(keyed, order)), q.skip, q.limit);
  }
  if (!rereduce) throw new Error('a reduce view needs a re-reduce function');
  const order = q.keys ? keysOrder(q.descending, false) : reduceOrder(q.descending);
  const same = q.keys ? (a: ViewRow, b: ViewRow) => a.keyIndex === b.keyIndex : (a: ViewRow, b: ViewRow) => collate(a.row.key, b.row.key) === 0;
  return window(rereduceGroups(mergeSorted(keyed, order), same, rereduce), q.skip, q.limit);
}

async function* unwrap<T>(src: AsyncIterable<{ item: T }>): AsyncGenerator<T> {
  for await (const x of src) yield x.item;
}

/** `total_rows` and `offset` of a map answer from the shards' own. */
export function viewTotals(metas: readonly Record<string, unknown>[], skip: number): { total_rows: number; offset: number } {
  let total = 0;
  let offset = 0;
  for (const m of metas) {
    if (typeof m.total_rows === 'number') total += m.total_rows;
    if (typeof m.offset === 'number') offset += m.offset;
  }
  return { total_rows: total, offset: Math.min(total, offset + skip) };
}
