// Executes a validated view query against one snapshot of a view's tree and
// builds CouchDB's response body.
//
// Everything is positional: a key range becomes a row-index range [lo, hi) by
// two O(log n) rank lookups (a bound is (key, docid), with CouchDB's docid
// defaults and its `inclusive_end` rules), so `skip`, `offset`, `total_rows`
// and reductions over the range never scan rows outside what is returned.
//
// Response shapes follow chttpd's view callback:
//   map:    {"total_rows", "offset", "update_seq"?, "rows":[{"id","key","value","doc"?}]}
//   reduce: {"update_seq"?, "rows":[{"key","value"}]}

import { compareIds } from '../collation/raw-order.js';
import { foldGroups, HIGH_KEY, LOW_KEY, MAX_ID, MIN_ID, rank, reduceParts, rowsAt, type Bound, type BoundId, type Group } from '../index-store/btree.js';
import type { DocSource } from '../index-store/doc-source.js';
import type { Snapshot, ViewGroup } from '../index-store/view-group.js';
import { finalReduceMany, finalReduceSync, type Reducer } from '../reduce/reducer.js';
import type { ViewQuery } from './params.js';

export interface MapRow {
  id: string;
  key: unknown;
  value: unknown;
  doc?: Record<string, unknown> | null;
}

export interface ReduceRow {
  key: unknown;
  value?: unknown;
  /** A reduce that did not shrink: `reduce_overflow_error`, with `reason`, and a null key. */
  error?: string;
  reason?: string;
}

/**
 * A reduce row as CouchDB answers it. A JS reduce whose output did not shrink leaves
 * `{"reduce_overflow_error": msg}` as its value, which fabric_view:transform_row turns into
 * `{"key": null, "error": "reduce_overflow_error", "reason": msg}`.
 */
export function reduceRow(key: unknown, value: unknown): ReduceRow {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const msg = (value as Record<string, unknown>).reduce_overflow_error;
    if (keys.length === 1 && typeof msg === 'string') return { key: null, error: 'reduce_overflow_error', reason: msg };
  }
  return { key, value };
}

export interface ViewResponse {
  total_rows?: number;
  offset?: number;
  /** The index's seq; the node answers it as its opaque string form. */
  update_seq?: number | string;
  rows: (MapRow | ReduceRow)[];
}

function reverseDefault(id: BoundId): BoundId {
  if (id === MIN_ID) return MAX_ID;
  if (id === MAX_ID) return MIN_ID;
  return id;
}

interface Range {
  lo: number;
  hi: number;
}

/**
 * The rows a query may see: the whole view, or for a partition query the partition's stretch of
 * a partitioned view (two rank walks, so its cost does not grow with the other partitions).
 */
function spanOf(group: ViewGroup, vi: number, snap: Snapshot, q: ViewQuery): Range {
  const total = snap.counts[vi] ?? 0;
  if (q.partition === undefined) return { lo: 0, hi: total };
  const root = snap.roots[vi] ?? null;
  const order = group.orders[vi]!;
  const lo = rank(group.nodes, root, order, { partition: q.partition, key: LOW_KEY, id: MIN_ID }, false);
  const hi = rank(group.nodes, root, order, { partition: q.partition, key: HIGH_KEY, id: MAX_ID }, true);
  return { lo, hi: Math.max(lo, hi) };
}

/** Row-index range of [start, end] under CouchDB's bound rules (couch_mrview_util:key_opts), within `span`. */
function rangeFor(
  group: ViewGroup,
  vi: number,
  snap: Snapshot,
  q: ViewQuery,
  span: Range,
  start: { value: unknown } | undefined,
  end: { value: unknown } | undefined,
): Range {
  const src = group.nodes;
  const order = group.orders[vi]!;
  const root = snap.roots[vi] ?? null;
  const part = q.partition === undefined ? {} : { partition: q.partition };
  const r = (b: Bound, inclusive: boolean): number => rank(src, root, order, { ...b, ...part }, inclusive);
  let lo: number;
  let hi: number;
  if (!q.descending) {
    lo = start ? r({ key: start.value, id: q.startKeyDocId }, false) : span.lo;
    hi = end
      ? q.inclusiveEnd
        ? r({ key: end.value, id: q.endKeyDocId }, true)
        : r({ key: end.value, id: reverseDefault(q.endKeyDocId) }, false)
      : span.hi;
  } else {
    hi = start ? r({ key: start.value, id: q.startKeyDocId }, true) : span.hi;
    lo = end
      ? q.inclusiveEnd
        ? r({ key: end.value, id: q.endKeyDocId }, false)
        : r({ key: end.value, id: reverseDefault(q.endKeyDocId) }, true)
      : span.lo;
  }
  lo = Math.max(lo, span.lo);
  hi = Math.min(hi, span.hi);
  return { lo, hi: Math.max(lo, hi) };
}

function ranges(group: ViewGroup, vi: number, snap: Snapshot, q: ViewQuery, span: Range): Range[] {
  if (q.keys !== undefined) {
    return q.keys.map((k) => rangeFor(group, vi, snap, q, span, { value: k }, { value: k }));
  }
  return [rangeFor(group, vi, snap, q, span, q.startKey, q.endKey)];
}

