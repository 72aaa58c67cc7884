// The view engine's window onto one database (views/ never reads our storage directly): changes
// since a sequence with each winner's body, single documents, and documents in id order.

import type { ChangedDoc, DocSource } from '../../views/index.js';
import { conflicts } from '../revtree/index.js';
import type { Database } from '../storage/database.js';
import type { DocInfo } from '../storage/records.js';
import { purgeInfosSince, purgeSeq } from '../storage/purge.js';
import { publicStubs, renderDoc } from '../docs/render.js';
import { renderRevision } from '../docs/read.js';

/** The winner of a document as views and filters see it: with `_conflicts` when there are any. */
export function winnerDoc(id: string, info: DocInfo): Record<string, unknown> {
  const doc: Record<string, unknown> = { _id: id, _rev: info.rev, ...(JSON.parse(info.json) as Record<string, unknown>) };
  if (info.deleted) doc._deleted = true;
  if (info.atts) doc._attachments = publicStubs(info.atts);
  if (hasBranches(info)) {
    const c = conflicts(info.tree);
    if (c.length > 0) doc._conflicts = c;
  }
  return doc;
}

/** The winner as JSON text, spliced from the stored body (no parse, no stringify). */
export function winnerJson(id: string, info: DocInfo): string {
  return renderDoc(id, info.rev, info.deleted, info.json, info.atts, hasBranches(info) ? { conflicts: conflicts(info.tree) } : undefined);
}

/** Whether the revision tree has more than one leaf path (so there may be `_conflicts`). */
function hasBranches(info: DocInfo): boolean {
  return info.tree.length > 1 || (info.tree[0]?.node.children.length ?? 0) > 1;
}

/** A change whose `doc` is parsed from `json` only if someone asks for the object. */
class LazyChange implements ChangedDoc {
  readonly deleted = false;
  private parsed: Record<string, unknown> | undefined;
  constructor(
    readonly seq: number,
    readonly id: string,
    readonly json: string,
  ) {}
  get doc(): Record<string, unknown> {
    return (this.parsed ??= JSON.parse(this.json) as Record<string, unknown>);
  }
}

export interface ServerDocSource extends DocSource {
  docsById(startAfter: string | null, limit: number): ChangedDoc[];
}

export function docSource(db: Database): ServerDocSource {
  return {
    dbKey: db.record.uuid,
    updateSeq: () => db.updateSeq,
    changesSince(since, limit) {
      const out: ChangedDoc[] = [];
      for (const { seq, id, info } of db.changes(since)) {
        out.push(info.deleted ? { seq, id, deleted: true, doc: null } : new LazyChange(seq, id, winnerJson(id, info)));
        if (out.length >= limit) break;
      }
      return out;
    },
    getDoc(id, opts) {
      const info = db.docInfo(id);
      if (!info || info.deleted) return null;
      if (info.atts && (opts?.attachments || opts?.attEncodingInfo)) {
        // As GET /db/doc?attachments=true renders it (data inline, or encoding info on the stubs).
        const text = renderRevision(db, id, info, info.rev, { attachments: opts.attachments === true, attEncodingInfo: opts.attEncodingInfo === true, conflicts: hasBranches(info) });
        if (text !== undefined) return JSON.parse(text) as Record<string, unknown>;
      }
      return winnerDoc(id, info);
    },
    getDocRev(id, rev, opts) {
      const info = db.docInfo(id);
      if (!info) return null;
      const text = renderRevision(db, id, info, rev, { attachments: opts?.attachments === true, attEncodingInfo: opts?.attEncodingInfo === true });
      return text === undefined ? null : (JSON.parse(text) as Record<string, unknown>);
    },
    purgeSeq: () => purgeSeq(db),
    purgedSince(since) {
      const infos = purgeInfosSince(db, since);
      // The log keeps the last `purged_infos_limit` purges: it must start right after `since`.
      if (purgeSeq(db) > since && infos[0]?.purgeSeq !== since + 1) return null;
      return infos.map((i) => i.id);
    },
    docsById(startAfter, limit) {
      const out: ChangedDoc[] = [];
      const range = db.liveRange(startAfter === null ? {} : { start: startAfter + '\u0000' });
      for (const { id } of range) {
        const info = db.docInfo(id);
        if (!info) continue;
        out.push({ seq: info.seq, id, deleted: false, doc: winnerDoc(id, info) });
        if (out.length >= limit) break;
      }
      return out;
    },
  };
}
