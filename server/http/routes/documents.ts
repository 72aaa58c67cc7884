// Document endpoints: GET/HEAD/PUT/DELETE /db/doc (design docs included), POST /db, `_local`
// docs, and `open_revs`. Handlers translate HTTP to the store and the rev tree; they hold no rules.

import type Router from '@koa/router';
import type { Context } from 'koa';
import { CouchError } from '../../errors/catalog.js';
import { docKind, validateDocId } from '../../docs/doc-id.js';
import { parseDoc, type ParsedDoc } from '../../docs/parse-doc.js';
import { renderRevision, type ReadOptions } from '../../docs/read.js';
import { renderLocal } from '../../docs/render.js';
import { latestLeaves, leaves, parseRev } from '../../revtree/index.js';
import type { Database, EditResult } from '../../storage/database.js';
import type { DocInfo } from '../../storage/records.js';
import { requireDbAdmin, requireMember } from '../../auth/access.js';
import { canAccessUserDoc, USERS_DB } from '../../auth/users.js';
import { parseJson, readJson, readRaw, requireJsonType } from '../body.js';
import { acceptsType, documentFromMultipart, followingAtts, multipartMixed, newBoundary, relatedBody, type FollowingAtt, type MixedItem } from '../multipart.js';
import type { AttStub } from '../../docs/attachments.js';
import { bool, json, str, type Query } from '../query.js';
import { RawJson, absoluteUri, makeEtag, notModifiedIfCurrent, send } from '../respond.js';
import { purgeSeq } from '../../storage/purge.js';
import type { Services } from '../services.js';
import { writeDocs, writeStatus } from '../write.js';
import { formPost } from './form-post.js';
import { newUuid } from './server.js';

const DOC_METHODS = 'DELETE,GET,HEAD,POST,PUT,COPY';

/**
 * Read options shared by GET /db/doc and `_bulk_get`. `att_encoding_info=true` adds `encoding` and
 * `encoded_length` to attachments stored compressed (docs/attachments.ts), as CouchDB does.
 */
export function readOptions(q: Query): ReadOptions {
  const meta = bool(q, 'meta');
  const opts: ReadOptions = {
    revs: bool(q, 'revs'),
    revsInfo: meta || bool(q, 'revs_info'),
    conflicts: meta || bool(q, 'conflicts'),
    deletedConflicts: meta || bool(q, 'deleted_conflicts'),
    localSeq: bool(q, 'local_seq'),
    attachments: bool(q, 'attachments'),
    attEncodingInfo: bool(q, 'att_encoding_info'),
  };
  const since = json(q, 'atts_since');
  if (since !== undefined) {
    if (!Array.isArray(since) || !since.every((r) => typeof r === 'string')) {
      throw new CouchError('bad_request', 'atts_since must be a JSON array of revisions');
    }
    opts.attsSince = since as string[];
  }
  return opts;
}

/** Opens the database named in the route and checks the caller may use it. */
export function openDb(s: Services, ctx: Context, userDoc?: { id: string; write: boolean }): Database {
  const db = s.catalog.require(ctx.params.db as string);
  // In `_users`, people reach their own document even though the database is admin-only.
  if (userDoc && db.name === USERS_DB && canAccessUserDoc(userDoc.id, ctx.state.user, userDoc.write, s.users)) return db;
  requireMember(db.security, ctx.state.user);
  return db;
}

/**
 * The ETag of a query's answer (`_all_docs`, a view): it changes whenever the database does
 * (every write moves the update seq, a purge the purge seq; a recreated database has a new
 * creation time) and differs between queries, so a client's cached copy is current exactly
 * while it would get the same answer again.
 */
export function queryEtag(db: Database, what: string, query: unknown, body: unknown): string {
  return makeEtag(db.name, db.record.created, db.updateSeq, purgeSeq(db), what, JSON.stringify(query), body === undefined ? '' : JSON.stringify(body));
}

/** Design docs may be changed only by database admins (CouchDB 3). */
export function checkDocWrite(db: Database, ctx: Context, id: string): void {
  if (docKind(id) === 'design') requireDbAdmin(db.security, ctx.state.user);
}

export function location(ctx: Context, db: string, id: string): string {
  return absoluteUri(ctx, `/${couchUrlEncode(db)}/${couchUrlEncode(id)}`);
}

