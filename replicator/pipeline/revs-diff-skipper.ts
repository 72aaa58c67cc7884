// Skips `_revs_diff` while the target is evidently empty.
//
// When a replication fills an empty target, every `_revs_diff` answers "all
// missing": a round trip and an index scan on the target that tell us
// nothing. CouchDB 3.3 skips those calls statistically (apache/couchdb#4163);
// we do the same, deterministically: after a streak of batches whose revisions
// were all missing, batches go straight to `_bulk_get` and `_bulk_docs`. Writing
// a revision the target already has is harmless (`new_edits=false` is
// idempotent), so a wrong guess only costs bandwidth. One batch in every few
// still asks, and a single answer with anything present ends the skipping.
// Pure: no I/O.

/** All-missing answers in a row before we stop asking. */
export const ALL_MISSING_STREAK_TO_SKIP = 2;
/** While skipping, still ask for one batch in this many, to notice a populated target. */
export const PROBE_EVERY_BATCHES = 8;

export class RevsDiffSkipper {
  private streak = 0;
  private skippedSinceProbe = 0;

  constructor(private readonly enabled = true) {}

  /** Whether the next batch may skip `_revs_diff`. */
  shouldSkip(): boolean {
    if (!this.enabled || this.streak < ALL_MISSING_STREAK_TO_SKIP) return false;
    if (this.skippedSinceProbe >= PROBE_EVERY_BATCHES - 1) {
      this.skippedSinceProbe = 0;
      return false;
    }
    this.skippedSinceProbe++;
    return true;
  }

  /** Records a real `_revs_diff` answer. */
  record(checked: number, missing: number): void {
    if (checked === 0) return;
    if (missing === checked) this.streak++;
    else {
      this.streak = 0;
      this.skippedSinceProbe = 0;
    }
  }
}
