// Turns what a client sends into a RevPath that `merge` can take. Two shapes arrive:
// - a replicated write (`new_edits=false`) carries `_revisions: {start, ids}`, ids newest first,
//   so the path is the reversed ids starting at generation `start - ids.length + 1`;
//   without `_revisions` it is just its `_rev`, a one-node path;
// - a normal edit is the parent leaf plus the new child.
// CouchDB ignores `_rev` when `_revisions` is present; callers should do the same.

import type { Rev, RevPath } from './types.js';

export interface Revisions {
  start: number;
  ids: string[];
}

/**
 * Checks a `_revisions` value from a document body. Returns null when it is well formed,
 * else the reason CouchDB gives (answer 400 with error "doc_validation" and this reason).
 * The first three reasons are CouchDB's own words; the last ones cover inputs CouchDB does not
 * check (and then fails on later), so that we never build a path with a generation below 1.
 */
export function validateRevisions(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'Bad special document member: _revisions';
  }
  const { start, ids } = value as { start?: unknown; ids?: unknown };
  if (typeof start !== 'number' || !Number.isSafeInteger(start)) return "_revisions.start isn't an integer.";
  if (!Array.isArray(ids)) return "_revisions.ids isn't a array.";
  for (const id of ids) {
    if (typeof id !== 'string') return "RevId isn't a string";
  }
  if (ids.length === 0) return '_revisions.ids is empty.';
  for (const id of ids) {
    if (id.length === 0) return 'RevId is empty.';
  }
  if (start < ids.length) return '_revisions.start is smaller than the number of ids.';
  return null;
}

/** The path a `_revisions` value describes. Throws RangeError if `validateRevisions` would refuse it. */
export function pathFromRevisions(revisions: Revisions, leafDeleted: boolean, leafAvailable: boolean): RevPath {
  const reason = validateRevisions(revisions);
  if (reason !== null) throw new RangeError(reason);
  const { start, ids } = revisions;
  const hashes = new Array<string>(ids.length);
  for (let i = 0; i < ids.length; i++) hashes[i] = ids[ids.length - 1 - i]!;
  return { pos: start - ids.length + 1, hashes, leafDeleted, leafAvailable };
}

/**
 * The path of one edit: `rev` alone (a first write, or a replicated write without `_revisions`),
 * or `parent` then `rev` (a normal edit of the leaf `parent`). Throws RangeError if `rev` is not
 * the next generation after `parent`.
 */
export function pathFromRev(rev: Rev, parent: Rev | null, leafDeleted: boolean, leafAvailable: boolean): RevPath {
  if (parent === null) return { pos: rev.pos, hashes: [rev.hash], leafDeleted, leafAvailable };
  if (rev.pos !== parent.pos + 1) {
    throw new RangeError(`rev ${rev.pos}-${rev.hash} is not a child generation of ${parent.pos}-${parent.hash}`);
  }
  return { pos: parent.pos, hashes: [parent.hash, rev.hash], leafDeleted, leafAvailable };
}