/**
 * couch_util:url_encode: letters, digits and `_.-:` stay, every other UTF-8 byte becomes `%XX`
 * (so `_design/d` is `_design%2Fd` and `p:id` stays `p:id` in a `Location`).
 */
export function couchUrlEncode(s: string): string {
  if (/^[A-Za-z0-9_.:-]*$/.test(s)) return s;
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.\-:]/.test(c) ? c : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Throws the CouchError for a failed single-document edit. */
export function throwEditError(r: EditResult): asserts r is { ok: true; id: string; rev: string } | null {
  if (r && 'error' in r) {
    const e = new CouchError('bad_request', r.reason);
    Object.assign(e, { status: statusOf(r.error), error: r.error });
    throw e;
  }
}

export function statusOf(error: string): number {
  switch (error) {
    case 'conflict':
      return 409;
    case 'missing_stub':
      return 412;
    case 'forbidden':
    case 'partition_overflow':
      return 403;
    case 'unauthorized':
      return 401;
    case 'not_found':
      return 404;
    default:
      return 400;
  }
}

export function registerDocuments(router: Router, s: Services): void {
  const limits = s.limits;

  // ---- _local docs (also reached as /db/_local%2Fid through the generic route) ----------
  // chttpd_db:db_req: `/db/_local` names no document, and `_local` docs have no attachments.
  router.all('/:db/_local', () => {
    throw new CouchError('bad_request', 'Invalid _local document id.');
  });
  // `/db/_local%2F` decodes to the id `_local/`, which chttpd_db refuses the same way.
  router.all('/:db/_local%2F', () => {
    throw new CouchError('bad_request', 'Invalid _local document id.');
  });
  router.all('/:db/_local/:id/*att', () => {
    throw new CouchError('bad_request', '_local documents do not accept attachments.');
  });
  router.get('/:db/_local/:id', (ctx) => getLocal(ctx, s, '_local/' + ctx.params.id));
  router.put('/:db/_local/:id', (ctx) => putLocal(ctx, s, '_local/' + ctx.params.id));
  router.delete('/:db/_local/:id', (ctx) => deleteLocal(ctx, s, '_local/' + ctx.params.id));
  router.all('/:db/_local/:id', () => {
    throw new CouchError('method_not_allowed', 'Only DELETE,GET,HEAD,PUT,COPY allowed');
  });

  // ---- POST /db: a new document with a server-generated id unless it names one ---------
  router.post('/:db', async (ctx) => {
    const db = openDb(s, ctx);
    requireJsonType(ctx);
    const raw = await readJson(ctx, limits);
    const doc = parseDoc(raw);
    const id = doc.id === undefined ? newUuid(s) : validateDocId(doc.id);
    checkSize(doc, id, s);
    if (docKind(id) === 'local') {
      applyLocalRevisions(doc);
      const rev = await db.putLocal(id, doc);
      return send(ctx, 201, { ok: true, id, rev });
    }
    checkDocWrite(db, ctx, id);
    if (str(ctx.query as Query, 'batch') === 'ok') return batchWrite(ctx, s, db, id, doc);
    const [r] = await writeDocs(s, ctx, db, [{ id, doc }], true);
    throwEditError(r as EditResult);
    const ok = r as { id: string; rev: string };
    ctx.set('Location', location(ctx, db.name, id));
    ctx.set('ETag', `"${ok.rev}"`);
    send(ctx, writeStatus(ctx, 201), { ok: true, id, rev: ok.rev });
  });

  // ---- design docs: /db/_design/name ----------------------------------------------------
  const designId = (ctx: Context) => '_design/' + (ctx.params.ddoc as string);
  router.get('/:db/_design/:ddoc', (ctx) => getDoc(ctx, s, designId(ctx)));
  router.head('/:db/_design/:ddoc', (ctx) => getDoc(ctx, s, designId(ctx)));
  router.put('/:db/_design/:ddoc', (ctx) => putDoc(ctx, s, designId(ctx)));
  router.delete('/:db/_design/:ddoc', (ctx) => deleteDoc(ctx, s, designId(ctx)));
  router.post('/:db/_design/:ddoc', (ctx) => formPost(ctx, s, designId(ctx)));

  // ---- ordinary docs ----------------------------------------------------------------------
  router.get('/:db/:docid', (ctx) => dispatchGet(ctx, s));
  router.head('/:db/:docid', (ctx) => dispatchGet(ctx, s));
  router.put('/:db/:docid', (ctx) => {
    const id = ctx.params.docid as string;
    return docKind(id) === 'local' ? putLocal(ctx, s, id) : putDoc(ctx, s, id);
  });
  router.delete('/:db/:docid', (ctx) => {
    const id = ctx.params.docid as string;
    return docKind(id) === 'local' ? deleteLocal(ctx, s, id) : deleteDoc(ctx, s, id);
  });
  router.post('/:db/:docid', (ctx) => formPost(ctx, s, ctx.params.docid as string));
  router.all('/:db/:docid', () => {
    throw new CouchError('method_not_allowed', `Only ${DOC_METHODS} allowed`);
  });
}

