// A copy-on-write B+tree of view rows, ordered by CouchDB collation, with a
// row count and a partial reduction stored for every subtree.
//
// Why our own tree instead of LMDB's key order: lmdb-js compares keys as bytes
// and has no custom comparator, and ICU collation has no byte-order encoding
// reachable from JavaScript (Intl exposes compare(), not sort keys). So rows are
// kept in tree nodes that we order with `collate()` ourselves, and LMDB stores
// the nodes (id → JSON) durably and transactionally. This is what CouchDB does
// too: couch_btree is its own B+tree over an append-only file.
//
// What the stored counts and reductions buy (the same trick as couch_btree's
// reductions in KP nodes):
// - `offset`, `total_rows`, `skip` and "row number i" are O(log n): walk down
//   adding the counts of the subtrees left of the target;
// - a reduce over any key range costs O(log n) node reads: subtrees entirely
//   inside the range contribute their stored reduction, only the two boundary
//   paths are reduced from rows;
// - group_level queries skip whole subtrees whose first and last row fall in
//   the same group.
//
// Layout:
//   leaf entry  = [key, docid, value, value2, ...]   (several values = dups: one
//                 doc emitting the same key more than once; one row per value)
//   child ref   = [firstKey, firstId, lastKey, lastId, nodeId, rowCount, reduction]
// Nodes are immutable once written; a modification writes new nodes along the
// changed paths and returns the ids it freed. Readers holding an old root keep
// a consistent snapshot as long as freed ids are not deleted under them (the
// view group defers deletion until no reader needs them).
//
// Entries with equal (key, docid) are never split across two leaves, so a
// removal is routed to exactly one leaf.

import { compareIds } from '../collation/raw-order.js';

export type Entry = unknown[];
export type ChildRef = [unknown, string, unknown, string, number, number, unknown];

export interface LeafNode {
  leaf: true;
  entries: Entry[];
  /** Encoded size in bytes, for index size accounting: estimated until the node is serialized. */
  bytes?: number;
}
export interface InnerNode {
  leaf: false;
  children: ChildRef[];
  bytes?: number;
}
export type TreeNode = LeafNode | InnerNode;

export interface NodeSource {
  get(id: number): TreeNode;
}

export type KeyCmp = (a: unknown, b: unknown) => number;

/** A docid bound above every real docid (CouchDB uses <<255>>, which no UTF-8 id reaches). */
export const MAX_ID: unique symbol = Symbol('max-docid');
/** A docid bound below every real docid (CouchDB's <<>>). */
export const MIN_ID = '';
export type BoundId = string | typeof MAX_ID;
/** A bound key below every key of its partition (a partitioned index's open start). */
export const LOW_KEY: unique symbol = Symbol('low-key');
/** A bound key above every key of its partition (a partitioned index's open end). */
export const HIGH_KEY: unique symbol = Symbol('high-key');
export interface Bound {
  key: unknown;
  id: BoundId;
  /** In a partitioned index: the partition the bound lies in (rows of other partitions are wholly before or after it). */
  partition?: string;
}

/**
 * Target serialized size of a leaf. Small enough that a single-row update
 * rewrites ~4 KB, large enough that a 1M-row index is three levels deep.
 */
export const LEAF_BYTES_TARGET = 4_096;
/** Hard cap on entries per leaf, whatever their size. */
export const LEAF_ENTRIES_MAX = 256;
/** Target serialized size of an inner node (refs carry two keys and a reduction). */
export const INNER_BYTES_TARGET = 16_384;
/** Hard cap on children per inner node. */
export const INNER_CHILDREN_MAX = 256;

/** Node size policy; tests shrink it to get deep trees from few rows. */
export interface TreeShape {
  leafBytes: number;
  leafEntriesMax: number;
  innerBytes: number;
  innerChildrenMax: number;
}

export const DEFAULT_SHAPE: TreeShape = {
  leafBytes: LEAF_BYTES_TARGET,
  leafEntriesMax: LEAF_ENTRIES_MAX,
  innerBytes: INNER_BYTES_TARGET,
  innerChildrenMax: INNER_CHILDREN_MAX,
};

export function rowsOf(e: Entry): number {
  return e.length - 2;
}

