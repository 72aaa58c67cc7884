// Design functions that answer HTTP themselves: `_show`, `_list` and `_update` (CouchDB's
// couch_mrview_show.erl and chttpd_external.erl). The code runs in the views/ sandbox; this file
// builds CouchDB's `req` object, turns what the functions answer into responses, streams a list
// while it runs, and writes what an update returns through the same guards as any write.

import type Router from '@koa/router';
import type { Context } from 'koa';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { arrayCursor, couchHeaderName, makeEtag, parseExternal, safeHeader, type DesignDoc, type ListOutput, type RenderResponse, type RowCursor } from '../../../views/index.js';
import { CouchError } from '../../errors/catalog.js';
import { designDoc } from '../../design/design-docs.js';
import { docSource } from '../../design/doc-source.js';
import { validateDocId } from '../../docs/doc-id.js';
import { parseDoc } from '../../docs/parse-doc.js';
import { renderRevision } from '../../docs/read.js';
import type { Database, EditResult } from '../../storage/database.js';
import { readJson, readRaw, requireJsonType } from '../body.js';
import type { Query } from '../query.js';
import { allDocsRows } from './bulk.js';
import { dbInfo } from './database.js';
import { checkDocWrite, openDb, throwEditError } from './documents.js';
import { newUuid } from './server.js';
import type { Services } from '../services.js';
import { writeDocs } from '../write.js';

/** Query parameters CouchDB decodes from JSON before design code sees them (json_query_keys). */
const JSON_QUERY_KEYS = new Set(['startkey', 'endkey', 'key', 'descending']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The request's path as CouchDB's path_parts: decoded segments. */
function pathParts(path: string): string[] {
  return path
    .split('/')
    .filter((p) => p !== '')
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
}

function queryObject(ctx: Context): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(ctx.querystring)) {
    if (JSON_QUERY_KEYS.has(k)) {
      try {
        out[k] = JSON.parse(v);
        continue;
      } catch {
        // CouchDB would refuse the request; the raw text is the closest thing to show.
      }
    }
    out[k] = v;
  }
  return out;
}

function headersObject(ctx: Context): Record<string, string> {
  const out: Record<string, string> = {};
  const raw = ctx.req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    out[couchHeaderName(name)] = raw[i + 1] as string;
  }
  // A rewrite may have set headers of its own.
  const extra = ctx.state.rewriteHeaders as Record<string, string> | undefined;
  if (extra) for (const [k, v] of Object.entries(extra)) out[couchHeaderName(k)] = v;
  return out;
}

function cookies(ctx: Context): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (ctx.get('cookie') || '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const k = part.slice(0, eq).trim();
    let v = part.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    out[k] = v;
  }
  return out;
}

/** The request body as text, read once (an update function and its form share it). */
async function bodyText(ctx: Context, s: Services): Promise<string | undefined> {
  if (ctx.state.renderBody !== undefined) return ctx.state.renderBody as string;
  if (ctx.method === 'GET') return undefined;
  const text = (await readRaw(ctx, s.limits)).toString('utf8');
  ctx.state.renderBody = text;
  return text;
}

/**
 * CouchDB's `req` object (chttpd_external:json_req_obj): every field a show, list or update
 * function reads. `body` is the string "undefined" for a GET, as CouchDB sends it.
 */
export async function jsonReq(ctx: Context, s: Services, db: Database, docId: string | null, fields?: readonly string[]): Promise<Record<string, unknown>> {
  const body = await bodyText(ctx, s);
  const want = (f: string) => fields === undefined || fields.includes(f);
  const req: Record<string, unknown> = {};
  if (want('info')) req.info = dbInfo(db);
  if (want('uuid')) req.uuid = newUuid();
  if (want('id')) req.id = docId;
  req.method = ctx.method;
  req.requested_path = (ctx.state.requestedPath as string[] | undefined) ?? pathParts(ctx.path);
  req.path = pathParts(ctx.path);
  req.raw_path = ctx.url;
  req.query = queryObject(ctx);
  req.headers = headersObject(ctx);
  req.body = body === undefined ? 'undefined' : body;
  req.peer = ctx.req.socket?.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1';
  if (want('form')) {
    const form: Record<string, string> = {};
    if ((ctx.method === 'POST' || ctx.method === 'PUT') && /^application\/x-www-form-urlencoded/i.test(ctx.get('content-type')) && body) {
      for (const [k, v] of new URLSearchParams(body)) form[k] = v;
    }
    req.form = form;
  }
  req.cookie = cookies(ctx);
  req.userCtx = { db: db.name, name: ctx.state.user.name, roles: ctx.state.user.roles };
  req.secObj = db.security;
  return req;
}

function designOf(db: Database, name: string): DesignDoc {
  const ddoc = designDoc(db, name);
  if (!ddoc) throw new CouchError('not_found', 'missing');
  return ddoc;
}

