// Which source sequence is safe to checkpoint while batches finish out of order.
//
// Workers copy batches concurrently, so batch 7 may land on the target before
// batch 5. A checkpoint may only claim a sequence once *every* change up to it
// is on the target; otherwise a crash would resume past changes never copied.
// The "through" sequence is therefore the last sequence of the longest prefix
// of batches that are all done (CouchDB's `current_through_seq`). The highest
// finished sequence is kept too, for progress reports (`source_seq`).
// Pure: no I/O.

import type { Seq } from '../endpoint/endpoint.js';

export class SeqTracker {
  private readonly batches = new Map<number, { lastSeq: Seq; done: boolean }>();
  private nextToFinish = 0;
  private nextToAdd = 0;
  private through: Seq;
  private highest: Seq;
  private anyDone = false;
  private highestIndex = -1;

  constructor(startSeq: Seq) {
    this.through = startSeq;
    this.highest = startSeq;
  }

  /** Registers the next batch read from the feed; returns its index. */
  add(lastSeq: Seq): number {
    const index = this.nextToAdd++;
    this.batches.set(index, { lastSeq, done: false });
    return index;
  }

  /** Marks a batch as fully written to the target. */
  done(index: number): void {
    const batch = this.batches.get(index);
    if (!batch || batch.done) return;
    batch.done = true;
    this.anyDone = true;
    if (index > this.highestIndex) {
      this.highest = batch.lastSeq;
      this.highestIndex = index;
    }
    for (;;) {
      const head = this.batches.get(this.nextToFinish);
      if (!head || !head.done) break;
      this.through = head.lastSeq;
      this.batches.delete(this.nextToFinish);
      this.nextToFinish++;
    }
  }

  /** Every change up to this sequence is on the target. */
  get throughSeq(): Seq {
    return this.through;
  }

  /** The last sequence of the newest finished batch. */
  get highestSeqDone(): Seq {
    return this.highest;
  }

  /** Batches read but not yet finished. */
  get inFlight(): number {
    return this.nextToAdd - this.nextToFinish;
  }

  /** Whether any batch has finished in this session. */
  get progressed(): boolean {
    return this.anyDone;
  }
}