/**
 * The document include_docs fetches for a row (couch_mrview_util:docid_rev): a value's `_id`
 * names another document, its `_rev` one revision; otherwise the row's own document, latest.
 */
function linkedDoc(row: { id: string; value: unknown }, source: DocSource, q: ViewQuery): Record<string, unknown> | null {
  const v = row.value;
  let id = row.id;
  let rev: unknown;
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const linked = (v as Record<string, unknown>)['_id'];
    if (typeof linked === 'string') id = linked;
    rev = (v as Record<string, unknown>)['_rev'];
  }
  let doc = typeof rev === 'string' && source.getDocRev ? source.getDocRev(id, rev, q.docOptions) : source.getDoc(id, q.docOptions);
  if (doc !== null && !q.conflicts && '_conflicts' in doc) {
    const { _conflicts: _c, ...rest } = doc;
    doc = rest;
  }
  return doc;
}

/** The cache key of linkedDoc's answer within one response. */
function linkedKey(row: { id: string; value: unknown }): string {
  const v = row.value;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return row.id;
  const { _id: id, _rev: rev } = v as Record<string, unknown>;
  return `${typeof id === 'string' ? id : row.id}\u0000${typeof rev === 'string' ? rev : ''}`;
}

export function runMapQuery(
  group: ViewGroup,
  vi: number,
  q: ViewQuery,
  snap: Snapshot,
  source: DocSource,
): ViewResponse {
  // A partition query counts total_rows and offset within its partition.
  const span = spanOf(group, vi, snap, q);
  const total = span.hi - span.lo;
  const root = snap.roots[vi] ?? null;
  const fwd = !q.descending;
  const limit = q.limit ?? Infinity;
  const rows: MapRow[] = [];
  let offset: number | undefined;
  const rs = ranges(group, vi, snap, q, span);
  if (q.keys === undefined) {
    const { lo, hi } = rs[0] as Range;
    const n = hi - lo;
    offset = fwd ? Math.min(lo + q.skip, hi) - span.lo : span.hi - Math.max(hi - q.skip, lo);
    const take = Math.min(limit, n - q.skip);
    if (take > 0) {
      const got = rowsAt(group.nodes, root, fwd ? lo + q.skip : hi - 1 - q.skip, take, fwd ? 1 : -1, fwd ? hi : lo);
      for (const r of got) rows.push({ id: r.id, key: r.key, value: r.value });
    }
  } else {
    // CouchDB's coordinator (fabric_view_map) orders multi-key results by each
    // key's *last* position in `keys` (ascending, or descending for
    // descending=true), then by docid, and applies skip/limit after that.
    const lastPos = new Map<string, number>();
    q.keys.forEach((k, i) => lastPos.set(JSON.stringify(k), i));
    const all: { row: MapRow; pos: number }[] = [];
    rs.forEach(({ lo, hi }, i) => {
      if (hi <= lo) return;
      offset ??= fwd ? lo - span.lo : span.hi - hi;
      const pos = lastPos.get(JSON.stringify(q.keys![i])) ?? i;
      const got = rowsAt(group.nodes, root, fwd ? lo : hi - 1, hi - lo, fwd ? 1 : -1, fwd ? hi : lo);
      for (const r of got) all.push({ row: { id: r.id, key: r.key, value: r.value }, pos });
    });
    const dir = fwd ? 1 : -1;
    all.sort((a, b) => (a.pos - b.pos) * dir || compareIds(a.row.id, b.row.id) * dir);
    for (const { row } of all.slice(q.skip, q.skip + Math.min(limit, all.length))) rows.push(row);
    if (offset === undefined) {
      const first = rs[0];
      offset = first === undefined ? 0 : fwd ? first.lo - span.lo : span.hi - first.hi;
    }
    offset = Math.min(offset + q.skip, total);
  }
  if (q.includeDocs) {
    const docs = new Map<string, Record<string, unknown> | null>();
    for (const row of rows) {
      const key = linkedKey(row);
      let doc = docs.get(key);
      if (doc === undefined) {
        doc = linkedDoc(row, source, q);
        docs.set(key, doc);
      }
      row.doc = doc;
    }
  }
  // Field order as CouchDB writes it: total_rows, offset, update_seq, rows.
  return q.updateSeq
    ? { total_rows: total, offset, update_seq: snap.seq, rows }
    : { total_rows: total, offset, rows };
}

