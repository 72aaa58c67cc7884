// Counts the storage layer keeps for the node's `_stats` (CouchDB's couchdb.database_reads,
// database_writes, document_writes, document_inserts, local_document_writes). Plain numbers,
// incremented where the work happens; one object per node's environment.

export interface StoreStats {
  /** Document bodies read (couchdb.database_reads). */
  reads: number;
  /** Write batches that changed a database (couchdb.database_writes). */
  dbWrites: number;
  /** Revisions stored (couchdb.document_writes). */
  docWrites: number;
  /** Revisions stored for a document that did not exist before (couchdb.document_inserts). */
  inserts: number;
  /** `_local` documents written or deleted (couchdb.local_document_writes). */
  localWrites: number;
}

export function newStoreStats(): StoreStats {
  return { reads: 0, dbWrites: 0, docWrites: 0, inserts: 0, localWrites: 0 };
}