/** The document as design code gets it: with `_revisions` and `_conflicts` (couch_query_servers:json_doc). */
function docForCode(db: Database, id: string): Record<string, unknown> | null {
  const info = db.docInfo(id);
  if (!info || info.deleted) return null;
  const text = renderRevision(db, id, info, info.rev, { revs: true, conflicts: true });
  return text === undefined ? null : (JSON.parse(text) as Record<string, unknown>);
}

function sendExternal(ctx: Context, resp: RenderResponse, extraHeaders: [string, string][] = []): void {
  const ext = parseExternal(resp, extraHeaders);
  ctx.status = ext.code;
  for (const [h, v] of ext.headers) if (safeHeader(h, v)) ctx.set(h, v);
  if (ext.hasJson) {
    ctx.set('Cache-Control', 'must-revalidate');
    ctx.body = JSON.stringify(ext.json ?? null) + '\n';
  } else {
    ctx.body = ext.data;
  }
}

// ---- _show ----------------------------------------------------------------------------------

async function show(ctx: Context, s: Services, docId: string | null): Promise<void> {
  const db = openDb(s, ctx);
  const ddoc = designOf(db, ctx.params.ddoc as string);
  const name = ctx.params.func as string;
  const doc = docId === null ? null : docForCode(db, docId);
  const user = ctx.state.user as { name: string | null; roles: string[] };
  const etag = makeEtag([ddoc._rev, doc?._rev ?? null, ctx.get('accept') || null, [user.name, user.roles]]);
  if (ctx.get('if-none-match') === etag) {
    ctx.status = 304;
    ctx.set('ETag', etag);
    return;
  }
  const req = await jsonReq(ctx, s, db, docId);
  const resp = await s.views.show(ddoc, name, doc, req);
  sendExternal(ctx, resp, [
    ['ETag', etag],
    ['Vary', 'Accept'],
  ]);
}

// ---- _update --------------------------------------------------------------------------------

function urlEncode(id: string): string {
  return encodeURIComponent(id).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

async function update(ctx: Context, s: Services, docId: string | null): Promise<void> {
  const db = openDb(s, ctx);
  const ddoc = designOf(db, ctx.params.ddoc as string);
  const name = ctx.params.func as string;
  const doc = docId === null ? null : docForCode(db, docId);
  const req = await jsonReq(ctx, s, db, docId);
  const [newDoc, resp] = await s.views.update(ddoc, name, doc, req);
  if (newDoc === null) return sendExternal(ctx, { code: 200, ...resp });
  const body: Record<string, unknown> = { ...newDoc };
  // The doc came with its history (`_revisions`); the edit is of its `_rev`.
  if (isObject(body._revisions)) {
    const revs = body._revisions as { start?: unknown; ids?: unknown };
    if (body._rev === undefined && typeof revs.start === 'number' && Array.isArray(revs.ids) && typeof revs.ids[0] === 'string') {
      body._rev = `${revs.start}-${revs.ids[0]}`;
    }
    delete body._revisions;
  }
  delete body._conflicts;
  const id = validateDocId(body._id ?? '');
  const parsed = parseDoc(body);
  if (parsed.json.length > s.limits.maxDocumentBytes) throw new CouchError('document_too_large', id);
  checkDocWrite(db, ctx, id);
  const [r] = await writeDocs(s, ctx, db, [{ id, doc: parsed }], true);
  throwEditError(r as EditResult);
  const newRev = (r as { rev: string }).rev;
  sendExternal(ctx, { code: 201, ...resp }, [
    ['X-Couch-Update-NewRev', newRev],
    ['X-Couch-Id', urlEncode(id)],
  ]);
}

// ---- _list ----------------------------------------------------------------------------------

/** The rows a list reads: a view of this or another design doc, or `_all_docs`. */
async function listRows(ctx: Context, s: Services, db: Database, ddoc: DesignDoc, viewDdoc: string | null, view: string, keys: unknown): Promise<RowCursor> {
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.query)) if (v !== undefined) query[k] = Array.isArray(v) ? (v[v.length - 1] as string) : v;
  if (view === '_all_docs') {
    const q: Query = { ...(ctx.query as Query) };
    return arrayCursor(allDocsRows(db, q, keys === undefined ? undefined : (keys as unknown[])));
  }
  const vddoc = viewDdoc === null ? ddoc : designOf(db, viewDdoc);
  return s.views.openViewCursor(docSource(db), vddoc, view, query, keys === undefined ? undefined : { keys });
}

