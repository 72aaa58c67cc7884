// `POST /db/docid` (and `/db/_design/name`): CouchDB's HTML-form upload. A browser form posts
// multipart/form-data with either a `_doc` field (the document's JSON) or a `_rev` field (an
// existing revision to start from), plus `_attachments` file fields; each file replaces the
// attachment of its name. As in chttpd_db:db_doc_req/3 the checks run in CouchDB's order: the
// Referer must be there and name this host (a cross-site form cannot write), then the doc id,
// then the content type.

import type { Context } from 'koa';
import { CouchError } from '../../errors/catalog.js';
import { validateDocId } from '../../docs/doc-id.js';
import { parseDoc } from '../../docs/parse-doc.js';
import { renderRevision } from '../../docs/read.js';
import type { EditResult } from '../../storage/database.js';
import { parseJson, readRaw } from '../body.js';
import { boundaryOf, parseMultipart } from '../multipart.js';
import { send } from '../respond.js';
import type { Services } from '../services.js';
import { writeDocs, writeStatus } from '../write.js';
import { checkDocWrite, openDb, requestRev, throwEditError } from './documents.js';

export async function formPost(ctx: Context, s: Services, rawId: string): Promise<void> {
  validateReferer(ctx);
  const db = openDb(s, ctx, { id: rawId, write: true });
  const id = validateDocId(rawId);
  const ctype = ctx.get('content-type');
  if (ctype.split(';')[0]?.trim().toLowerCase() !== 'multipart/form-data') {
    throw new CouchError('bad_content_type', 'Content-Type must be multipart/form-data');
  }
  checkDocWrite(db, ctx, id);
  const boundary = boundaryOf(ctype);
  if (!boundary) throw new CouchError('bad_request', 'multipart/form-data without a boundary');
  const fields = new Map<string, string>();
  const files: { name: string; type: string; data: Buffer }[] = [];
  for (const part of parseMultipart(await readRaw(ctx, s.limits), boundary)) {
    const disposition = part.headers['content-disposition'] ?? '';
    const field = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    if (field === '_attachments' && filename !== undefined) {
      // A file input left empty still sends a part, with no filename: nothing to attach.
      if (filename !== '') files.push({ name: filename, type: part.headers['content-type'] ?? 'application/octet-stream', data: part.body });
    } else if (field !== undefined) fields.set(field, part.body.toString('utf8'));
  }

  let json: Record<string, unknown>;
  const docField = fields.get('_doc');
  if (docField !== undefined) {
    const parsed = parseJson(Buffer.from(docField), s.limits.maxJsonDepth);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CouchError('bad_request', 'Document must be a JSON object');
    json = parsed as Record<string, unknown>;
  } else {
    // Start from an existing revision, with its attachments as stubs.
    const rev = fields.get('_rev');
    if (rev === undefined) throw new CouchError('bad_request', 'The form needs a `_doc` or a `_rev` field');
    const info = db.docInfo(id);
    const text = info ? renderRevision(db, id, info, rev, {}) : undefined;
    if (text === undefined) throw new CouchError('not_found', 'missing');
    json = JSON.parse(text) as Record<string, unknown>;
  }
  if (files.length > 0) {
    const atts = { ...((json._attachments as Record<string, unknown> | undefined) ?? {}) };
    for (const f of files) atts[f.name] = { content_type: f.type, data: f.data.toString('base64') };
    json._attachments = atts;
  }
  const doc = parseDoc(json);
  const rev = requestRev(ctx, doc.rev);
  if (rev !== undefined) doc.rev = rev;
  const [r] = await writeDocs(s, ctx, db, [{ id, doc }], true);
  throwEditError(r as EditResult);
  const newRev = (r as { rev: string }).rev;
  ctx.set('ETag', `"${newRev}"`);
  send(ctx, writeStatus(ctx, 201), { ok: true, id, rev: newRev });
}

/** couch_httpd:validate_referer: a form post must come from a page of this very host. */
function validateReferer(ctx: Context): void {
  const referer = ctx.get('referer');
  if (referer === '') throw new CouchError('bad_request', 'Referer header required.');
  let host: string;
  try {
    host = new URL(referer).host;
  } catch {
    host = '';
  }
  const own = ctx.get('x-forwarded-host') || ctx.get('host');
  if (host !== own) throw new CouchError('bad_request', 'Referer header must match host.');
}
