// A bounded queue between the changes reader and the workers.
//
// The bound is the back-pressure of the pipeline: when workers fall behind,
// the reader stops pulling `_changes` instead of buffering the whole source in
// memory. `close()` lets workers drain what is queued and then stop; `fail()`
// wakes everyone with an error.

export class BatchQueue<T> {
  private readonly items: T[] = [];
  private readonly takers: { resolve: (item: T | null) => void; reject: (err: unknown) => void }[] = [];
  private readonly putters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private closed = false;
  private failure: { err: unknown } | null = null;

  constructor(private readonly capacity: number) {}

  /** Waits for room, then enqueues. */
  async put(item: T): Promise<void> {
    if (this.failure) throw this.failure.err;
    if (this.closed) throw new Error('queue closed');
    while (this.items.length >= this.capacity && this.takers.length === 0) {
      await new Promise<void>((resolve, reject) => this.putters.push({ resolve, reject }));
      const failure = this.failure as { err: unknown } | null;
      if (failure) throw failure.err;
    }
    const taker = this.takers.shift();
    if (taker) taker.resolve(item);
    else this.items.push(item);
  }

  /** The next item, or null once the queue is closed and empty. */
  async take(): Promise<T | null> {
    if (this.failure) throw this.failure.err;
    if (this.items.length > 0) {
      const item = this.items.shift() as T;
      this.putters.shift()?.resolve();
      return item;
    }
    if (this.closed) return null;
    return new Promise<T | null>((resolve, reject) => this.takers.push({ resolve, reject }));
  }

  /** No more items will come; takers get null after the queued ones. */
  close(): void {
    this.closed = true;
    for (const taker of this.takers.splice(0)) taker.resolve(null);
  }

  /** Wakes every waiter with `err`. */
  fail(err: unknown): void {
    if (this.failure) return;
    this.failure = { err };
    for (const taker of this.takers.splice(0)) taker.reject(err);
    for (const putter of this.putters.splice(0)) putter.reject(err);
  }

  get length(): number {
    return this.items.length;
  }
}