/** Cheap estimate of an entry's JSON size, for chunking (no stringify). */
export function approxSize(v: unknown): number {
  switch (typeof v) {
    case 'number': {
      const a = Math.abs(v);
      if (!Number.isInteger(v) || a >= 1e15) return 20;
      return (a < 10 ? 1 : Math.ceil(Math.log10(a + 1))) + (v < 0 ? 1 : 0);
    }
    case 'string':
      return v.length + 2;
    case 'boolean':
      return 5;
    case 'object': {
      if (v === null) return 4;
      let n = 2;
      if (Array.isArray(v)) {
        for (const x of v) n += approxSize(x) + 1;
      } else {
        for (const k in v) n += k.length + 4 + approxSize((v as Record<string, unknown>)[k]);
      }
      return n;
    }
    default:
      return 4;
  }
}

export function encodeNode(n: TreeNode): string {
  return n.leaf ? `[0,${JSON.stringify(n.entries)}]` : `[1,${JSON.stringify(n.children)}]`;
}

export function decodeNode(s: string): TreeNode {
  const raw = JSON.parse(s) as [number, unknown[]];
  return raw[0] === 0
    ? { leaf: true, entries: raw[1] as Entry[], bytes: s.length }
    : { leaf: false, children: raw[1] as ChildRef[], bytes: s.length };
}

/** Row order: key by the view's collation, then docid by raw bytes (couch_ejson_compare:less_json_ids). */
export class RowOrder {
  /** Rows are grouped by the partition of their docid first (see PartitionedRowOrder). */
  readonly partitioned: boolean = false;

  constructor(readonly cmpKey: KeyCmp) {}

  cmp(aKey: unknown, aId: string, bKey: unknown, bId: string): number {
    return this.cmpKey(aKey, bKey) || compareIds(aId, bId);
  }

  /** Compare a row to a bound. */
  cmpBound(key: unknown, id: string, b: Bound): number {
    const c = this.cmpKey(key, b.key);
    if (c !== 0) return c;
    return b.id === MAX_ID ? -1 : compareIds(id, b.id);
  }

  /** Compare two bounds (for CouchDB's "no rows can match your key range" check). */
  cmpBounds(a: Bound, b: Bound): number {
    const c = this.cmpKey(a.key, b.key);
    if (c !== 0) return c;
    if (a.id === MAX_ID) return b.id === MAX_ID ? 0 : 1;
    if (b.id === MAX_ID) return -1;
    return compareIds(a.id, b.id);
  }
}

/** End of a docid's partition part: its first `:`, or its length when it has none. */
function partitionEnd(id: string): number {
  const c = id.indexOf(':');
  return c < 0 ? id.length : c;
}

/** Compares code units i of two strings as UTF-8 bytes would (see compareIds). */
function cmpUnit(ca: number, cb: number): number {
  const sa = ca >= 0xd800 && ca <= 0xdfff;
  const sb = cb >= 0xd800 && cb <= 0xdfff;
  if (sa !== sb) return sa ? 1 : -1;
  return ca - cb;
}

/** Raw (UTF-8 byte) order of the partitions of two docids, without slicing them out. */
export function comparePartitions(aId: string, bId: string): number {
  const ea = partitionEnd(aId);
  const eb = partitionEnd(bId);
  const n = Math.min(ea, eb);
  for (let i = 0; i < n; i++) {
    const ca = aId.charCodeAt(i);
    const cb = bId.charCodeAt(i);
    if (ca !== cb) return cmpUnit(ca, cb);
  }
  return ea - eb;
}

/** Raw order of a docid's partition against a partition name. */
function comparePartitionTo(id: string, partition: string): number {
  const e = partitionEnd(id);
  const n = Math.min(e, partition.length);
  for (let i = 0; i < n; i++) {
    const ca = id.charCodeAt(i);
    const cb = partition.charCodeAt(i);
    if (ca !== cb) return cmpUnit(ca, cb);
  }
  return e - partition.length;
}

/**
 * The row order of a partitioned view (CouchDB keys those rows `{p, Partition, Key}`): the
 * partition of the docid first, then the key by the view's collation, then the docid. So one
 * partition's rows are one contiguous stretch of the tree, and a partition query costs the
 * partition's size: its bounds are found by rank walks, and its reductions come from the stored
 * subtree reductions inside that stretch. Keys stay the user's keys (reduce functions and the
 * answer see them unchanged); the partition is read from the docid.
 */
export class PartitionedRowOrder extends RowOrder {
  override readonly partitioned = true;

