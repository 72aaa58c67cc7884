// `_rewrite`: a design document's URL rules (CouchDB's chttpd_rewrite.erl). Array rules bind
// `:vars` and `*` from the path and the query, a `rewrites` function (JS) returns the new request;
// either way the request is then served again, from the router, at its new path. Targets are
// relative to the design document; `..` may climb at most two levels in a rule (to the database),
// a rewritten path that would leave the database is refused, and rewrites of rewrites stop at
// REWRITE_LIMIT.

import type Router from '@koa/router';
import type { Context } from 'koa';
import { CouchError } from '../../errors/catalog.js';
import { applyRules, checkField, normalizePath, REWRITE_LIMIT, rewriteError, rewritePrefix, stringMap, textOf } from '../../../views/index.js';
import { designDoc } from '../../design/design-docs.js';
import { send } from '../respond.js';
import { routeIndex } from '../route-index.js';
import type { Services } from '../services.js';
import { jsonReq } from './design-render.js';
import { openDb } from './documents.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function registerRewrite(router: Router, s: Services): void {
  const dispatch = routeIndex(router);

  const rewrite = async (ctx: Context) => {
    const count = (ctx.state.rewriteCount as number | undefined) ?? 0;
    if (count >= REWRITE_LIMIT) throw new CouchError('bad_request', 'Exceeded rewrite recursion limit');
    ctx.state.rewriteCount = count + 1;
    const db = openDb(s, ctx);
    const ddocName = ctx.params.ddoc as string;
    const ddoc = designDoc(db, ddocName);
    if (!ddoc) throw new CouchError('not_found', 'missing');
    const prefix = rewritePrefix(db.name, ddocName);
    const rules = ddoc.rewrites;
    const originalParts = ctx.path.split('/').filter((p) => p !== '');
    const rest = originalParts.slice(4).map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });

    let target: string;
    let method = ctx.method;
    if (Array.isArray(rules)) {
      const found = applyRules(rules, { method: ctx.method, querystring: ctx.querystring, parts: rest, prefix });
      if (found === null) throw new CouchError('not_found', 'missing');
      target = found;
    } else if (typeof rules === 'string') {
      const req = await jsonReq(ctx, s, db, null, ['method']);
      const out = await s.views.rewrite(ddoc, req);
      if (out === null) return send(ctx, 404, { error: 'rewrite_error', reason: 'Invalid path.' });
      if (isObject(out.thrown)) {
        const thrown = out.thrown;
        if (thrown.forbidden !== undefined) throw rewriteError(403, 'forbidden', textOf(thrown.forbidden));
        throw rewriteError(401, 'unauthorized', textOf(thrown.unauthorized));
      }
      if (out.method !== undefined) checkField(typeof out.method === 'string', 'bad method');
      if (out.path !== undefined) checkField(typeof out.path === 'string', 'bad path');
      if (out.body !== undefined) checkField(typeof out.body === 'string', 'bad body');
      const headers = out.headers === undefined ? undefined : stringMap(out.headers, 'bad headers');
      const query = out.query === undefined ? undefined : stringMap(out.query, 'bad query');
      if (out.code !== undefined) checkField(Number.isInteger(out.code) && (out.code as number) >= 200 && (out.code as number) < 600, 'bad code');
      if (typeof out.body === 'string') ctx.state.rewrittenBody = Buffer.from(out.body);
      if (out.code !== undefined) {
        ctx.status = out.code as number;
        for (const [h, v] of Object.entries(headers ?? {})) ctx.set(h, v);
        const body = ctx.state.rewrittenBody as Buffer | undefined;
        ctx.body = body ?? '';
        if (!headers || !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) ctx.remove('Content-Type');
        return;
      }
      checkField(typeof out.path === 'string', 'Rewrite result must produce a new path.');
      method = typeof out.method === 'string' ? out.method.toUpperCase() : ctx.method;
      if (headers) {
        ctx.state.rewriteHeaders = { ...((ctx.state.rewriteHeaders as Record<string, string> | undefined) ?? {}), ...headers };
        for (const [h, v] of Object.entries(headers)) ctx.req.headers[h.toLowerCase()] = v;
      }
      const path = normalizePath(`${prefix}/${out.path as string}`);
      const qs =
        query === undefined
          ? ctx.querystring
          : Object.entries(query)
              .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
              .join('&');
      target = qs === '' ? path : `${path}?${qs}`;
    } else {
      return send(ctx, 404, { error: 'rewrite_error', reason: 'Invalid path.' });
    }

    // However the target was built, it stays inside the database.
    const first = target.split('?')[0]!.split('/')[1];
    if (first !== encodeURIComponent(db.name) && decodeURIComponentSafe(first ?? '') !== db.name) {
      throw rewriteError(400, 'insecure_rewrite_rule', 'the rewritten path leaves the database');
    }
    if (ctx.state.requestedPath === undefined) {
      ctx.state.requestedPath = originalParts.map((p) => decodeURIComponentSafe(p));
    }
    if (ctx.state.rewrittenBody instanceof Buffer) ctx.req.headers['content-length'] = String((ctx.state.rewrittenBody as Buffer).length);
    ctx.method = method;
    ctx.url = target;
    ctx.params = {};
    (ctx as unknown as { matched?: unknown }).matched = undefined;
    await dispatch(ctx, async () => {
      send(ctx, 404, { error: 'not_found', reason: 'missing' });
    });
  };
  router.all('/:db/_design/:ddoc/_rewrite', rewrite);
  router.all('/:db/_design/:ddoc/_rewrite/*path', rewrite);
}

function decodeURIComponentSafe(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}
