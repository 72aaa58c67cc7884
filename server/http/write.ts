// The one way HTTP handlers write documents. Before edits reach the store, every write guard runs
// (the `_users` rules, design-doc `validate_doc_update` functions): an edit a guard rejects gets
// its error in the result list and is not written; the others are, in one transaction.

import type { Context } from 'koa';
import { publicStubs } from '../docs/render.js';
import type { Database, Edit, EditResult } from '../storage/database.js';
import type { UserCtx } from '../auth/access.js';
import type { Services } from './services.js';

/** What a guard sees of one edit. `old` is the current winner's body (or the replaced leaf's). */
export interface GuardedEdit extends Edit {
  old: () => Record<string, unknown> | null;
}

/**
 * Checks (and may rewrite, e.g. hash a password) edits before they are written. Returns, per edit,
 * nothing to let it through or an error result to reject it.
 */
export type WriteGuard = (
  db: Database,
  /** The edits as written (read-only); `guarded()` gives the views a guard may inspect and rewrite. */
  raw: readonly Edit[],
  guarded: () => GuardedEdit[],
  newEdits: boolean,
  user: UserCtx,
) => Promise<(EditResult | undefined)[]> | (EditResult | undefined)[];

export async function writeDocs(s: Services, ctx: Context, db: Database, edits: Edit[], newEdits: boolean): Promise<EditResult[]> {
  if (newEdits) s.diskMonitor.checkWrite();
  const results: (EditResult | undefined)[] = new Array(edits.length).fill(undefined);
  if (s.guards.length > 0) {
    // Guarded views of the edits are made only when a guard asks for them (most writes meet none).
    let guarded: GuardedEdit[] | undefined;
    const view = () => (guarded ??= edits.map((e) => ({ ...e, old: () => oldBody(db, e) })));
    for (const guard of s.guards) {
      const pending = guard(db, edits, view, newEdits, ctx.state.user);
      // Most guards decide at once (no validate_doc_update, not `_users`): no need to wait a turn.
      const verdicts = Array.isArray(pending) ? pending : await pending;
      verdicts.forEach((v, i) => {
        if (v && results[i] === undefined) results[i] = v;
      });
    }
    guarded?.forEach((g, i) => {
      (edits[i] as Edit).doc = g.doc;
    });
  }
  const pending: Edit[] = [];
  const slots: number[] = [];
  edits.forEach((e, i) => {
    if (results[i] === undefined) {
      pending.push(e);
      slots.push(i);
    }
  });
  const written = pending.length > 0 ? await db.write(pending, newEdits) : [];
  written.forEach((r, j) => (results[slots[j] as number] = r));
  return results as EditResult[];
}

function oldBody(db: Database, e: Edit): Record<string, unknown> | null {
  const info = db.docInfo(e.id);
  if (!info) return null;
  const rev = e.doc.rev ?? info.rev;
  const body = db.body(e.id, rev) ?? db.body(e.id, info.rev);
  if (!body) return null;
  const doc = JSON.parse(body.json) as Record<string, unknown>;
  return { _id: e.id, _rev: rev, ...doc, ...(body.atts ? { _attachments: publicStubs(body.atts) } : {}), ...(info.deleted && rev === info.rev ? { _deleted: true } : {}) };
}

/** Copies of a document a single node keeps (CouchDB's `n` for a database here). */
const COPIES_PER_NODE = 1;

/**
 * The status of a successful write. A `w` above the copies this node can make cannot be met, so,
 * like a CouchDB cluster short of its quorum, the write is applied and answered 202 (accepted).
 */
export function writeStatus(ctx: Context, ok: number, w: unknown = (ctx.query as Record<string, unknown>).w): number {
  if (w === undefined) return ok;
  const n = typeof w === 'number' ? w : Number(Array.isArray(w) ? w[w.length - 1] : w);
  return Number.isInteger(n) && n > COPIES_PER_NODE ? 202 : ok;
}