  override cmp(aKey: unknown, aId: string, bKey: unknown, bId: string): number {
    return comparePartitions(aId, bId) || this.cmpKey(aKey, bKey) || compareIds(aId, bId);
  }

  override cmpBound(key: unknown, id: string, b: Bound): number {
    if (b.partition !== undefined) {
      const p = comparePartitionTo(id, b.partition);
      if (p !== 0) return p;
    }
    if (b.key === LOW_KEY) return 1;
    if (b.key === HIGH_KEY) return -1;
    return super.cmpBound(key, id, b);
  }

  override cmpBounds(a: Bound, b: Bound): number {
    if (a.partition !== undefined && b.partition !== undefined && a.partition !== b.partition) return compareIds(a.partition, b.partition);
    return super.cmpBounds(a, b);
  }
}

// ------------------------------------------------------------------ reads

/** Rows strictly before `bound` (or at/before it when `inclusive`). */
export function rank(src: NodeSource, root: number | null, order: RowOrder, bound: Bound, inclusive: boolean): number {
  if (root === null) return 0;
  const before = (key: unknown, id: string): boolean => {
    const c = order.cmpBound(key, id, bound);
    return inclusive ? c <= 0 : c < 0;
  };
  let acc = 0;
  let node = src.get(root);
  for (;;) {
    if (node.leaf) {
      const es = node.entries;
      // Binary search the first entry not before the bound.
      let lo = 0;
      let hi = es.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const e = es[mid] as Entry;
        if (before(e[0], e[1] as string)) lo = mid + 1;
        else hi = mid;
      }
      for (let i = 0; i < lo; i++) acc += rowsOf(es[i] as Entry);
      return acc;
    }
    const cs = node.children;
    // First child whose last row is not before the bound.
    let lo = 0;
    let hi = cs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = cs[mid] as ChildRef;
      if (before(c[2], c[3])) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < lo; i++) acc += (cs[i] as ChildRef)[5];
    if (lo === cs.length) return acc;
    node = src.get((cs[lo] as ChildRef)[4]);
  }
}

/** The entry stored at exactly (key, id), or null. */
export function findEntry(src: NodeSource, root: number | null, order: RowOrder, key: unknown, id: string): Entry | null {
  if (root === null) return null;
  let node = src.get(root);
  while (!node.leaf) {
    const cs = node.children;
    let lo = 0;
    let hi = cs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = cs[mid] as ChildRef;
      if (order.cmp(c[2], c[3], key, id) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo === cs.length) return null;
    node = src.get((cs[lo] as ChildRef)[4]);
  }
  const es = node.entries;
  let lo = 0;
  let hi = es.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const e = es[mid] as Entry;
    if (order.cmp(e[0], e[1] as string, key, id) < 0) lo = mid + 1;
    else hi = mid;
  }
  const e = es[lo];
  return e !== undefined && order.cmp(e[0], e[1] as string, key, id) === 0 ? e : null;
}

export interface Row {
  key: unknown;
  id: string;
  value: unknown;
}

/**
 * Up to `count` rows starting at row index `start`, walking forward (dir 1) or
 * backward (dir -1), never past `stop` (exclusive index in walking direction:
 * for dir -1 rows with index < stop are excluded).
 */
export function rowsAt(
  src: NodeSource,
  root: number | null,
  start: number,
  count: number,
  dir: 1 | -1,
  stop: number,
): Row[] {
  const out: Row[] = [];
  if (root === null || count <= 0) return out;
  const want = dir === 1 ? Math.min(count, stop - start) : Math.min(count, start - stop + 1);
  if (want <= 0) return out;
  // Descend to the leaf containing row `start`, remembering the path.
  const path: { node: InnerNode; idx: number }[] = [];
  let node = src.get(root);
  let rel = start;
  while (!node.leaf) {
    const cs = node.children;
    let i = 0;
    while (i < cs.length - 1 && rel >= (cs[i] as ChildRef)[5]) {
      rel -= (cs[i] as ChildRef)[5];
      i++;
    }
    path.push({ node, idx: i });
    node = src.get((cs[i] as ChildRef)[4]);
  }
  let leaf = node;
  let ei = 0;
  while (ei < leaf.entries.length && rel >= rowsOf(leaf.entries[ei] as Entry)) {
    rel -= rowsOf(leaf.entries[ei] as Entry);
    ei++;
  }
  let di = rel;
  const nextLeaf = (): LeafNode | null => {
    // Move along the path to the neighbouring leaf in direction `dir`.
    while (path.length > 0) {
      const top = path[path.length - 1] as { node: InnerNode; idx: number };
      const ni = top.idx + dir;
      if (ni >= 0 && ni < top.node.children.length) {
        top.idx = ni;
        let n = src.get((top.node.children[ni] as ChildRef)[4]);
        while (!n.leaf) {
          const idx = dir === 1 ? 0 : n.children.length - 1;
          path.push({ node: n, idx });
          n = src.get((n.children[idx] as ChildRef)[4]);
        }
        return n;
      }
      path.pop();
    }
    return null;
  };
  while (out.length < want) {
    const e = leaf.entries[ei] as Entry;
    out.push({ key: e[0], id: e[1] as string, value: e[2 + di] });
    if (out.length === want) break;
    di += dir;
    if (di < 0 || di >= rowsOf(e)) {
      ei += dir;
      if (ei < 0 || ei >= leaf.entries.length) {
        const n = nextLeaf();
        if (n === null) break;
        leaf = n;
        ei = dir === 1 ? 0 : leaf.entries.length - 1;
      }
      di = dir === 1 ? 0 : rowsOf(leaf.entries[ei] as Entry) - 1;
    }
  }
  return out;
}

