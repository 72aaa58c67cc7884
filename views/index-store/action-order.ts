// Sorting one flush's tree actions into row order before they are applied in one pass.
//
// Row order is the view's key collation, then docid by raw bytes, with a removal before an
// insertion of the same row (so a doc that re-emits a key replaces its old entry). Collating keys
// is the costly part of that sort (string keys go through ICU), and a flush usually repeats keys:
// a build of 100k docs emitting `doc.name` has a few hundred distinct names. So each distinct key
// is collated against others only while sorting the distinct keys; each is then given a rank
// (keys that collate equal, like 1 and 1.0, share one) and the actions are ordered by a counting
// sort on rank, then by docid within each key. The result is exactly the order `RowOrder.cmp`
// gives, since ranks are that order's equivalence classes.
//
// Pure: no I/O.

import { compareIds } from '../collation/raw-order.js';
import { comparePartitions, type Action, type RowOrder } from './btree.js';

/** `acts` in row order, removals first within a row; a new array, `acts` is left as it was. */
export function sortActions(acts: readonly Action[], order: RowOrder): Action[] {
  if (order.partitioned) return sortPartitioned(acts, order);
  const { ranks, count } = keyRanks(acts, order);
  // Which keys' actions did not arrive in docid order? Usually none: changes mostly come in docid
  // order. Checked in arrival order, which is also the actions' order in memory; the same check
  // over the reordered array costs several times more in cache misses.
  const lastOfRank = new Array<Action | undefined>(count);
  const unsorted = new Uint8Array(count);
  for (let i = 0; i < acts.length; i++) {
    const r = ranks[i] as number;
    const a = acts[i] as Action;
    const prev = lastOfRank[r];
    if (prev !== undefined && byIdRemovalFirst(prev, a) > 0) unsorted[r] = 1;
    lastOfRank[r] = a;
  }
  // Counting sort by rank: linear, and stable, so each key's actions keep their arrival order.
  const starts = new Int32Array(count + 1);
  for (const r of ranks) starts[r + 1] = (starts[r + 1] as number) + 1;
  for (let r = 0; r < count; r++) starts[r + 1] = (starts[r + 1] as number) + (starts[r] as number);
  const next = starts.slice(0, count);
  const out = new Array<Action>(acts.length);
  for (let i = 0; i < acts.length; i++) {
    const r = ranks[i] as number;
    const at = next[r] as number;
    next[r] = at + 1;
    out[at] = acts[i] as Action;
  }
  // Then by docid within each key that needs it (a stable sort, as Array.prototype.sort is).
  for (let r = 0; r < count; r++) {
    if (unsorted[r] === 0) continue;
    const from = starts[r] as number;
    const to = starts[r + 1] as number;
    const group = out.slice(from, to).sort(byIdRemovalFirst);
    for (let i = 0; i < group.length; i++) out[from + i] = group[i] as Action;
  }
  return out;
}

/**
 * A partitioned view's order: partition (of the docid) first, then key, then docid. Keys are
 * still collated once per distinct key (their ranks), the rest is a comparison sort.
 */
function sortPartitioned(acts: readonly Action[], order: RowOrder): Action[] {
  const { ranks } = keyRanks(acts, order);
  const idx = Array.from(acts.keys());
  idx.sort((i, j) => {
    const a = acts[i] as Action;
    const b = acts[j] as Action;
    return comparePartitions(a.id, b.id) || (ranks[i] as number) - (ranks[j] as number) || byIdRemovalFirst(a, b);
  });
  return idx.map((i) => acts[i] as Action);
}

function byIdRemovalFirst(a: Action, b: Action): number {
  return compareIds(a.id, b.id) || removalFirst(a) - removalFirst(b);
}

function removalFirst(a: Action): number {
  return a.entry === null ? 0 : 1;
}

/** Per action, the rank of its key among the distinct keys of `acts` in the view's collation. */
function keyRanks(acts: readonly Action[], order: RowOrder): { ranks: Int32Array; count: number } {
  // Scalars are told apart by value; arrays and objects by their JSON, in a separate map so that
  // the string "[1]" and the array [1] stay two keys.
  const scalarSlot = new Map<unknown, number>();
  const jsonSlot = new Map<string, number>();
  const distinct: unknown[] = [];
  const slots = new Int32Array(acts.length);
  for (let i = 0; i < acts.length; i++) {
    const key = (acts[i] as Action).key;
    const composite = typeof key === 'object' && key !== null;
    const id = composite ? JSON.stringify(key) : key;
    const map = composite ? jsonSlot : scalarSlot;
    let slot = composite ? jsonSlot.get(id as string) : scalarSlot.get(id);
    if (slot === undefined) {
      slot = distinct.length;
      distinct.push(key);
      (map as Map<unknown, number>).set(id, slot);
    }
    slots[i] = slot;
  }
  const sorted = distinct.map((_, i) => i).sort((a, b) => order.cmpKey(distinct[a], distinct[b]));
  const rankOfSlot = new Int32Array(distinct.length);
  let rank = 0;
  for (let i = 0; i < sorted.length; i++) {
    const slot = sorted[i] as number;
    if (i > 0 && order.cmpKey(distinct[sorted[i - 1] as number], distinct[slot]) !== 0) rank++;
    rankOfSlot[slot] = rank;
  }
  for (let i = 0; i < slots.length; i++) slots[i] = rankOfSlot[slots[i] as number] as number;
  return { ranks: slots, count: distinct.length === 0 ? 0 : rank + 1 };
}
