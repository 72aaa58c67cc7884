// What a write answers once its copies are counted: CouchDB's quorum rule.
//
// A write acknowledged by at least `w` replicas is 201 Created (200 for deletions, as
// CouchDB answers DELETE); acknowledged by at least one but fewer than `w`, it is 202
// Accepted — the data is safe somewhere and the syncer will copy it; by none, it failed.
// PouchDB and CouchDB's replicator both treat 202 as success. Pure.

export function quorumStatus(okStatus: number, acks: number, w: number): number | undefined {
  if (acks <= 0) return undefined;
  return acks >= w ? okStatus : 202;
}

/** For a batch: every doc must reach `w` for 201; every doc reaching one is 202. */
export function batchStatus(acksPerDoc: readonly number[], w: number): number {
  if (acksPerDoc.length === 0) return 201;
  return acksPerDoc.every((a) => a >= w) ? 201 : 202;
}