export interface KVRow {
  key: unknown;
  id: string;
  value: unknown;
}

/** Rows and stored reductions that together cover row indexes [lo, hi). */
export function reduceParts(
  src: NodeSource,
  root: number | null,
  lo: number,
  hi: number,
): { kvs: KVRow[]; reds: unknown[] } {
  const kvs: KVRow[] = [];
  const reds: unknown[] = [];
  if (root === null || lo >= hi) return { kvs, reds };
  const walk = (id: number, base: number): void => {
    const node = src.get(id);
    if (node.leaf) {
      let idx = base;
      for (const e of node.entries) {
        const n = rowsOf(e);
        for (let d = 0; d < n; d++, idx++) {
          if (idx >= lo && idx < hi) kvs.push({ key: e[0], id: e[1] as string, value: e[2 + d] });
        }
        if (idx >= hi) return;
      }
      return;
    }
    let off = base;
    for (const c of node.children) {
      const end = off + c[5];
      if (end > lo && off < hi) {
        if (off >= lo && end <= hi) reds.push(c[6]);
        else walk(c[4], off);
      }
      off = end;
      if (off >= hi) return;
    }
  };
  walk(root, 0);
  return { kvs, reds };
}

export interface Group {
  key: unknown;
  kvs: KVRow[];
  reds: unknown[];
}

/**
 * Fold rows [lo, hi) into groups in walking order. `groupOf` maps a key to its
 * group key and `same` says whether two group keys are the same group. A subtree
 * whose first and last rows are in one group contributes its stored reduction
 * without being read. `onGroup` returns false to stop early.
 */
export function foldGroups(
  src: NodeSource,
  root: number | null,
  lo: number,
  hi: number,
  dir: 1 | -1,
  groupOf: (key: unknown) => unknown,
  same: (a: unknown, b: unknown) => boolean,
  onGroup: (g: Group) => boolean,
): void {
  if (root === null || lo >= hi) return;
  let cur: Group | null = null;
  let curGroup: unknown = undefined;
  let stopped = false;
  const emit = (): void => {
    if (cur !== null && !stopped) {
      if (!onGroup(cur)) stopped = true;
    }
    cur = null;
  };
  const addRow = (key: unknown, id: string, value: unknown): void => {
    const g = groupOf(key);
    if (cur === null || !same(curGroup, g)) {
      emit();
      cur = { key, kvs: [], reds: [] };
      curGroup = g;
    }
    (cur as Group).kvs.push({ key, id, value });
  };
  const walk = (id: number, base: number): void => {
    const node = src.get(id);
    if (node.leaf) {
      const es = node.entries;
      // Index of each entry's first row, to clip to [lo, hi).
      const starts: number[] = [];
      let idx = base;
      for (const e of es) {
        starts.push(idx);
        idx += rowsOf(e);
      }
      const order = dir === 1 ? es.map((_, i) => i) : es.map((_, i) => es.length - 1 - i);
      for (const i of order) {
        if (stopped) return;
        const e = es[i] as Entry;
        const n = rowsOf(e);
        for (let k = 0; k < n; k++) {
          const d = dir === 1 ? k : n - 1 - k;
          const r = (starts[i] as number) + d;
          if (r >= lo && r < hi) addRow(e[0], e[1] as string, e[2 + d]);
        }
      }
      return;
    }
    const cs = node.children;
    let total = base;
    for (const c of cs) total += c[5];
    // Walk children in direction order, tracking each one's first row index.
    let start = dir === 1 ? base : total;
    for (let j = 0; j < cs.length; j++) {
      if (stopped) return;
      const i = dir === 1 ? j : cs.length - 1 - j;
      const c = cs[i] as ChildRef;
      if (dir === -1) start -= c[5];
      const end = start + c[5];
      const cStart = start;
      if (dir === 1) start = end;
      if (end <= lo || cStart >= hi) continue;
      if (cStart >= lo && end <= hi) {
        const g1 = groupOf(c[0]);
        if (same(g1, groupOf(c[2]))) {
          if (cur === null || !same(curGroup, g1)) {
            emit();
            if (stopped) return;
            cur = { key: dir === 1 ? c[0] : c[2], kvs: [], reds: [] };
            curGroup = g1;
          }
          (cur as Group).reds.push(c[6]);
          continue;
        }
      }
      walk(c[4], cStart);
    }
  };
  walk(root, 0);
  emit();
}

