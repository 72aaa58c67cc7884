// Decoded index nodes shared by every view group, approximately least recently
// used first out.
//
// Nodes are immutable (copy-on-write), so a cached node never goes stale: a
// (group, id) pair always means the same content. Keys are numbers (group
// number × 2^32 + node id) because this lookup sits on every tree step. Recency
// is refreshed only for entries that have aged past a quarter of the cache, so
// hot nodes cost a plain Map lookup. The bound keeps memory predictable: at
// ~4 KB per leaf, NODE_CACHE_MAX nodes hold a multi-million-row index.

import type { TreeNode } from './btree.js';

/** Decoded nodes kept in memory across all indexes. */
export const NODE_CACHE_MAX = 20_000;

const GROUP_SHIFT = 2 ** 32;

interface Slot {
  node: TreeNode;
  stamp: number;
}

export class NodeCache {
  private readonly map = new Map<number, Slot>();
  private tick = 0;
  private nextGroup = 1;
  constructor(private readonly max = NODE_CACHE_MAX) {}

  /** A number identifying one view group's nodes in this cache. */
  newGroup(): number {
    return this.nextGroup++;
  }

  key(group: number, id: number): number {
    return group * GROUP_SHIFT + id;
  }

  get(key: number): TreeNode | undefined {
    const s = this.map.get(key);
    if (s === undefined) return undefined;
    if (this.tick - s.stamp > this.max / 4) {
      this.map.delete(key);
      s.stamp = this.tick;
      this.map.set(key, s);
    }
    return s.node;
  }

  set(key: number, node: TreeNode): void {
    this.map.delete(key);
    this.map.set(key, { node, stamp: ++this.tick });
    if (this.map.size > this.max) {
      const oldest = this.map.keys().next().value as number;
      this.map.delete(oldest);
    }
  }

  delete(key: number): void {
    this.map.delete(key);
  }

  /** Drop every node of one view group (after it is deleted). */
  dropGroup(group: number): void {
    for (const k of this.map.keys()) if (Math.floor(k / GROUP_SHIFT) === group) this.map.delete(k);
  }

  get size(): number {
    return this.map.size;
  }
}
