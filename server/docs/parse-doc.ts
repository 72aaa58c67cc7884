// Splits an incoming JSON document into CouchDB's special members and the user body, with the
// checks of couch_doc:transfer_fields/2. The body keeps the client's key order; special members
// that are output-only (`_conflicts`, `_revs_info`, ...) are accepted and dropped.

import { CouchError } from '../errors/catalog.js';
import { parseAttachments, type AttInput } from './attachments.js';
import { validateRevisions } from '../revtree/index.js';

export interface ParsedDoc {
  id?: string;
  rev?: string;
  deleted: boolean;
  revisions?: { start: number; ids: string[] };
  attachments?: AttInput[];
  /** The user fields, serialized once, in the client's order; always JSON.stringify(body). */
  json: string;
  body: Record<string, unknown>;
  /**
   * The rev hash of this edit made ahead of its write (see storage/rev-hasher.ts), with what it was
   * made from: it holds only while the doc still has that parent, deleted flag and JSON.
   */
  revHash?: { parentRev: string | null; deleted: boolean; json: string; hash: string };
}

/** validateRevisions' own reasons (past CouchDB's shape checks), which a `_local` doc's `_revisions` may give. */
const SHAPE_OK_FOR_LOCAL = new Set(['_revisions.ids is empty.', 'RevId is empty.', '_revisions.start is smaller than the number of ids.']);

const IGNORED_SPECIALS = new Set(['_revs_info', '_conflicts', '_deleted_conflicts', '_local_seq', '_access']);

/** `local`: the doc is a `_local` one (also assumed when its `_id` says so); see parseRevisions. */
export function parseDoc(input: unknown, local = false): ParsedDoc {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new CouchError('bad_request', 'Document must be a JSON object');
  }
  const src = input as Record<string, unknown>;
  let body: Record<string, unknown> | undefined;
  const doc: ParsedDoc = { deleted: false, json: '', body: {} };
  for (const key in src) {
    const value = src[key];
    if (key.charCodeAt(0) !== 95 /* _ */) continue;
    body ??= {};
    switch (key) {
      case '_id':
        if (typeof value !== 'string') throw new CouchError('illegal_docid', 'Document id must be a string');
        doc.id = value;
        break;
      case '_rev':
        if (typeof value !== 'string') throw new CouchError('invalid_rev');
        doc.rev = value;
        break;
      case '_deleted':
        doc.deleted = value === true;
        break;
      case '_revisions':
        doc.revisions = parseRevisions(value, local || (typeof src._id === 'string' && src._id.startsWith('_local/')));
        break;
      case '_attachments':
        doc.attachments = parseAttachments(value);
        break;
      default:
        // `_replication_*` members are the scheduler's notes in `_replicator` docs; CouchDB keeps them as body fields.
        if (key.startsWith('_replication_')) break;
        if (!IGNORED_SPECIALS.has(key)) throw new CouchError('doc_validation', `Bad special document member: ${key}`);
    }
  }
  // Fast path: no special members at all, the input is the body.
  doc.body = body === undefined ? src : userFields(src);
  doc.json = JSON.stringify(doc.body);
  return doc;
}

/** The user's members of a doc: every member but the special ones (`_replication_*` are the user's). */
function userFields(src: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const key in src) if (key.charCodeAt(0) !== 95 || key.startsWith('_replication_')) body[key] = src[key];
  return body;
}

/**
 * What a rev hash is made of (parent, deleted flag, body), split from a doc as parseDoc splits it
 * but without serializing the body or checking it; undefined for a doc with attachments (their
 * hash covers stored stubs). For hashing ahead of parseDoc: a doc parseDoc refuses is never written.
 */
export function hashFields(input: unknown): { rev: string | null; deleted: boolean; body: Record<string, unknown> } | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  const src = input as Record<string, unknown>;
  if (Object.hasOwn(src, '_attachments')) return undefined;
  let specials = false;
  for (const key in src) {
    if (key.charCodeAt(0) === 95) {
      specials = true;
      break;
    }
  }
  return { rev: typeof src._rev === 'string' ? src._rev : null, deleted: src._deleted === true, body: specials ? userFields(src) : src };
}

/**
 * couch_doc:transfer_fields checks only the shape of `_revisions` (start an integer, ids strings);
 * the rest of validateRevisions is for revision trees. A `_local` doc has none: its `_revisions`
 * is read as the previous rev `0-N` (see applyLocalRevisions in http/routes/documents.ts).
 */
function parseRevisions(value: unknown, local: boolean): { start: number; ids: string[] } {
  const problem = validateRevisions(value);
  if (problem !== null && !(local && SHAPE_OK_FOR_LOCAL.has(problem))) throw new CouchError('doc_validation', problem);
  return value as { start: number; ids: string[] };
}
