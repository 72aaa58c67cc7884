// Design functions that answer HTTP themselves: `_show`, `_list` and `_update` (CouchDB's
// couch_mrview_show.erl and chttpd_external.erl). The code runs in the views/ sandbox; CouchDB's
// `req` object, the answers and the list's streaming come from views/render (shared with the
// lounge); this file feeds them the node's documents and views, and writes what an update
// returns through the same guards as any write.

import type Router from '@koa/router';
import type { Context } from 'koa';
import { arrayCursor, docFromUpdate, makeEtag, requestFacts, requestObject, sendExternal, streamList, type DesignDoc, type RowCursor } from '../../../views/index.js';
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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The request body as text, read once (an update function and its form share it). */
async function bodyText(ctx: Context, s: Services): Promise<string | undefined> {
  if (ctx.state.renderBody !== undefined) return ctx.state.renderBody as string;
  if (ctx.method === 'GET') return undefined;
  const raw = await readRaw(ctx, s.limits);
  // The stream is spent: a handler the request is rewritten to reads these same bytes.
  ctx.state.rewrittenBody ??= raw;
  const text = raw.toString('utf8');
  ctx.state.renderBody = text;
  return text;
}

/** What design code gets as `req` (views/render/request-object.ts builds it; a rewrite may have set headers). */
export async function jsonReq(ctx: Context, s: Services, db: Database, docId: string | null, fields?: readonly string[]): Promise<Record<string, unknown>> {
  const facts = requestFacts(ctx, await bodyText(ctx, s), ctx.state.rewriteHeaders as Record<string, string> | undefined);
  return requestObject(facts, {
    info: () => dbInfo(db),
    uuid: () => newUuid(s),
    id: docId,
    userCtx: { db: db.name, name: ctx.state.user.name, roles: ctx.state.user.roles },
    secObj: () => db.security,
  }, fields);
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
  const body = docFromUpdate(newDoc);
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
  await streamList(ctx, {
    run: (io) => s.views.list(ddoc, name, cursor.head, req, io),
    rows: (maxRows) => cursor.next(maxRows),
    done: () => cursor.close(),
  });
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
