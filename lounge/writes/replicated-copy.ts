// Builds the replicated form of a write the leader just accepted, so the same revision can
// be copied to the other replicas with `new_edits=false`.
//
// Why: the replicas of a range are independent nodes; if each ran the client's edit itself
// they could disagree (a replica that missed an earlier write would answer 409, or create
// a different branch). Copying the leader's exact revision keeps their revision trees
// identical, as CouchDB's internal replication does.
//
// The cheap path needs no extra read: the new revision's body is the request body, its
// path is `[new hash, parent hash]`. It applies only when the body carries no attachments
// (a replica might lack the bytes a stub refers to); otherwise the caller reads the revision
// back from the leader with its attachments. Pure.

export interface Revisions {
  start: number;
  ids: string[];
}

function split(rev: string): { pos: number; hash: string } | undefined {
  const m = /^(\d+)-(.+)$/.exec(rev);
  return m ? { pos: Number(m[1]), hash: m[2] as string } : undefined;
}

/** `_revisions` for a new revision whose parent is `parent` (or none for a first revision). */
export function revisionsOf(newRev: string, parent: string | undefined): Revisions | undefined {
  const n = split(newRev);
  if (!n) return undefined;
  const p = parent !== undefined ? split(parent) : undefined;
  if (p && p.pos + 1 === n.pos) return { start: n.pos, ids: [n.hash, p.hash] };
  return { start: n.pos, ids: [n.hash] };
}

/** Whether a request body can be copied without reading the revision back from the leader. */
export function copyableBody(body: unknown): body is Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const atts = (body as Record<string, unknown>)._attachments;
  return atts === undefined || (typeof atts === 'object' && atts !== null && Object.keys(atts).length === 0);
}

/**
 * The doc to send with `new_edits=false`: the body's fields, the new `_rev` and its path.
 * Returns undefined when the path cannot be formed (the caller then reads it back).
 */
export function replicatedDoc(id: string, body: Record<string, unknown>, newRev: string, parent: string | undefined): Record<string, unknown> | undefined {
  const revisions = revisionsOf(newRev, parent);
  if (!revisions) return undefined;
  // A parent we do not know (no _rev given but the doc existed, e.g. a recreate after delete)
  // leaves a one-element path; that is still a valid replicated write.
  const doc: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (k === '_rev' || k === '_revisions' || k === '_id') continue;
    doc[k] = v;
  }
  return { _id: id, _rev: newRev, _revisions: revisions, ...doc };
}
