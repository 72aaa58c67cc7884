// Streaming k-way merge of sorted sources: the heart of every fan-out read.
//
// CouchDB's coordinator emits a row only when every worker has a row buffered or has
// finished (fabric_view:maybe_send_row), so the merged order is right without buffering
// whole answers. This does the same with async iterators: it holds exactly one head per
// source, yields the smallest, and pulls the next row from that source only.
//
// It guarantees: if every source is sorted by `cmp`, the output is sorted by `cmp`; ties
// go to the lower source index, so the merge is stable; each source is read lazily (at most
// one row ahead), so a consumer that stops early (limit) stops the reads too; when the
// consumer stops or a source fails, every source is closed (`return()`), which lets the
// caller abort the upstream requests. Pure: no I/O of its own.

export interface Sourced<T> {
  item: T;
  /** Index of the source the item came from. */
  source: number;
}

/** Sources are few (one per range), so a linear scan for the minimum beats a heap's overhead. */
export async function* mergeSorted<T>(sources: readonly AsyncIterable<T>[], cmp: (a: T, b: T) => number): AsyncGenerator<Sourced<T>> {
  const its = sources.map((s) => s[Symbol.asyncIterator]());
  const heads: (T | undefined)[] = new Array<T | undefined>(its.length).fill(undefined);
  const live: boolean[] = new Array<boolean>(its.length).fill(true);
  try {
    const first = await Promise.all(its.map((it) => it.next()));
    first.forEach((r, i) => {
      if (r.done) live[i] = false;
      else heads[i] = r.value;
    });
    for (;;) {
      let best = -1;
      for (let i = 0; i < its.length; i++) {
        if (!live[i]) continue;
        if (best < 0 || cmp(heads[i] as T, heads[best] as T) < 0) best = i;
      }
      if (best < 0) return;
      yield { item: heads[best] as T, source: best };
      const r = await (its[best] as AsyncIterator<T>).next();
      if (r.done) live[best] = false;
      else heads[best] = r.value;
    }
  } finally {
    await Promise.allSettled(its.map((it, i) => (live[i] && it.return ? it.return() : undefined)));
  }
}

/** An async iterable over an array, for tests and for answers that are already in memory. */
export async function* fromArray<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const x of items) yield x;
}
