// Standalone attachments: GET/HEAD/PUT/DELETE /db/doc/name (names may contain '/'). A PUT or
// DELETE is an ordinary edit of the document that carries every other attachment as a stub. A GET
// honours `Range` as CouchDB does (byte-ranges.ts decides which bytes). An attachment stored
// gzipped (docs/attachments.ts) goes out as stored, with `Content-Encoding: gzip`, to a client whose
// `Accept-Encoding` takes gzip, and decompressed to anyone else; a `Range` is always served from
// the decompressed bytes (CouchDB answers ranges of compressed attachments with the whole body
// and `Accept-Ranges: none`; Chaise serves the ranges asked for, a deliberate difference noted in
// server/README.md).

import type Router from '@koa/router';
import type { Context } from 'koa';
import { createHash, randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { CouchError } from '../../errors/catalog.js';
import { validateDocId } from '../../docs/doc-id.js';
import { encodedForm, identityBytes, storedForm, stubInputs, validateContentType, validateAttachmentName } from '../../docs/attachments.js';
import type { ParsedDoc } from '../../docs/parse-doc.js';
import { parseRev, findRev } from '../../revtree/index.js';
import type { Database, EditResult } from '../../storage/database.js';
import { readRaw } from '../body.js';
import { str, type Query } from '../query.js';
import { etagMatches, send } from '../respond.js';
import type { Services } from '../services.js';
import { writeDocs, writeStatus } from '../write.js';
import { checkDocWrite, location, openDb, requestRev, throwEditError } from './documents.js';
import { contentRange, selectRanges, type ByteRange } from './byte-ranges.js';

export function registerAttachments(router: Router, s: Services): void {
  // couch_httpd_db: `_local` documents have no attachments, whatever the method.
  router.all('/:db/_local/:ldoc/*att', () => {
    throw new CouchError('bad_request', '_local documents do not accept attachments.');
  });
  const routes: [string, (ctx: Context) => string][] = [
    ['/:db/_design/:ddoc/*att', (ctx) => '_design/' + (ctx.params.ddoc as string)],
    ['/:db/:docid/*att', (ctx) => ctx.params.docid as string],
  ];
  for (const [path, idOf] of routes) {
    router.get(path, (ctx) => getAttachment(ctx, s, idOf(ctx), attName(ctx)));
    router.head(path, (ctx) => getAttachment(ctx, s, idOf(ctx), attName(ctx)));
    router.put(path, (ctx) => putAttachment(ctx, s, idOf(ctx), attName(ctx)));
    router.delete(path, (ctx) => deleteAttachment(ctx, s, idOf(ctx), attName(ctx)));
    router.all(path, () => {
      throw new CouchError('method_not_allowed', 'Only DELETE,GET,HEAD,PUT allowed');
    });
  }
}

function attName(ctx: Context): string {
  const raw = ctx.params.att as string | string[];
  return Array.isArray(raw) ? raw.join('/') : raw;
}

function getAttachment(ctx: Context, s: Services, id: string, name: string): void {
  const db = openDb(s, ctx);
  const info = db.docInfo(id);
  if (!info) throw new CouchError('not_found', 'missing');
  const rev = str(ctx.query as Query, 'rev') ?? info.rev;
  if (str(ctx.query as Query, 'rev') === undefined && info.deleted) throw new CouchError('not_found', 'deleted');
  const body = db.body(id, rev);
  if (!body) throw new CouchError('not_found', 'missing');
  const stub = body.atts?.[name];
  if (!stub) throw new CouchError('not_found', 'Document is missing attachment');
  const stored = db.storedAttachment(stub);
  if (!stored) throw new CouchError('not_found', 'Document is missing attachment');
  const etag = `"${stub.digest.replace(/^md5-/, '')}"`;
  ctx.set('ETag', etag);
  ctx.set('Cache-Control', 'must-revalidate');
  ctx.set('Accept-Ranges', 'bytes');
  if (etagMatches(ctx, etag)) {
    ctx.status = 304;
    return;
  }
  const range = ctx.get('range') || undefined;
  // Content-Type is the stored type, unchanged (koa's ctx.type would add a charset CouchDB does not send).
  if (stub.encoding === 'gzip' && range === undefined && acceptsGzip(ctx.get('accept-encoding'))) {
    ctx.status = 200;
    ctx.body = stored;
    ctx.set('Content-Type', stub.content_type);
    ctx.set('Content-Encoding', 'gzip');
    ctx.set('Content-MD5', md5Header(stub.digest));
    return;
  }
  const bytes = identityBytes(stored, stub);
  const answer = selectRanges(range, bytes.length);
  if (answer.kind === 'whole') {
    ctx.status = 200;
    ctx.body = bytes;
    ctx.set('Content-Type', stub.content_type);
    // chttpd_db sends the stored md5 when the bytes go as stored (not decompressed on the way).
    if (stub.encoding !== 'gzip') ctx.set('Content-MD5', md5Header(stub.digest));
    return;
  }
  ctx.status = 206;
  if (answer.ranges.length === 1) {
    const range = answer.ranges[0] as ByteRange;
    ctx.set('Content-Range', contentRange(range, bytes.length));
    ctx.body = bytes.subarray(range[0], range[1] + 1);
    ctx.set('Content-Type', stub.content_type);
    return;
  }
  // Several ranges: multipart/byteranges laid out as chttpd_db:send_ranges_multipart/5 writes it.
  const boundary = randomBytes(16).toString('hex');
  const parts: Buffer[] = [Buffer.from(`--${boundary}`)];
  for (const range of answer.ranges) {
    parts.push(Buffer.from(`\r\nContent-Type: ${stub.content_type}\r\nContent-Range: ${contentRange(range, bytes.length)}\r\n\r\n`));
    parts.push(bytes.subarray(range[0], range[1] + 1));
    parts.push(Buffer.from(`\r\n--${boundary}`));
  }
  parts.push(Buffer.from('--'));
  ctx.body = Buffer.concat(parts);
  ctx.set('Content-Type', `multipart/byteranges; boundary="${boundary}"`);
}

/** `Content-MD5` of an attachment sent as stored: its digest's base64 md5. */
function md5Header(digest: string): string {
  return digest.replace(/^md5-/, '');
}

/**
 * `Accept-Encoding` takes gzip (mochiweb's accepted_encodings: listed, or `*`, with a q above 0;
 * no header means identity only).
 */
export function acceptsGzip(header: string): boolean {
  let gzip: number | undefined;
  let star: number | undefined;
  for (const item of header.split(',')) {
    const [coding, ...params] = item.trim().toLowerCase().split(';');
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m) q = Number(m[1]);
    }
    if (coding === 'gzip' || coding === 'x-gzip') gzip = q;
    else if (coding === '*') star = q;
  }
  return (gzip ?? star ?? 0) > 0;
}

