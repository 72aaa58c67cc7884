// Turns stored revisions into CouchDB's JSON document text without re-parsing the body: the stored
// body is already serialized, so `_id`/`_rev` and the meta members are spliced around it. Member
// order follows couch_doc:to_json_obj/2: _id, _rev, body, _deleted, _revisions, meta, _attachments.

import type { AttMap, AttStub } from './attachments.js';

export interface RenderExtras {
  revisions?: { start: number; ids: string[] };
  revsInfo?: { rev: string; status: string }[];
  conflicts?: string[];
  deletedConflicts?: string[];
  localSeq?: number;
}

/** How attachments appear: stubs, or inline data for those newer than `sincePos`. */
export interface AttachmentMode {
  inline: boolean;
  /** With `atts_since`: only attachments with revpos above this get their data. */
  sincePos?: number;
  /** Reads an attachment's own (identity) bytes when inlining. */
  read: (stub: AttStub) => Buffer | undefined;
  /** `att_encoding_info=true`: show `encoding` and `encoded_length` of compressed attachments. */
  showEncoding?: boolean;
  /**
   * A multipart/related answer (couch_att:to_json with `follows`): each wanted attachment is a
   * `"follows": true` stub and is handed here, in order, to be sent as its own part.
   */
  follow?: (name: string, stub: AttStub) => void;
}

export function renderDoc(
  id: string,
  rev: string,
  deleted: boolean,
  json: string,
  atts: AttMap | undefined,
  extras?: RenderExtras,
  attMode?: AttachmentMode,
): string {
  let out = '{"_id":' + JSON.stringify(id) + ',"_rev":"' + rev + '"';
  if (json.length > 2) out += ',' + json.slice(1, -1);
  if (deleted) out += ',"_deleted":true';
  if (extras) {
    if (extras.revisions) out += ',"_revisions":' + JSON.stringify(extras.revisions);
    if (extras.revsInfo) out += ',"_revs_info":' + JSON.stringify(extras.revsInfo);
    if (extras.conflicts && extras.conflicts.length > 0) out += ',"_conflicts":' + JSON.stringify(extras.conflicts);
    if (extras.deletedConflicts && extras.deletedConflicts.length > 0) {
      out += ',"_deleted_conflicts":' + JSON.stringify(extras.deletedConflicts);
    }
    if (extras.localSeq !== undefined) out += ',"_local_seq":' + extras.localSeq;
  }
  if (atts && Object.keys(atts).length > 0) out += ',"_attachments":' + renderAttachments(atts, attMode);
  return out + '}';
}

/**
 * couch_att:to_json/4: a stub, or inline data (always the identity bytes, base64); `encoding` and
 * `encoded_length` follow only with `att_encoding_info=true` and only for compressed attachments.
 */
function renderAttachments(atts: AttMap, mode: AttachmentMode | undefined): string {
  const showEncoding = mode?.showEncoding === true;
  const out: Record<string, unknown> = {};
  for (const name in atts) {
    const stub = atts[name] as AttStub;
    const wanted = mode !== undefined && mode.inline && (mode.sincePos === undefined || stub.revpos > mode.sincePos);
    if (wanted && mode.follow) {
      const shown: Record<string, unknown> = { content_type: stub.content_type, revpos: stub.revpos, digest: stub.digest, length: stub.length, follows: true };
      if (showEncoding && stub.encoding !== undefined) {
        shown.encoding = stub.encoding;
        shown.encoded_length = stub.encoded_length;
      }
      mode.follow(name, stub);
      out[name] = shown;
      continue;
    }
    const bytes = wanted ? mode.read(stub) : undefined;
    const shown: Record<string, unknown> = bytes
      ? { content_type: stub.content_type, revpos: stub.revpos, digest: stub.digest, data: bytes.toString('base64') }
      : { content_type: stub.content_type, revpos: stub.revpos, digest: stub.digest, length: stub.length, stub: true };
    if (showEncoding && stub.encoding !== undefined) {
      shown.encoding = stub.encoding;
      shown.encoded_length = stub.encoded_length;
    }
    out[name] = shown;
  }
  return JSON.stringify(out);
}

/** A stored stub as clients see it without `att_encoding_info` (validate functions, design docs). */
export function publicStubs(atts: AttMap): AttMap {
  const out: AttMap = {};
  for (const name in atts) {
    const s = atts[name] as AttStub;
    out[name] = { content_type: s.content_type, revpos: s.revpos, digest: s.digest, length: s.length, stub: true };
  }
  return out;
}

export function renderLocal(id: string, rev: number, json: string): string {
  let out = '{"_id":' + JSON.stringify(id) + ',"_rev":"0-' + rev + '"';
  if (json.length > 2) out += ',' + json.slice(1, -1);
  return out + '}';
}