// ------------------------------------------------------------------ writes

/** One change to a tree: remove every row of (key, id), or insert an entry. */
export interface Action {
  key: unknown;
  id: string;
  /** The entry to insert, or null to remove. */
  entry: Entry | null;
}

export interface NewNode {
  id: number;
  node: TreeNode;
  height: number;
  /** The parent's ref to this node (null for the root), so its reduction can be filled in. */
  ref: ChildRef | null;
}

export interface ModifyResult {
  root: number | null;
  count: number;
  created: NewNode[];
  freed: number[];
}

/** A run of items that becomes one node, with the sum of their estimated sizes. */
interface Chunk<T> {
  items: T[];
  bytes: number;
}

function chunk<T>(
  items: readonly T[],
  sizeOf: (t: T) => number,
  targetBytes: number,
  maxCount: number,
  minCount: number,
  mustJoin: (prev: T, next: T) => boolean,
): Chunk<T>[] {
  if (items.length === 0) return [];
  // Sizes are needed twice (total, then per chunk); estimating them walks each entry, so once.
  const sizes = new Float64Array(items.length);
  let total = 0;
  for (let i = 0; i < items.length; i++) total += sizes[i] = sizeOf(items[i] as T);
  const parts = Math.max(1, Math.ceil(total / targetBytes), Math.ceil(items.length / maxCount));
  // Spread evenly: aim for total/parts bytes per chunk.
  const aim = total / parts;
  const out: Chunk<T>[] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (let i = 0; i < items.length; i++) {
    const it = items[i] as T;
    const s = sizes[i] as number;
    const prev = cur[cur.length - 1];
    const full = cur.length >= maxCount || (bytes + s / 2 > aim && cur.length >= minCount);
    if (cur.length > 0 && full && !(prev !== undefined && mustJoin(prev, it))) {
      out.push({ items: cur, bytes });
      cur = [];
      bytes = 0;
    }
    cur.push(it);
    bytes += s;
  }
  if (cur.length > 0) {
    // A lone small tail would make a needlessly thin node: fold it into its neighbour.
    const last = out[out.length - 1];
    if (last !== undefined && cur.length < minCount) {
      last.items.push(...cur);
      last.bytes += bytes;
    } else out.push({ items: cur, bytes });
  }
  return out;
}

/**
 * Apply sorted actions to the tree under `root`, copy-on-write. New node ids
 * come from `alloc`. Reductions of new nodes are left null in `created`; the
 * caller fills them level by level (see view-group.ts) so that JS reduces can be
 * batched.
 */