/** Erlang `==` on JSON: how CouchDB decides that two keys are one group. */
export function erlEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!erlEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i] as string;
    if (kb[i] !== k || !erlEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/**
 * group_level=n equality without building truncated keys: lists:sublist(K1, n)
 * == lists:sublist(K2, n) for non-empty arrays, plain equality otherwise.
 */
function sameAtLevel(level: number): (a: unknown, b: unknown) => boolean {
  return (a, b) => {
    if (Array.isArray(a) && a.length > 0 && Array.isArray(b) && b.length > 0) {
      const na = Math.min(a.length, level);
      if (na !== Math.min(b.length, level)) return false;
      for (let i = 0; i < na; i++) if (!erlEqual(a[i], b[i])) return false;
      return true;
    }
    return erlEqual(a, b);
  };
}

function outKeyFn(level: 'exact' | number): (key: unknown) => unknown {
  if (level === 'exact') return (k) => k;
  return (k) => (Array.isArray(k) && k.length > 0 ? k.slice(0, level) : k);
}

export async function runReduceQuery(
  group: ViewGroup,
  vi: number,
  q: ViewQuery,
  snap: Snapshot,
  reducer: Reducer,
): Promise<ViewResponse> {
  const root = snap.roots[vi] ?? null;
  const limit = q.limit ?? Infinity;
  const out: ViewResponse = { rows: [] };
  if (q.updateSeq) out.update_seq = snap.seq;
  const rs = ranges(group, vi, snap, q, spanOf(group, vi, snap, q));

  if (q.groupLevel === 0) {
    const { lo, hi } = rs[0] as Range;
    if (lo >= hi || q.skip > 0 || limit === 0) return out;
    const parts = reduceParts(group.nodes, root, lo, hi);
    const red =
      reducer.builtin !== null
        ? finalReduceSync(reducer.builtin, parts)
        : ((await finalReduceMany(reducer, [parts]))[0] as unknown);
    out.rows = [reduceRow(null, reducer.finalize(red))];
    return out;
  }

  const level = q.groupLevel;
  const identity = (k: unknown): unknown => k;
  const same = level === 'exact' ? erlEqual : sameAtLevel(level);
  const outKey = outKeyFn(level);
  let skip = q.skip;
  const rows: ReduceRow[] = [];
  const pending: Group[] = [];
  const builtin = reducer.builtin;
  if (limit > 0) {
    for (const { lo, hi } of rs) {
      let more = true;
      foldGroups(group.nodes, root, lo, hi, q.descending ? -1 : 1, identity, same, (g) => {
        if (skip > 0) {
          skip--;
          return true;
        }
        if (builtin !== null) rows.push(reduceRow(outKey(g.key), builtin.finalize(finalReduceSync(builtin, g))));
        else pending.push(g);
        more = rows.length + pending.length < limit;
        return more;
      });
      if (!more) break;
    }
  }
  if (pending.length > 0) {
    const reds = await finalReduceMany(reducer, pending);
    pending.forEach((g, i) => rows.push(reduceRow(outKey(g.key), reducer.finalize(reds[i]))));
  }
  out.rows = rows;
  return out;
}

/** Rows handed out a page at a time (a `_list` reads its view this way). */
export interface RowCursor {
  /** The view's meta: total_rows, offset, update_seq as a map answer has them; {} or update_seq for reduce. */
  head: Record<string, unknown>;
  /** Up to `max` next rows; [] once there are none. */
  next(max: number): Record<string, unknown>[];
  /** Lets go of the index snapshot; idempotent. */
  close(): void;
}

/** A cursor over rows already computed (reduce answers, `keys` queries). */
export function arrayCursor(response: ViewResponse, release: () => void = () => undefined): RowCursor {
  const { rows, ...head } = response;
  let pos = 0;
  return {
    head,
    next(max) {
      const page = rows.slice(pos, pos + max) as unknown as Record<string, unknown>[];
      pos += page.length;
      return page;
    },
    close: release,
  };
}

/**
 * A map query without `keys`, read lazily: each page is one walk down the tree from the
 * snapshot, so a list over a million rows holds one page at a time.
 */
export function mapCursor(group: ViewGroup, vi: number, q: ViewQuery, snap: Snapshot, source: DocSource): RowCursor {
  // As runMapQuery: a partition query counts total_rows and offset within its partition.
  const span = spanOf(group, vi, snap, q);
  const total = span.hi - span.lo;
  const root = snap.roots[vi] ?? null;
  const fwd = !q.descending;
  const { lo, hi } = rangeFor(group, vi, snap, q, span, q.startKey, q.endKey);
  const offset = fwd ? Math.min(lo + q.skip, hi) - span.lo : span.hi - Math.max(hi - q.skip, lo);
  let remaining = Math.max(0, Math.min(q.limit ?? Infinity, hi - lo - q.skip));
  let pos = fwd ? lo + q.skip : hi - 1 - q.skip;
  const head: Record<string, unknown> = q.updateSeq ? { total_rows: total, offset, update_seq: snap.seq } : { total_rows: total, offset };
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    snap.release();
  };
  return {
    head,
    next(max) {
      if (closed || remaining <= 0) return [];
      const got = rowsAt(group.nodes, root, pos, Math.min(max, remaining), fwd ? 1 : -1, fwd ? hi : lo);
      remaining -= got.length;
      pos += fwd ? got.length : -got.length;
      if (got.length === 0) remaining = 0;
      const rows: Record<string, unknown>[] = got.map((r) => ({ id: r.id, key: r.key, value: r.value }));
      if (q.includeDocs) {
        for (const row of rows) row.doc = linkedDoc(row as unknown as MapRow, source, q);
      }
      return rows;
    },
    close,
  };
}