function dispatchGet(ctx: Context, s: Services): void {
  const id = ctx.params.docid as string;
  if (docKind(id) === 'local') return getLocal(ctx, s, id);
  return getDoc(ctx, s, id);
}

function checkSize(doc: ParsedDoc, id: string, s: Services): void {
  if (doc.json.length > s.limits.maxDocumentBytes) throw new CouchError('document_too_large', id);
}

// ---- GET ------------------------------------------------------------------------------------

function getDoc(ctx: Context, s: Services, id: string): void {
  const db = openDb(s, ctx, { id, write: false });
  const q = ctx.query as Query;
  const info = db.docInfo(id);
  const opts = readOptions(q);
  const openRevs = str(q, 'open_revs');
  if (openRevs !== undefined) return getOpenRevs(ctx, db, id, info, openRevs, opts, bool(q, 'latest'));
  if (!info) throw new CouchError('not_found', 'missing');
  let rev = str(q, 'rev');
  if (rev !== undefined) {
    const parsed = parseRev(rev);
    if (!parsed) throw new CouchError('invalid_rev');
    if (bool(q, 'latest')) {
      const found = latestLeaves(info.tree, parsed);
      if (found.length > 0) rev = (found[0] as { rev: string }).rev;
    }
  } else {
    if (info.deleted) throw new CouchError('not_found', 'deleted');
    rev = info.rev;
  }
  const etag = `"${rev}"`;
  if (notModifiedIfCurrent(ctx, etag)) return;
  // chttpd_db:send_doc_efficiently: attachments with their data, to a client that accepts
  // multipart/related, go as parts of their own, as stored (gzip ones with Content-Encoding).
  if ((opts.attachments || opts.attsSince) && acceptsType(ctx.get('accept'), 'multipart/related')) {
    const follows: FollowingAtt[] = [];
    const text = renderRevision(db, id, info, rev, { ...opts, attEncodingInfo: true, follow: followingAtts(db, follows) });
    if (text === undefined) throw new CouchError('not_found', 'missing');
    if (follows.length > 0) {
      const mp = relatedBody(text, follows, newBoundary());
      ctx.status = 200;
      ctx.set('ETag', etag);
      ctx.set('Content-Type', mp.contentType);
      ctx.body = mp.body;
      return;
    }
  }
  const text = renderRevision(db, id, info, rev, opts);
  if (text === undefined) throw new CouchError('not_found', 'missing');
  send(ctx, 200, new RawJson(text));
}

