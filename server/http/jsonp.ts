// JSONP (chttpd:initialize_jsonp, start_jsonp, end_jsonp): with `[chttpd] allow_jsonp = true`
// (or `[httpd]`, which chttpd falls back to), a JSON answer to a request with `?callback=name` is
// sent as `/* CouchDB */name(<json>);` with the type application/javascript. The name may hold
// letters, digits, `.`, `_`, `[` and `]`; another character is 400 `invalid_callback`. Without
// the setting the parameter is ignored.

import type Koa from 'koa';
import type { Context } from 'koa';
import { Readable } from 'node:stream';
import { CouchError } from '../errors/catalog.js';
import type { ConfigStore } from '../config/store.js';

const CALLBACK = /^[A-Za-z0-9._[\]]*$/;

export const JSONP_TYPE = 'application/javascript';

/** The callback to wrap this request's JSON in, or undefined when there is none to use. */
export function jsonpCallback(ctx: Context, config: ConfigStore): string | undefined {
  const cb = ctx.query.callback;
  if (typeof cb !== 'string' || cb === '') return undefined;
  const allow = config.get('chttpd', 'allow_jsonp') ?? config.get('httpd', 'allow_jsonp');
  if (allow !== 'true') return undefined;
  if (!CALLBACK.test(cb)) throw new CouchError('bad_request', 'invalid_callback');
  return cb;
}

export function jsonpHead(cb: string): string {
  return `/* CouchDB */${cb}(`;
}

export const JSONP_TAIL = ');\n';

/** Wraps JSON answers of requests that name a callback; others pass untouched. */
export function jsonpMiddleware(config: ConfigStore): Koa.Middleware {
  return async (ctx, next) => {
    // Most requests have no `callback`: one substring test and they are through.
    if (!ctx.querystring.includes('callback=')) return next();
    const cb = jsonpCallback(ctx, config);
    if (cb === undefined) return next();
    ctx.state.jsonp = cb;
    await next();
    if (ctx.respond === false || !String(ctx.response.get('Content-Type')).startsWith('application/json')) return;
    const body: unknown = ctx.body;
    const head = jsonpHead(cb);
    if (typeof body === 'string' || body instanceof Buffer) {
      const text = body.toString();
      ctx.body = head + (text.endsWith('\n') ? text.slice(0, -1) : text) + JSONP_TAIL;
    } else if (body instanceof Readable) {
      ctx.body = Readable.from(wrapStream(body, head));
    } else return;
    ctx.set('Content-Type', JSONP_TYPE);
  };
}

async function* wrapStream(body: Readable, head: string): AsyncGenerator<string | Buffer> {
  yield head;
  let last: string | Buffer | undefined;
  for await (const chunk of body) {
    if (last !== undefined) yield last;
    last = chunk as string | Buffer;
  }
  // The last chunk may start inside a UTF-8 sequence: cut its newline without decoding it.
  if (typeof last === 'string') yield last.endsWith('\n') ? last.slice(0, -1) : last;
  else if (last !== undefined) yield last[last.length - 1] === 0x0a ? last.subarray(0, -1) : last;
  yield JSONP_TAIL;
}
