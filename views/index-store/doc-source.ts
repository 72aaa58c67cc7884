// The contract between a database (owned by server/) and the view engine.
// The server implements DocSource per database instance; views/ only reads.

/** One document as of its latest change. */
export interface ChangedDoc {
  seq: number;
  id: string;
  deleted: boolean;
  /** The winning revision's body with _id, _rev and _conflicts (when there are conflicts); null when deleted. */
  doc: Record<string, unknown> | null;
  /**
   * The same document already serialized, when the source has it as text: map batches then cross
   * into the sandbox without a parse and a re-stringify per document.
   */
  json?: string;
}

/** How include_docs renders a document's attachments: stubs unless `attachments` asks for the data. */
export interface DocReadOptions {
  attachments?: boolean;
  attEncodingInfo?: boolean;
}

export interface DocSource {
  /** Stable unique key of this database instance (changes when the db is deleted and re-created). */
  dbKey: string;
  updateSeq(): number;
  /** Changes after `since`, ascending by seq, each doc once at its latest seq, at most `limit`. */
  changesSince(since: number, limit: number): ChangedDoc[];
  /**
   * Winner body (for include_docs), null if missing or deleted. Include _conflicts when it has
   * conflicts. `opts`: a view query's `attachments` / `att_encoding_info` (couch_mrview's doc_options).
   */
  getDoc(id: string, opts?: DocReadOptions): Record<string, unknown> | null;
  /**
   * One revision's body (include_docs of a row that emitted `{"_rev": …}`), null when the source
   * does not have it; a source without this reads the winner instead.
   */
  getDocRev?(id: string, rev: string, opts?: DocReadOptions): Record<string, unknown> | null;
  /**
   * Purges (optional; a source without them never purges). `purgeSeq` counts purged docs; an
   * index remembers the count it has applied. A purged doc leaves the by-seq index with no change
   * of its own, so the index replays the purge log to drop its rows.
   */
  purgeSeq?(): number;
  /** Ids purged after purge seq `since`, oldest first; null when the log no longer reaches back that far. */
  purgedSince?(since: number): string[] | null;
}