function getOpenRevs(ctx: Context, db: Database, id: string, info: DocInfo | undefined, param: string, opts: ReadOptions, latest: boolean): void {
  let wanted: string[];
  if (param === 'all') {
    if (!info) throw new CouchError('not_found', 'missing');
    // CouchDB lists the leaves in rev order, not winner first.
    wanted = leaves(info.tree)
      .sort((a, b) => a.pos - b.pos || (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0))
      .map((l) => l.rev);
  } else {
    let list: unknown;
    try {
      list = JSON.parse(param);
    } catch {
      throw new CouchError('bad_request', 'Invalid JSON in the open_revs parameter');
    }
    if (!Array.isArray(list) || !list.every((r) => typeof r === 'string')) {
      throw new CouchError('bad_request', 'open_revs must be "all" or a JSON array of revisions');
    }
    wanted = list as string[];
  }
  // CouchDB's replicator asks for multipart/mixed (chttpd_db:send_docs_multipart): every
  // revision with all its attachments' data, each one with attachments a multipart/related part.
  const mixed = /multipart\/mixed/i.test(ctx.get('accept')) && !/application\/json/i.test(ctx.get('accept'));
  const parts: string[] = [];
  const items: MixedItem[] = [];
  const seen = new Set<string>();
  for (const rev of wanted) {
    const parsed = parseRev(rev);
    if (!parsed) throw new CouchError('invalid_rev');
    let revs = [rev];
    if (latest && info) {
      const found = latestLeaves(info.tree, parsed);
      if (found.length > 0) revs = found.map((l) => l.rev);
    }
    for (const r of revs) {
      if (seen.has(r)) continue;
      seen.add(r);
      if (mixed) {
        // Here CouchDB applies no atts_since: every attachment's data is sent.
        const { attsSince: _since, ...rest } = opts;
        void _since;
        const atts: FollowingAtt[] = [];
        const text = info ? renderRevision(db, id, info, r, { ...rest, attachments: true, attEncodingInfo: true, follow: followingAtts(db, atts) }) : undefined;
        items.push(text === undefined ? { missing: r } : { ok: text, atts });
        continue;
      }
      const text = info ? renderRevision(db, id, info, r, opts) : undefined;
      parts.push(text === undefined ? JSON.stringify({ missing: r }) : '{"ok":' + text + '}');
    }
  }
  if (mixed) {
    const mp = multipartMixed(items);
    ctx.status = 200;
    ctx.set('Content-Type', mp.contentType);
    ctx.body = mp.body;
    return;
  }
  send(ctx, 200, new RawJson('[' + parts.join(',') + ']'));
}

// ---- PUT / DELETE ---------------------------------------------------------------------------

async function putDoc(ctx: Context, s: Services, rawId: string): Promise<void> {
  const db = openDb(s, ctx, { id: rawId, write: true });
  const id = validateDocId(rawId);
  checkDocWrite(db, ctx, id);
  const q = ctx.query as Query;
  const ctype = ctx.get('content-type') || '';
  const doc = /^multipart\/related/i.test(ctype)
    ? parseDoc(documentFromMultipart(await readRaw(ctx, s.limits), ctype, (b) => parseJson(b, s.limits.maxJsonDepth)))
    : parseDoc(await readJson(ctx, s.limits));
  if (doc.id !== undefined && doc.id !== id) {
    // CouchDB lets the URL win; the body's _id is ignored.
  }
  checkSize(doc, id, s);
  const rev = requestRev(ctx, doc.rev);
  if (rev !== undefined) doc.rev = rev;
  const newEdits = bool(q, 'new_edits', true);
  if (!newEdits && doc.rev === undefined && doc.revisions === undefined) {
    throw new CouchError('bad_request', 'When `new_edits: false`, the document needs `_rev` or `_revisions` specified');
  }
  if (str(q, 'batch') === 'ok' && !/^multipart\/related/i.test(ctype)) return batchWrite(ctx, s, db, id, doc, newEdits);
  const [r] = await writeDocs(s, ctx, db, [{ id, doc }], newEdits);
  throwEditError(r as EditResult);
  // A replicated edit names its rev: `_revisions` wins over `_rev`, as in CouchDB.
  const newRev = r ? r.rev : doc.revisions ? `${doc.revisions.start}-${doc.revisions.ids[0] as string}` : (doc.rev as string);
  ctx.set('Location', location(ctx, db.name, id));
  ctx.set('ETag', `"${newRev}"`);
  send(ctx, writeStatus(ctx, 201), { ok: true, id, rev: newRev });
}

/**
 * `batch=ok`: CouchDB answers 202 `{"ok":true,"id":…}` at once and applies the write in the
 * background, dropping it silently if it fails (a conflict, a validate_doc_update refusal). Here
 * the write is applied before the answer (a client reading right after sees it), and its outcome
 * is dropped the same way; only a malformed request is refused.
 */