async function list(ctx: Context, s: Services, viewDdoc: string | null): Promise<void> {
  const db = openDb(s, ctx);
  const ddoc = designOf(db, ctx.params.ddoc as string);
  const name = ctx.params.func as string;
  let keys: unknown;
  if (ctx.method === 'POST') {
    requireJsonType(ctx);
    const body = await readJson(ctx, s.limits);
    if (isObject(body)) keys = body.keys;
    ctx.state.renderBody = JSON.stringify(body);
  }
  const cursor = await listRows(ctx, s, db, ddoc, viewDdoc, ctx.params.view as string, keys);
  let req: Record<string, unknown>;
  try {
    req = await jsonReq(ctx, s, db, null);
  } catch (e) {
    cursor.close();
    throw e;
  }

  // The response starts at the list's first output, with the head it has set by then (CouchDB's
  // send_non_empty_chunk), so start() after getRow() still decides the status and headers.
  const out = new PassThrough();
  let head: RenderResponse = {};
  let started = false;
  let gone = false;
  const markGone = () => {
    if (!ctx.res.writableFinished) gone = true;
  };
  out.on('close', markGone);
  ctx.res.on('close', markGone);
  let headStarted: () => void = () => undefined;
  const headReady = new Promise<void>((resolve) => (headStarted = resolve));
  const begin = (code?: number) => {
    started = true;
    const ext = parseExternal(head);
    ctx.status = code ?? ext.code;
    if (code === undefined) for (const [h, v] of ext.headers) if (safeHeader(h, v)) ctx.set(h, v);
    ctx.body = out;
    headStarted();
  };
  const write = async (chunk: string) => {
    if (chunk === '' || gone) return;
    if (!started) begin();
    if (!out.write(chunk)) await Promise.race([once(out, 'drain'), once(out, 'close')]);
  };
  const io = {
    pull: async (o: ListOutput, maxRows: number): Promise<unknown[] | 'stop'> => {
      if (o.start !== undefined) head = o.start;
      await write(o.chunks.join(''));
      if (gone) return 'stop';
      return maxRows > 0 ? cursor.next(maxRows) : [];
    },
  };
  const run = s.views
    .list(ddoc, name, cursor.head, req, io)
    .then(async (last) => {
      if (last.start !== undefined) head = last.start;
      await write(last.chunks.join(''));
      // Nothing was ever sent: CouchDB answers an empty 200 (last_chunk with no response).
      if (!started) begin(200);
      out.end();
    })
    .catch((e: unknown) => {
      if (!started) throw e;
      // Headers are gone: CouchDB ends the chunked body with the error (send_chunked_error).
      const err = e as { error?: string; reason?: string };
      if (!gone) out.end(JSON.stringify({ error: err.error ?? 'unknown_error', reason: err.reason ?? String(e) }) + '\n');
    })
    .finally(() => cursor.close());
  // Answer as soon as the list has output; the rest streams. A list that fails first answers its error.
  await Promise.race([headReady, run]);
}

function invalidPath(error: string, reason: string): never {
  const e = new CouchError('not_found', reason);
  Object.assign(e, { error });
  throw e;
}

export function registerDesignRender(router: Router, s: Services): void {
  const showDoc = (ctx: Context) => {
    const rest = ctx.params.docid as unknown as string | string[];
    return show(ctx, s, Array.isArray(rest) ? rest.join('/') : rest);
  };
  router.get('/:db/_design/:ddoc/_show/:func', (ctx) => show(ctx, s, null));
  router.post('/:db/_design/:ddoc/_show/:func', (ctx) => show(ctx, s, null));
  router.get('/:db/_design/:ddoc/_show/:func/*docid', showDoc);
  router.post('/:db/_design/:ddoc/_show/:func/*docid', showDoc);

  router.get('/:db/_design/:ddoc/_show', () => invalidPath('show_error', 'Invalid path.'));
  router.get('/:db/_design/:ddoc/_list/:func', () => invalidPath('list_error', 'Bad path.'));
  router.all('/:db/_design/:ddoc/_update', () => invalidPath('update_error', 'Invalid path.'));
  router.get('/:db/_design/:ddoc/_list/:func/:view', (ctx) => list(ctx, s, null));
  router.options('/:db/_design/:ddoc/_list/:func/:view', (ctx) => list(ctx, s, null));
  router.post('/:db/_design/:ddoc/_list/:func/:view', (ctx) => list(ctx, s, null));
  router.get('/:db/_design/:ddoc/_list/:func/:vddoc/:view', (ctx) => list(ctx, s, ctx.params.vddoc as string));
  router.post('/:db/_design/:ddoc/_list/:func/:vddoc/:view', (ctx) => list(ctx, s, ctx.params.vddoc as string));
  router.all('/:db/_design/:ddoc/_list/:func/:view', () => {
    throw new CouchError('method_not_allowed', 'Only GET,POST,HEAD allowed');
  });

  router.all('/:db/_design/:ddoc/_update/:func', (ctx) => update(ctx, s, null));
  router.all('/:db/_design/:ddoc/_update/:func/*docid', (ctx) => {
    const rest = ctx.params.docid as unknown as string | string[];
    return update(ctx, s, Array.isArray(rest) ? rest.join('/') : rest);
  });
}