/**
 * The document an attachment edit starts from: its current body with every attachment as a stub.
 * As chttpd_db:db_attachment_req: without a rev the edit makes a new document, so it conflicts
 * with a live one; a rev the document lacks is 409 {not_found, missing_rev} (CouchDB's answer,
 * fixture api-couchdb-2 step 63); a rev that is no longer a leaf conflicts.
 */
function baseDoc(db: Database, id: string, rev: string | undefined): ParsedDoc {
  const info = db.docInfo(id);
  if (!info) {
    if (rev !== undefined) throw new CouchError('conflict');
    return { deleted: false, json: '{}', body: {} };
  }
  if (rev === undefined) {
    if (!info.deleted) throw new CouchError('conflict');
    return { deleted: false, json: '{}', body: {} };
  }
  const current = rev;
  const parsed = parseRev(current);
  const node = parsed ? findRev(info.tree, parsed) : null;
  if (!node) throw Object.assign(new CouchError('conflict'), { error: 'not_found', reason: 'missing_rev' });
  if (!node.isLeaf) throw new CouchError('conflict');
  const body = db.body(id, current);
  const json = body?.json ?? '{}';
  return { rev: current, deleted: false, json, body: JSON.parse(json) as Record<string, unknown>, attachments: stubInputs(body?.atts) };
}

