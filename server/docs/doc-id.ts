// Document id rules, after couch_doc:validate_docid/1. Only `_design/` and `_local/` may start with
// an underscore; empty ids and the bare prefixes are illegal.

import { CouchError } from '../errors/catalog.js';

export type DocKind = 'normal' | 'design' | 'local';

export function docKind(id: string): DocKind {
  if (id.startsWith('_design/')) return 'design';
  if (id.startsWith('_local/')) return 'local';
  return 'normal';
}

export function validateDocId(id: unknown): string {
  if (typeof id !== 'string') throw new CouchError('illegal_docid', 'Document id must be a string');
  if (id === '') throw new CouchError('illegal_docid', 'Document id must not be empty');
  if (id === '_design/' || id === '_local/') throw new CouchError('illegal_docid', `Illegal document id \`${id}\``);
  if (id.startsWith('_') && !id.startsWith('_design/') && !id.startsWith('_local/')) {
    throw new CouchError('illegal_docid');
  }
  if (hasLoneSurrogate(id)) throw new CouchError('illegal_docid', 'Document id must be valid UTF-8');
  return id;
}

function hasLoneSurrogate(s: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}