export function modifyTree(
  src: NodeSource,
  root: number | null,
  order: RowOrder,
  actions: readonly Action[],
  alloc: () => number,
  shape: TreeShape = DEFAULT_SHAPE,
): ModifyResult {
  const created: NewNode[] = [];
  const freed: number[] = [];
  const sameRow = (a: Entry, b: Entry): boolean => order.cmp(a[0], a[1] as string, b[0], b[1] as string) === 0;

  const makeLeaves = (entries: Entry[]): ChildRef[] =>
    chunk(entries, approxSize, shape.leafBytes, shape.leafEntriesMax, 1, sameRow).map(({ items: es, bytes }) => {
      const id = alloc();
      const first = es[0] as Entry;
      const last = es[es.length - 1] as Entry;
      let count = 0;
      for (const e of es) count += rowsOf(e);
      const ref: ChildRef = [first[0], first[1] as string, last[0], last[1] as string, id, count, null];
      created.push({ id, node: { leaf: true, entries: es, bytes }, height: 0, ref });
      return ref;
    });

  const makeInners = (refs: ChildRef[], height: number): ChildRef[] =>
    chunk(refs, approxSize, shape.innerBytes, shape.innerChildrenMax, 2, () => false).map(({ items: cs, bytes }) => {
      const id = alloc();
      const first = cs[0] as ChildRef;
      const last = cs[cs.length - 1] as ChildRef;
      let count = 0;
      for (const c of cs) count += c[5];
      const ref: ChildRef = [first[0], first[1], last[2], last[3], id, count, null];
      created.push({ id, node: { leaf: false, children: cs, bytes }, height, ref });
      return ref;
    });

  const mergeLeaf = (entries: readonly Entry[], acts: readonly Action[]): Entry[] => {
    const out: Entry[] = [];
    let i = 0;
    for (const a of acts) {
      while (i < entries.length) {
        const e = entries[i] as Entry;
        if (order.cmp(e[0], e[1] as string, a.key, a.id) < 0) out.push(entries[i++] as Entry);
        else break;
      }
      if (a.entry === null) {
        while (i < entries.length) {
          const e = entries[i] as Entry;
          if (order.cmp(e[0], e[1] as string, a.key, a.id) === 0) i++;
          else break;
        }
      } else {
        while (i < entries.length) {
          const e = entries[i] as Entry;
          if (order.cmp(e[0], e[1] as string, a.key, a.id) === 0) out.push(entries[i++] as Entry);
          else break;
        }
        out.push(a.entry);
      }
    }
    while (i < entries.length) out.push(entries[i++] as Entry);
    return out;
  };

  // Returns the refs replacing node `id` (0..n of them) and the height they live at.
  const modify = (id: number | null, acts: readonly Action[]): { refs: ChildRef[]; height: number } => {
    if (id === null) return { refs: makeLeaves(mergeLeaf([], acts)), height: 0 };
    const node = src.get(id);
    freed.push(id);
    if (node.leaf) return { refs: makeLeaves(mergeLeaf(node.entries, acts)), height: 0 };
    const cs = node.children;
    const refs: ChildRef[] = [];
    let childHeight = 0;
    let a = 0;
    for (let ci = 0; ci < cs.length; ci++) {
      const c = cs[ci] as ChildRef;
      const isLast = ci === cs.length - 1;
      let b = a;
      if (isLast) b = acts.length;
      else while (b < acts.length && order.cmp((acts[b] as Action).key, (acts[b] as Action).id, c[2], c[3]) <= 0) b++;
      if (b === a) {
        refs.push(c);
        continue;
      }
      const sub = modify(c[4], acts.slice(a, b));
      childHeight = sub.height;
      for (const r of sub.refs) refs.push(r);
      a = b;
    }
    if (refs.length === 0) return { refs: [], height: childHeight + 1 };
    return { refs: makeInners(refs, childHeight + 1), height: childHeight + 1 };
  };

  if (actions.length === 0) {
    let count = 0;
    if (root !== null) {
      const n = src.get(root);
      count = n.leaf ? n.entries.reduce((s, e) => s + rowsOf(e), 0) : n.children.reduce((s, c) => s + c[5], 0);
    }
    return { root, count, created, freed };
  }
  let { refs, height } = modify(root, actions);
  while (refs.length > 1) {
    height++;
    refs = makeInners(refs, height);
  }
  if (refs.length === 0) return { root: null, count: 0, created, freed };
  let top = refs[0] as ChildRef;
  // Collapse single-child roots (after deletions) so the tree does not stay tall.
  for (;;) {
    const made = created.find((n) => n.id === top[4]);
    const node = made !== undefined ? made.node : src.get(top[4]);
    if (node.leaf || node.children.length !== 1) break;
    if (made !== undefined) {
      created.splice(created.indexOf(made), 1);
    } else {
      freed.push(top[4]);
    }
    top = node.children[0] as ChildRef;
  }
  const rootMade = created.find((n) => n.id === top[4]);
  if (rootMade !== undefined) rootMade.ref = null;
  return { root: top[4], count: top[5], created, freed };
}
