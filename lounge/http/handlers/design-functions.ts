// `_show`, `_list`, `_update` and `_rewrite` through the lounge. The design code runs here, in
// the lounge's own sandboxes (views/), over what the cluster holds: a show reads its document
// from the document's range; an update reads it there and writes what the function returns
// through the lounge's writer (leader, then copies, like any write); a list runs over the merged
// view (or `_all_docs`), pulling merged rows as it asks for them and streaming its output; a
// rewrite is resolved here and the new request is dispatched again through the lounge.
// `_search`/`_nouveau` stay 501 (no search index in Chaise).

import {
  applyRules,
  checkField,
  checkLanguage,
  docFromUpdate,
  makeEtag,
  normalizePath,
  pathParts,
  requestFacts,
  requestObject,
  REWRITE_LIMIT,
  rewriteError,
  rewritePrefix,
  sendExternal,
  streamList,
  stringMap,
  textOf,
  type DesignDoc,
} from '../../../views/index.js';
import type { Handler, Req } from '../app.js';
import type { Route } from '../route-path.js';
import { isDbAdmin } from '../../auth/access.js';
import { dbInfo } from '../../db/lifecycle.js';
import { badRequest, LoungeError, methodNotAllowed } from '../../errors/lounge-error.js';
import { allDocs } from '../../reads/all-docs.js';
import { dbPath, docPath, UpstreamError } from '../../upstream/node-client.js';
import { queryView } from '../../view-query/view-query.js';
import { newDocId } from '../../writes/doc-writer.js';
import { readJsonObject, readRaw, requireJsonType } from '../body.js';
import { send } from '../respond.js';

type FnReq = Req<Extract<Route, { kind: 'designFunction' }>>;

