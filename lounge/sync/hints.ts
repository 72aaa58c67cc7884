// Hinted handoff: which shard replicas missed a write the proxy made, so the syncer can
// bring exactly those up to date instead of waiting for its periodic sweep.
//
// Hints are (database, range, node) triples, de-duplicated; taking them empties the set.
// Bounded: past the cap, further hints are dropped and `overflowed` asks for a full sweep,
// which repairs everything a dropped hint would have. Pure.

import type { Range } from '../placement/ranges.js';
import type { MissedWrites } from '../writes/doc-writer.js';

/** Distinct hints kept; beyond this a full sweep is cheaper than remembering each. */
const HINTS_MAX = 10_000;

export interface Hint {
  db: string;
  range: Range;
  node: string;
}

export class HintSet implements MissedWrites {
  private readonly hints = new Map<string, Hint>();
  overflowed = false;
  private listener: (() => void) | undefined;

  missed(db: string, range: Range, node: string): void {
    const key = `${db}\0${range.name}\0${node}`;
    if (this.hints.has(key)) return;
    if (this.hints.size >= HINTS_MAX) {
      this.overflowed = true;
      return;
    }
    this.hints.set(key, { db, range, node });
    this.listener?.();
  }

  get size(): number {
    return this.hints.size;
  }

  /** Takes every hint (and the overflow flag) out of the set. */
  take(): { hints: Hint[]; overflowed: boolean } {
    const out = { hints: [...this.hints.values()], overflowed: this.overflowed };
    this.hints.clear();
    this.overflowed = false;
    return out;
  }

  /** Called when a hint arrives (the syncer debounces on it). */
  onHint(listener: () => void): void {
    this.listener = listener;
  }
}
