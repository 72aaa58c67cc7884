// Reading documents the way `GET /db/doc` does: the winner or a given revision, with CouchDB's
// optional members (_revisions, _revs_info, _conflicts, ...), attachments as stubs or inline.

import type { Database } from '../storage/database.js';
import type { DocInfo } from '../storage/records.js';
import type { AttStub } from './attachments.js';
import { ancestry, conflicts, deletedConflicts, findRev, parseRev, revsInfo } from '../revtree/index.js';
import { renderDoc, type AttachmentMode, type RenderExtras } from './render.js';

export interface ReadOptions {
  revs?: boolean;
  revsInfo?: boolean;
  conflicts?: boolean;
  deletedConflicts?: boolean;
  localSeq?: boolean;
  attachments?: boolean;
  attsSince?: string[];
  /** `att_encoding_info=true`. */
  attEncodingInfo?: boolean;
  /** A multipart/related answer: attachments with data become `follows` stubs handed here. */
  follow?: (name: string, stub: AttStub) => void;
}

/** Renders revision `rev` of a document, or undefined when that revision's body is not stored. */
export function renderRevision(db: Database, id: string, info: DocInfo, rev: string, opts: ReadOptions): string | undefined {
  const parsed = parseRev(rev);
  if (!parsed) return undefined;
  const node = findRev(info.tree, parsed);
  if (!node || !node.available) return undefined;
  const body = db.body(id, rev, info);
  if (!body) return undefined;
  let extras: RenderExtras | undefined;
  if (opts.revs || opts.revsInfo || opts.conflicts || opts.deletedConflicts || opts.localSeq) {
    extras = {};
    if (opts.revs) extras.revisions = { start: parsed.pos, ids: ancestry(info.tree, parsed, db.revsLimit) };
    if (opts.revsInfo) extras.revsInfo = revsInfo(info.tree, parsed);
    if (opts.conflicts) extras.conflicts = conflicts(info.tree);
    if (opts.deletedConflicts) extras.deletedConflicts = deletedConflicts(info.tree);
    if (opts.localSeq) extras.localSeq = info.seq;
  }
  let mode: AttachmentMode | undefined;
  if (body.atts && (opts.attachments || opts.attsSince || opts.attEncodingInfo)) {
    mode = { inline: opts.attachments === true || opts.attsSince !== undefined, read: (stub) => db.attachmentData(stub), showEncoding: opts.attEncodingInfo === true };
    if (opts.follow) mode.follow = opts.follow;
    if (opts.attsSince) {
      const history = new Set(ancestry(info.tree, parsed).map((h, i) => `${parsed.pos - i}-${h}`));
      let since = 0;
      for (const r of opts.attsSince) {
        const p = parseRev(r);
        if (p && history.has(r) && p.pos > since) since = p.pos;
      }
      mode.sincePos = since;
    }
  }
  return renderDoc(id, rev, node.deleted, body.json, body.atts, extras, mode);
}
