// An in-memory DocSource for tests and benchmarks: documents with ascending
// seqs, each doc once at its latest seq, as the server's by_seq index provides
// them. Not used by production code.

import type { ChangedDoc, DocSource } from '../index-store/doc-source.js';

export class MemorySource implements DocSource {
  readonly dbKey: string;
  private seq = 0;
  /** Changes in seq order; superseded ones keep their seq with `ch` nulled out. */
  private readonly log: { seq: number; ch: ChangedDoc | null }[] = [];
  private readonly byId = new Map<string, { ch: ChangedDoc; at: number }>();
  /** Purged ids by purge seq (1-based); the first `purgesForgotten` are no longer kept, as a capped purge log. */
  private readonly purges: string[] = [];
  private purgesForgotten = 0;

  constructor(dbKey = `mem-${Math.random().toString(36).slice(2)}`) {
    this.dbKey = dbKey;
  }

  /** Write (or overwrite) a doc; gives it the next seq. */
  put(doc: Record<string, unknown>): number {
    return this.record(doc['_id'] as string, false, doc);
  }

  delete(id: string): number {
    return this.record(id, true, null);
  }

  /** Advance the seq without a document change (like a _local write or purge). */
  bump(): number {
    return ++this.seq;
  }

  private record(id: string, deleted: boolean, doc: Record<string, unknown> | null): number {
    const old = this.byId.get(id);
    if (old !== undefined) (this.log[old.at] as { ch: ChangedDoc | null }).ch = null;
    const ch: ChangedDoc = { seq: ++this.seq, id, deleted, doc };
    this.byId.set(id, { ch, at: this.log.length });
    this.log.push({ seq: ch.seq, ch });
    return ch.seq;
  }

  updateSeq(): number {
    return this.seq;
  }

  changesSince(since: number, limit: number): ChangedDoc[] {
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.log[mid] as { seq: number }).seq <= since) lo = mid + 1;
      else hi = mid;
    }
    const out: ChangedDoc[] = [];
    for (let i = lo; i < this.log.length && out.length < limit; i++) {
      const ch = (this.log[i] as { ch: ChangedDoc | null }).ch;
      if (ch !== null) out.push(ch);
    }
    return out;
  }

  getDoc(id: string): Record<string, unknown> | null {
    const e = this.byId.get(id);
    return e === undefined || e.ch.deleted ? null : e.ch.doc;
  }

  /**
   * Purges a doc: it leaves the by-seq log without a change of its own. With `survivor`, the doc
   * stays with that body (as when the winning leaf is purged and another leaf wins).
   */
  purge(id: string, survivor?: Record<string, unknown>): void {
    const old = this.byId.get(id);
    if (old !== undefined) (this.log[old.at] as { ch: ChangedDoc | null }).ch = null;
    this.byId.delete(id);
    if (survivor !== undefined) {
      const ch: ChangedDoc = { seq: old?.ch.seq ?? ++this.seq, id, deleted: false, doc: survivor };
      this.byId.set(id, { ch, at: old?.at ?? this.log.length });
      if (old === undefined) this.log.push({ seq: ch.seq, ch });
      else (this.log[old.at] as { ch: ChangedDoc | null }).ch = ch;
    }
    this.purges.push(id);
    this.seq++;
  }

  /** Forgets all but the last `keep` purges, as `_purged_infos_limit` does. */
  forgetPurges(keep: number): void {
    this.purgesForgotten = Math.max(this.purgesForgotten, this.purges.length - keep);
  }

  purgeSeq(): number {
    return this.purges.length;
  }

  purgedSince(since: number): string[] | null {
    if (since < this.purgesForgotten && since < this.purges.length) return null;
    return this.purges.slice(since);
  }
}