/** Re-dispatches a rewritten request through the lounge (set by app.ts, which owns dispatch). */
let redispatch: ((req: Req) => Promise<void>) | undefined;
export function setRedispatch(fn: (req: Req) => Promise<void>): void {
  redispatch = fn;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function bodyText(req: FnReq): Promise<string | undefined> {
  const { ctx } = req;
  if (ctx.state.renderBody !== undefined) return ctx.state.renderBody as string;
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return undefined;
  const text = (await readRaw(ctx)).toString('utf8');
  ctx.state.renderBody = text;
  return text;
}

/** CouchDB's `req` object, as the lounge sees the request (the database is the clustered one). */
async function jsonReq(req: FnReq, docId: string | null, fields?: readonly string[]): Promise<Record<string, unknown>> {
  const { ctx, lounge, user, route } = req;
  const facts = requestFacts(ctx, await bodyText(req));
  return requestObject(facts, {
    info: () => dbInfo(lounge, route.db),
    uuid: newDocId,
    id: docId,
    userCtx: { db: route.db, name: user.name, roles: user.roles },
    secObj: () => lounge.security.get(route.db),
  }, fields);
}

async function designOf(req: FnReq, name = req.route.ddoc): Promise<DesignDoc> {
  const ddoc = (await req.lounge.designs.get(req.route.db, name)) as DesignDoc;
  checkLanguage(ddoc);
  return ddoc;
}

/** A document as design code gets it (with `_revisions` and `_conflicts`), or null. */
async function docForCode(req: FnReq, docId: string): Promise<Record<string, unknown> | null> {
  const { lounge, route } = req;
  const range = lounge.map.rangeOf(docId);
  try {
    const { body } = await lounge.reader.json<Record<string, unknown>>(route.db, range, () => ({
      method: 'GET',
      path: `${dbPath(lounge.map.shardName(range, route.db))}/${docPath(docId)}?revs=true&conflicts=true`,
    }));
    return body;
  } catch (e) {
    if (e instanceof UpstreamError && e.status === 404) return null;
    throw e;
  }
}

function requireFunction(ddoc: DesignDoc, kind: 'shows' | 'updates', name: string): void {
  const fns = ddoc[kind];
  if (!isObject(fns)) throw new LoungeError(404, 'not_found', `missing json key: ${kind}`);
  if (typeof fns[name] !== 'string') throw new LoungeError(404, 'not_found', `missing json key: ${name}`);
}

function invalidPath(error: string, reason: string): never {
  throw new LoungeError(404, error, reason);
}

// ---- _show ----------------------------------------------------------------------------------

async function show(req: FnReq): Promise<void> {
  const { ctx, lounge, user, route } = req;
  if (ctx.method !== 'GET' && ctx.method !== 'POST' && ctx.method !== 'HEAD') throw methodNotAllowed('GET,POST,HEAD');
  const [name, ...rest] = route.rest;
  if (name === undefined || name === '') invalidPath('show_error', 'Invalid path.');
  const docId = rest.length > 0 ? rest.join('/') : null;
  const ddoc = await designOf(req);
  requireFunction(ddoc, 'shows', name);
  const doc = docId === null ? null : await docForCode(req, docId);
  const etag = makeEtag([ddoc._rev, doc?._rev ?? null, ctx.get('accept') || null, [user.name, user.roles]]);
  if (ctx.get('if-none-match') === etag) {
    ctx.status = 304;
    ctx.set('ETag', etag);
    return;
  }
  const resp = await lounge.sandboxes.get(ddoc, 'render').show(name, doc, await jsonReq(req, docId));
  sendExternal(req.ctx, resp, [
    ['ETag', etag],
    ['Vary', 'Accept'],
  ]);
}

// ---- _update --------------------------------------------------------------------------------

async function update(req: FnReq): Promise<void> {
  const { lounge, user, route } = req;
  const [name, ...rest] = route.rest;
  if (name === undefined || name === '') invalidPath('update_error', 'Invalid path.');
  const docId = rest.length > 0 ? rest.join('/') : null;
  const ddoc = await designOf(req);
  requireFunction(ddoc, 'updates', name);
  const doc = docId === null ? null : await docForCode(req, docId);
  const [newDoc, resp] = await lounge.sandboxes.get(ddoc, 'render').update(name, doc, await jsonReq(req, docId));
  if (newDoc === null) return sendExternal(req.ctx, { code: 200, ...resp });
  const body = docFromUpdate(newDoc);
  const id = body._id;
  if (typeof id !== 'string') throw new LoungeError(400, 'illegal_docid', id === undefined ? 'Document id must not be empty' : 'Document id must be a string');
  if (id === '') throw new LoungeError(400, 'illegal_docid', 'Document id must not be empty');
  if (id.startsWith('_') && !id.startsWith('_design/')) throw new LoungeError(400, 'illegal_docid', 'Only reserved document ids may start with underscore.');
  if (id.startsWith('_design/') && !isDbAdmin(user, await lounge.security.get(route.db))) {
    throw new LoungeError(403, 'forbidden', 'You are not a db or server admin.');
  }
  const payload = Buffer.from(JSON.stringify(body));
  const outcome = await lounge.writer.write({
    db: route.db,
    docId: id,
    method: 'PUT',
    subPath: docPath(id),
    search: '',
    headers: { 'content-type': 'application/json' },
    body: payload,
    json: body,
    parentRev: typeof body._rev === 'string' ? body._rev : undefined,
    attachment: false,
    replicated: false,
  });
  if (id.startsWith('_design/')) lounge.designWritten(route.db, id);
  const rev = String(outcome.body.rev);
  sendExternal(req.ctx, { code: outcome.status === 202 ? 202 : 201, ...resp }, [
    ['X-Couch-Update-NewRev', rev],
    ['X-Couch-Id', encodeURIComponent(id)],
  ]);
}

// ---- _list ----------------------------------------------------------------------------------

async function list(req: FnReq): Promise<void> {
  const { ctx, lounge, route } = req;
  if (route.rest.length < 2 || route.rest.length > 3) invalidPath('list_error', 'Bad path.');
  const [name, a, b] = route.rest as [string, string, string | undefined];
  const vddocName = b === undefined ? route.ddoc : a;
  const view = b === undefined ? a : b;
  const q = new URLSearchParams(ctx.querystring);
  let keys: unknown[] | undefined;
  if (ctx.method === 'POST') {
    requireJsonType(ctx);
    const body = await readJsonObject(ctx);
    if (body.keys !== undefined) {
      if (!Array.isArray(body.keys)) throw new LoungeError(400, 'query_parse_error', '`keys` member must be an array.');
      keys = body.keys;
    }
    ctx.state.renderBody = JSON.stringify(body);
  } else if (ctx.method !== 'GET' && ctx.method !== 'HEAD' && ctx.method !== 'OPTIONS') throw methodNotAllowed('GET,POST,HEAD');
  const ddoc = await designOf(req);
  if (vddocName !== route.ddoc) await designOf(req, vddocName);
  const answer = view === '_all_docs' ? await allDocs(lounge, route.db, '_all_docs', q, keys) : await queryView(lounge, { db: route.db, ddoc: vddocName, view, q, keys });
  // The merged answer's head is `{…,"rows":[`: the list's head is its members.
  const head = JSON.parse(answer.head.replace(/"rows":\[\s*$/, '').replace(/,\s*$/, '') + '}') as Record<string, unknown>;
  const rows = answer.rows[Symbol.asyncIterator]();
  const jsReq = await jsonReq(req, null);

  const { sandbox, release } = lounge.sandboxes.lease(ddoc);
  await streamList(ctx, {
    run: (io) => sandbox.list(name, head, jsReq, io),
    rows: async (maxRows) => {
      const page: unknown[] = [];
      while (page.length < maxRows) {
        const next = await rows.next();
        if (next.done) break;
        page.push(JSON.parse(next.value));
      }
      return page;
    },
    done: () => {
      release();
      void rows.return?.();
    },
  });
}

// ---- _rewrite -------------------------------------------------------------------------------

async function rewrite(req: FnReq): Promise<void> {
  const { ctx, lounge, route } = req;
  const count = (ctx.state.rewriteCount as number | undefined) ?? 0;
  if (count >= REWRITE_LIMIT) throw badRequest('Exceeded rewrite recursion limit');
  ctx.state.rewriteCount = count + 1;
  const ddoc = (await lounge.designs.get(route.db, route.ddoc)) as DesignDoc;
  const prefix = rewritePrefix(route.db, route.ddoc);
  const rules = ddoc.rewrites;
  let target: string;
  let method = ctx.method;
  if (Array.isArray(rules)) {
    const found = applyRules(rules, { method: ctx.method, querystring: ctx.querystring, parts: route.rest, prefix });
    if (found === null) throw new LoungeError(404, 'not_found', 'missing');
    target = found;
  } else if (typeof rules === 'string') {
    checkLanguage(ddoc);
    const out = await lounge.sandboxes.get(ddoc, 'render').rewrite(await jsonReq(req, null, ['method']));
    if (out === null) return send(ctx, 404, { error: 'rewrite_error', reason: 'Invalid path.' });
    if (isObject(out.thrown)) {
      if (out.thrown.forbidden !== undefined) throw rewriteError(403, 'forbidden', textOf(out.thrown.forbidden));
      throw rewriteError(401, 'unauthorized', textOf(out.thrown.unauthorized));
    }
    if (out.method !== undefined) checkField(typeof out.method === 'string', 'bad method');
    if (out.path !== undefined) checkField(typeof out.path === 'string', 'bad path');
    if (out.body !== undefined) checkField(typeof out.body === 'string', 'bad body');
    const headers = out.headers === undefined ? undefined : stringMap(out.headers, 'bad headers');
    const query = out.query === undefined ? undefined : stringMap(out.query, 'bad query');
    if (out.code !== undefined) {
      checkField(Number.isInteger(out.code) && (out.code as number) >= 200 && (out.code as number) < 600, 'bad code');
      ctx.status = out.code as number;
      for (const [h, v] of Object.entries(headers ?? {})) ctx.set(h, v);
      ctx.body = typeof out.body === 'string' ? Buffer.from(out.body) : '';
      if (!headers || !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) ctx.remove('Content-Type');
      return;
    }
    // A new body would have to replace the request stream here; the node serves that case.
    if (out.body !== undefined) throw new LoungeError(501, 'not_implemented', 'a rewrite function that replaces the body is not supported through the lounge');
    checkField(typeof out.path === 'string', 'Rewrite result must produce a new path.');
    method = typeof out.method === 'string' ? out.method.toUpperCase() : ctx.method;
    if (headers) for (const [h, v] of Object.entries(headers)) ctx.req.headers[h.toLowerCase()] = v;
    const path = normalizePath(`${prefix}/${out.path as string}`);
    const qs = query === undefined ? ctx.querystring : Object.entries(query).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
    target = qs === '' ? path : `${path}?${qs}`;
  } else {
    return send(ctx, 404, { error: 'rewrite_error', reason: 'Invalid path.' });
  }
  const first = (target.split('?')[0] as string).split('/')[1] ?? '';
  if (first !== encodeURIComponent(route.db) && decodeURIComponent(first) !== route.db) {
    throw rewriteError(400, 'insecure_rewrite_rule', 'the rewritten path leaves the database');
  }
  ctx.state.requestedPath ??= pathParts(ctx.path);
  ctx.method = method;
  ctx.url = target;
  if (redispatch === undefined) throw new LoungeError(500, 'unknown_error', 'rewrite dispatch is not set up');
  await redispatch({ ctx, lounge, user: req.user } as Req);
}

export const designFunctionHandler: Handler<'designFunction'> = async (req) => {
  switch (req.route.fn) {
    case '_show':
      return show(req);
    case '_update':
      return update(req);
    case '_list':
      return list(req);
    case '_rewrite':
      return rewrite(req);
    default:
      throw new LoungeError(501, 'not_implemented', `${req.route.fn} is not supported (Chaise has no search index)`);
  }
};