async function putAttachment(ctx: Context, s: Services, rawId: string, name: string): Promise<void> {
  const db = openDb(s, ctx);
  const id = validateDocId(rawId);
  validateAttachmentName(name);
  checkDocWrite(db, ctx, id);
  const rev = requestRev(ctx, undefined);
  // A gzip body is kept as it came and stored compressed, as CouchDB's attachment PUT does
  // (chttpd_db reads it without chttpd:maybe_decompress; couch_db:with_stream keeps its encoding).
  const coding = (ctx.get('content-encoding') || '').trim().toLowerCase();
  const gzipped = coding === 'gzip' || coding === 'x-gzip';
  const bytes = await readRaw(ctx, { maxRequestBytes: s.limits.maxAttachmentBytes, maxJsonDepth: 0 }, true).catch((e: unknown) => {
    if (e instanceof CouchError && e.error === 'too_large') throw new CouchError('attachment_too_large', name);
    throw e;
  });
  const doc = baseDoc(db, id, rev);
  const contentType = ctx.get('content-type') || 'application/octet-stream';
  validateContentType(contentType, name);
  const others = (doc.attachments ?? []).filter((a) => a.name !== name);
  // Its `length` is the decompressed length (CouchDB shows the compressed one for such an upload;
  // Chaise keeps `length` the attachment's own size, which ranges and clients rely on).
  const form = gzipped ? encodedForm(bytes, name, s.limits.maxAttachmentBytes) : storedForm(bytes, contentType);
  const sentMd5 = ctx.get('content-md5');
  if (sentMd5 !== '') checkContentMd5(sentMd5, gzipped ? gunzipSync(bytes) : bytes);
  // The new attachment first, then the others (chttpd_db: `NewAtt ++ OtherAtts`): the revision's
  // attachment order is part of its hash, and of the order GET lists them in.
  doc.attachments = [{ kind: 'data', name, contentType, ...form }, ...others];
  const [r] = await writeDocs(s, ctx, db, [{ id, doc }], true);
  throwEditError(r as EditResult);
  const newRev = (r as { rev: string }).rev;
  ctx.set('Location', location(ctx, db.name, id) + '/' + encodeURIComponent(name));
  ctx.set('ETag', `"${newRev}"`);
  // chttpd_db:db_attachment_req: 202 when `w` asks for more copies than were made (a DELETE is 200 regardless).
  send(ctx, writeStatus(ctx, 201), { ok: true, id, rev: newRev });
}

/**
 * couch_db:with_stream checks a `Content-MD5` the client sent against the md5 of the bytes it
 * stored (identity form): a mismatch is 400 content_md5_mismatch (couch_util:check_md5).
 */
function checkContentMd5(sent: string, identity: Buffer): void {
  if (createHash('md5').update(identity).digest('base64') !== sent.trim()) throw new CouchError('content_md5_mismatch');
}

async function deleteAttachment(ctx: Context, s: Services, rawId: string, name: string): Promise<void> {
  const db = openDb(s, ctx);
  const id = validateDocId(rawId);
  checkDocWrite(db, ctx, id);
  const rev = requestRev(ctx, undefined);
  if (rev === undefined) throw new CouchError('conflict');
  const doc = baseDoc(db, id, rev);
  if (!(doc.attachments ?? []).some((a) => a.name === name)) throw new CouchError('not_found', 'Document is missing attachment');
  doc.attachments = (doc.attachments ?? []).filter((a) => a.name !== name);
  const [r] = await writeDocs(s, ctx, db, [{ id, doc }], true);
  throwEditError(r as EditResult);
  const newRev = (r as { rev: string }).rev;
  ctx.set('ETag', `"${newRev}"`);
  send(ctx, 200, { ok: true, id, rev: newRev });
}
