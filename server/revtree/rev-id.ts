// New revision hashes. CouchDB makes a rev id from an md5 of the edit, so that the same edit made on
// two replicas gets the same id and replicating it later is a no-op rather than a conflict. We do the
// same over our own canonical encoding (so our hashes are deterministic but not byte-equal to
// CouchDB's, which hash Erlang's term_to_binary):
//   md5( canonicalJson([parentRev, deleted, body, attachmentDigests sorted by name]) ), 32 lowercase hex.

import { hash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

export interface RevHashInput {
  /** The rev being edited ("N-hash"), or null for a document's first revision. */
  parentRev: string | null;
  deleted: boolean;
  /**
   * The document body WITHOUT its `_`-prefixed top-level fields (`_id`, `_rev`, `_attachments`,
   * `_deleted`, `_revisions`, ...). The caller strips them: they are metadata, and `_rev` in
   * particular would make every retry of an edit hash differently.
   */
  body: unknown;
  /** One entry per attachment: name, content type, digest (e.g. "md5-..."). Order does not matter. */
  attachmentDigests: [name: string, contentType: string, digest: string][];
}

export function newRevHash(input: RevHashInput): string {
  const digests = input.attachmentDigests.slice().sort(compareDigestEntries);
  const text = canonicalJson([input.parentRev, input.deleted, input.body, digests]);
  return hash('md5', text, 'hex');
}

function compareDigestEntries(a: [string, string, string], b: [string, string, string]): number {
  for (let i = 0; i < 3; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