async function batchWrite(ctx: Context, s: Services, db: Database, id: string, doc: ParsedDoc, newEdits = true): Promise<void> {
  await writeDocs(s, ctx, db, [{ id, doc }], newEdits).catch(() => undefined);
  send(ctx, 202, { ok: true, id });
}

async function deleteDoc(ctx: Context, s: Services, rawId: string): Promise<void> {
  const db = openDb(s, ctx, { id: rawId, write: true });
  const id = validateDocId(rawId);
  checkDocWrite(db, ctx, id);
  const rev = requestRev(ctx, undefined);
  // CouchDB looks the document up first: deleting what is not there is a 404, not a tombstone.
  const info = db.docInfo(id);
  if (!info) throw new CouchError('not_found', 'missing');
  if (info.deleted) throw new CouchError('not_found', 'deleted');
  const doc: ParsedDoc = { deleted: true, json: '{}', body: {} };
  if (rev !== undefined) doc.rev = rev;
  const [r] = await writeDocs(s, ctx, db, [{ id, doc }], true);
  throwEditError(r as EditResult);
  const newRev = (r as { rev: string }).rev;
  ctx.set('ETag', `"${newRev}"`);
  send(ctx, writeStatus(ctx, 200), { ok: true, id, rev: newRev });
}

/**
 * The revision a write names, from `?rev=`, `If-Match` or the body's `_rev`; they must agree
 * (chttpd_db's couch_doc_open checks, with CouchDB's messages).
 */
export function requestRev(ctx: Context, bodyRev: string | undefined): string | undefined {
  const query = str(ctx.query as Query, 'rev');
  const h = ctx.get('if-match');
  const etag = h ? h.replace(/^"|"$/g, '') : undefined;
  if (query !== undefined && bodyRev !== undefined && query !== bodyRev) {
    throw new CouchError('bad_request', 'Document rev from request body and query string have different values');
  }
  const explicit = query ?? bodyRev;
  if (etag !== undefined && explicit !== undefined && etag !== explicit) {
    throw new CouchError('bad_request', 'Document rev and etag have different values');
  }
  return explicit ?? etag;
}

// ---- _local ---------------------------------------------------------------------------------

/**
 * A `_local` doc has no revision history; couch_doc:transfer_fields still reads `_revisions`, and
 * it wins over `_rev` (`{Start, Ids}` replaces the revs `_rev` set). The local-doc update code then
 * takes `{0, [N | _]}` as the previous rev `0-N`; any other shape fails with "Invalid rev format"
 * (500 in CouchDB 3.5; Chaise answers the matching 400 with the same reason, a DEVIATIONS entry in
 * the fixture replay). PouchDB puts back a `_local` doc it read with `_revisions: {start: 0, ids: ['1']}`.
 */
export function applyLocalRevisions(doc: ParsedDoc): void {
  const revs = doc.revisions;
  if (revs === undefined) return;
  const [head] = revs.ids;
  if (head === undefined && revs.start === 0) return;
  if (revs.start !== 0 || head === undefined || !/^\d+$/.test(head)) throw new CouchError('invalid_rev');
  doc.rev = `0-${head}`;
}

function getLocal(ctx: Context, s: Services, id: string): void {
  const db = openDb(s, ctx);
  const doc = db.localDoc(id);
  if (!doc) throw new CouchError('not_found', 'missing');
  send(ctx, 200, new RawJson(renderLocal(id, doc.rev, doc.json)));
}

async function putLocal(ctx: Context, s: Services, id: string): Promise<void> {
  const db = openDb(s, ctx);
  validateDocId(id);
  const raw = await readJson(ctx, s.limits);
  const doc = parseDoc(raw, true);
  applyLocalRevisions(doc);
  const rev = str(ctx.query as Query, 'rev');
  if (rev !== undefined && doc.rev === undefined) doc.rev = rev;
  checkSize(doc, id, s);
  const newRev = await db.putLocal(id, doc);
  ctx.set('Location', location(ctx, db.name, id));
  send(ctx, 201, { ok: true, id, rev: newRev });
}

async function deleteLocal(ctx: Context, s: Services, id: string): Promise<void> {
  const db = openDb(s, ctx);
  if (!(await db.deleteLocal(id))) throw new CouchError('not_found', 'missing');
  send(ctx, 200, { ok: true, id, rev: '0-0' });
}

