// How view rows from many shards become one CouchDB view answer: the orders, the re-reduce
// grouping, and the skip/limit window. Used for map views, reduce views and (with raw id
// order) _all_docs.
//
// The rules are CouchDB's coordinator's (fabric_view_map / fabric_view_reduce):
// - map rows sort by (collation of key, then raw id), reversed for descending;
// - with `keys`, rows follow the order of the key list, then raw id within one key;
// - reduce rows whose keys collate equal are one group: their values are re-reduced;
// - shards are asked for `skip=0, limit=skip+limit`; the proxy skips and limits.
// Pure: the re-reduce itself is injected.

import { collate, compareIds } from '../../views/index.js';
import type { Sourced } from './k-way-merge.js';

/** One view or _all_docs row: its exact text (forwarded verbatim) and its parsed form. */
export interface ViewRow {
  text: string;
  row: { id?: string; key?: unknown; value?: unknown; doc?: unknown; error?: string };
  /** For `keys=` queries: the position in the key list this row answers. */
  keyIndex?: number;
}

export type RowOrder = (a: ViewRow, b: ViewRow) => number;

/** Map-view order: collation of the key, then the doc id as raw bytes. */
export function mapOrder(descending: boolean): RowOrder {
  const sign = descending ? -1 : 1;
  return (a, b) => sign * (collate(a.row.key, b.row.key) || compareIds(a.row.id ?? '', b.row.id ?? ''));
}

/** Reduce-view order: collation of the (grouped) key only. */
export function reduceOrder(descending: boolean): RowOrder {
  const sign = descending ? -1 : 1;
  return (a, b) => sign * collate(a.row.key, b.row.key);
}

/** `_all_docs` order: raw UTF-8 byte order of ids (not collation). */
export function idOrder(descending: boolean): RowOrder {
  const sign = descending ? -1 : 1;
  return (a, b) => sign * compareIds(a.row.id ?? String(a.row.key), b.row.id ?? String(b.row.key));
}

/** `keys=` order: position in the key list, then id (reversed within a key when descending). */
export function keysOrder(descending: boolean, withIds: boolean): RowOrder {
  const sign = descending ? -1 : 1;
  return (a, b) => (a.keyIndex ?? 0) - (b.keyIndex ?? 0) || (withIds ? sign * compareIds(a.row.id ?? '', b.row.id ?? '') : 0);
}

/**
 * Annotates one shard's rows with their position in the key list. A shard answers the keys
 * in request order, so the position only moves forward: it is the first key, at or after
 * the previous row's, that collates equal to this row's key. Duplicated keys in the list
 * are therefore told apart.
 */
export async function* withKeyIndex(rows: AsyncIterable<ViewRow>, keys: readonly unknown[]): AsyncGenerator<ViewRow> {
  let at = 0;
  let lastKeyIndex = -1;
  let lastId: string | undefined;
  for await (const r of rows) {
    let i = at;
    while (i < keys.length && collate(keys[i], r.row.key) !== 0) i++;
    if (i === keys.length) i = at; // not in the list (should not happen): keep it where it is
    // A repeated key in the list: CouchDB answers it again from the start, ids ascending
    // again; a row whose id does not follow the previous one begins the next occurrence.
    if (i === lastKeyIndex && lastId !== undefined && r.row.id !== undefined && compareIds(r.row.id, lastId) <= 0) {
      let j = i + 1;
      while (j < keys.length && collate(keys[j], r.row.key) !== 0) j++;
      if (j < keys.length) i = j;
    }
    at = i;
    lastKeyIndex = i;
    lastId = r.row.id;
    yield { ...r, keyIndex: i };
  }
}

/** Re-reduces groups of values (one call may carry many groups, to amortise sandbox calls). */
export type Rereduce = (groups: unknown[][]) => Promise<unknown[]>;

/** Groups of rows re-reduced before they are emitted; bounds memory and sandbox call size. */
const REREDUCE_BATCH_GROUPS = 256;

/**
 * Collapses merged reduce rows whose keys are equal under `same` into one row each, with
 * the value re-reduced. Rows arrive sorted, so a group ends when the next key differs.
 * A group of one keeps its shard's text verbatim.
 */
export async function* rereduceGroups(
  merged: AsyncIterable<Sourced<ViewRow>>,
  same: (a: ViewRow, b: ViewRow) => boolean,
  rereduce: Rereduce,
): AsyncGenerator<ViewRow> {
  let group: ViewRow[] = [];
  let pending: ViewRow[][] = [];
  async function* flush(): AsyncGenerator<ViewRow> {
    const needs = pending.filter((g) => g.length > 1);
    const values = needs.length > 0 ? await rereduce(needs.map((g) => g.map((r) => r.row.value))) : [];
    let j = 0;
    for (const g of pending) {
      const first = g[0] as ViewRow;
      if (g.length === 1) {
        yield first;
        continue;
      }
      const row = { key: first.row.key, value: values[j++] };
      yield { text: JSON.stringify(row), row, ...(first.keyIndex !== undefined ? { keyIndex: first.keyIndex } : {}) };
    }
    pending = [];
  }
  for await (const { item } of merged) {
    if (group.length > 0 && !same(group[0] as ViewRow, item)) {
      pending.push(group);
      group = [];
      if (pending.length >= REREDUCE_BATCH_GROUPS) yield* flush();
    }
    group.push(item);
  }
  if (group.length > 0) pending.push(group);
  yield* flush();
}

/** Applies the proxy-side skip and limit to a merged stream. */
export async function* window<T>(rows: AsyncIterable<T>, skip: number, limit: number | undefined): AsyncGenerator<T> {
  if (limit === 0) return;
  let seen = 0;
  let sent = 0;
  for await (const r of rows) {
    if (seen++ < skip) continue;
    yield r;
    if (limit !== undefined && ++sent >= limit) return;
  }
}
