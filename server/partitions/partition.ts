// Partitioned databases' naming rules, after CouchDB's couch_partition: a document of a
// partitioned database is named `partition:id`; `_design/` and `_local/` documents belong to no
// partition. The partition of an id is what placement hashes and what partition queries select,
// and since `:` sorts before `;`, one partition's ids are the contiguous raw range
// [`p:`, `p;`) — the property that makes a partition query cost the partition's size.
//
// Pure: no I/O.

import { CouchError } from '../errors/catalog.js';
import { validateDocId } from '../docs/doc-id.js';

/** The partition of a document id, or undefined when it has none (`_design/`, `_local/`, no colon). */
export function partitionOf(id: string): string | undefined {
  if (id.startsWith('_')) return undefined;
  const colon = id.indexOf(':');
  return colon < 0 ? undefined : id.slice(0, colon);
}

/** The first id of a partition's range (couch_partition:start_key). */
export function partitionStart(partition: string): string {
  return partition + ':';
}

/** Just past a partition's range, exclusive (couch_partition:end_key). */
export function partitionEnd(partition: string): string {
  return partition + ';';
}

/** couch_partition:validate_partition: the partition name of a `_partition/{p}` path or a doc id. */
export function validatePartition(partition: unknown): string {
  if (typeof partition !== 'string') throw new CouchError('illegal_partition', 'Partition must be a string');
  if (partition === '') throw new CouchError('illegal_partition', 'Partition must not be empty');
  if (partition.startsWith('_')) throw new CouchError('illegal_partition', 'Partition must not start with an underscore');
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(partition)) {
    throw new CouchError('illegal_partition', 'Partition must be valid UTF-8');
  }
  if (partition.includes(':')) throw new CouchError('illegal_partition', 'Partition must not contain a colon');
  return partition;
}

/**
 * couch_partition:validate_docid, for an id that already passed the general id rules: a
 * partitioned database's documents must be `partition:id` with a valid partition and a valid rest.
 */
export function validatePartitionedDocId(id: string): void {
  if (id.startsWith('_design/') || id.startsWith('_local/')) return;
  const colon = id.indexOf(':');
  if (colon < 0) throw new CouchError('illegal_docid', 'Doc id must be of form partition:id');
  validatePartition(id.slice(0, colon));
  validateDocId(id.slice(colon + 1));
}
