// The records the node keeps per document, per revision body and per `_local` doc.

import type { RevTree } from '../revtree/index.js';
import type { AttMap } from '../docs/attachments.js';

/**
 * One row of `docs`: a document's tree and its winning revision's body, inline, so reading the
 * current version of a document is one lookup. Every other stored revision lives in `bodies`.
 */
export interface DocInfo {
  tree: RevTree;
  /** The winning revision, `N-hash`. */
  rev: string;
  /** The winner is a tombstone (so every leaf is). */
  deleted: boolean;
  /** The update sequence of the document's latest change. */
  seq: number;
  /** The winner's user fields as JSON text. */
  json: string;
  /** The winner's attachment stubs. */
  atts?: AttMap;
}

/** One row of `bodies`: a revision's user fields (serialized JSON) and its attachment stubs. */
export interface StoredBody {
  json: string;
  atts?: AttMap;
}

/** One row of `local`: `_local` docs have no tree, just a counter revision `0-N`. */
export interface LocalDoc {
  rev: number;
  json: string;
}

/** Per-database counters, kept in memory and written with every transaction. */
export interface DbCounters {
  updateSeq: number;
  docCount: number;
  delCount: number;
  /** Db info `sizes`, kept up to date by every write (absent in data written before they were). */
  sizes?: DbSizes;
}

/**
 * CouchDB's db info `sizes`, in bytes. Every Chaise database lives in the node's one LMDB file, so
 * these count what the database stores there rather than a file of its own: `file` is the bodies
 * and attachments of every stored revision (old ones too, until compaction drops them), `active`
 * those of the leaf revisions (what compaction keeps), `external` the live documents' JSON and
 * their attachments' own (uncompressed) lengths, as CouchDB defines it. Attachments count at their
 * stored (possibly gzipped) length in `file` and `active`.
 */
export interface DbSizes {
  file: number;
  active: number;
  external: number;
}

export interface SecurityObject {
  admins?: { names?: string[]; roles?: string[] };
  members?: { names?: string[]; roles?: string[] };
  [key: string]: unknown;
}

/** What CouchDB 3 gives a new database: admin-only until someone says otherwise. */
export const DEFAULT_SECURITY: SecurityObject = { members: { roles: ['_admin'] }, admins: { roles: ['_admin'] } };

/** CouchDB's default `_revs_limit`. */
export const DEFAULT_REVS_LIMIT = 1000;

/**
 * Per-partition counters of a partitioned database (`GET /db/_partition/p`, and the size limit),
 * kept in `meta` under `[dbId, 'partition', p]` and updated in the transaction of every write.
 * `external` is the winners' JSON plus attachment bytes of the partition's live documents.
 */
export interface PartitionStats {
  docCount: number;
  delCount: number;
  external: number;
}
