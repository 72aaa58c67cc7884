// `_rewrite`: a design document's URL rules (CouchDB's chttpd_rewrite.erl). Array rules bind
// `:vars` and `*` from the path and the query, a `rewrites` function (JS) returns the new request;
// either way the request is then served again, from the router, at its new path. Targets are
// relative to the design document. With `httpd/secure_rewrites` (the default) `..` may climb at
// most two levels in a rule (to the database) and a rule's result must stay in the database; a
// function's path is not checked, as CouchDB does not check it (chttpd_rewrite:rewrite_path).
// Rewrites of rewrites stop at `httpd/rewrite_limit` (REWRITE_LIMIT by default).

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
    if (count >= rewriteLimit(s)) throw new CouchError('bad_request', 'Exceeded rewrite recursion limit');
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
    const secure = Array.isArray(rules) && httpdConfig(s, 'secure_rewrites') !== 'false';
    if (Array.isArray(rules)) {
      const found = applyRules(rules, { method: ctx.method, querystring: ctx.querystring, parts: rest, prefix, secure });
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
      if (typeof out.body === 'string') {
        ctx.state.rewrittenBody = Buffer.from(out.body);
        ctx.state.renderBody = undefined;
      }
      if (out.code !== undefined) {
        ctx.status = out.code as number;
        for (const [h, v] of Object.entries(headers ?? {})) ctx.set(h, v);
        ctx.body = typeof out.body === 'string' ? Buffer.from(out.body) : '';
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

    // A rule's target stays inside the database (parsePath already bounds its `..`).
    const first = target.split('?')[0]!.split('/')[1];
    if (secure && first !== encodeURIComponent(db.name) && decodeURIComponentSafe(first ?? '') !== db.name) {
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

/** A `chttpd` setting, falling back to `httpd` (chttpd_util:get_chttpd_config). */
function httpdConfig(s: Services, key: string): string | undefined {
  return s.configStore.get('chttpd', key) ?? s.configStore.get('httpd', key);
}

function rewriteLimit(s: Services): number {
  const n = Number(httpdConfig(s, 'rewrite_limit'));
  return Number.isInteger(n) && n >= 0 ? n : REWRITE_LIMIT;
}

function decodeURIComponentSafe(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}
