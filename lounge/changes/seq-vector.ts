// The position of a `_changes` reader across all ranges: for each range, the node whose
// feed it follows, that node's sequence, and the shard instance it belongs to.
//
// `advance` moves one range forward (a row was emitted, or a range's feed ended at its
// `last_seq`); `token` encodes the whole vector (see since-token.ts). Rows of one range are
// emitted in that range's order, so a range's position only moves forward and a token
// taken after any row is a safe place to resume: every change before it in every range
// has been emitted. Pure.

import { encodeSince, type SeqEntry } from './since-token.js';

export class SeqVector {
  private readonly entries = new Map<string, SeqEntry>();
  private cached: string | undefined;

  constructor(initial: readonly SeqEntry[]) {
    for (const e of initial) this.entries.set(e.range, { ...e });
  }

  get(range: string): SeqEntry | undefined {
    return this.entries.get(range);
  }

  /** Sets a range's position (node, seq, shard instance). */
  advance(range: string, node: string, seq: unknown, uuid: string): void {
    this.entries.set(range, { range, node, seq, uuid });
    this.cached = undefined;
  }

  /** The opaque token for the current position; memoised until the next advance. */
  token(): string {
    this.cached ??= encodeSince([...this.entries.values()]);
    return this.cached;
  }

  entriesList(): SeqEntry[] {
    return [...this.entries.values()].map((e) => ({ ...e }));
  }
}
