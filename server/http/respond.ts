// Writing CouchDB-style responses: JSON with `Cache-Control: must-revalidate`, or text/plain for
// browsers that do not ask for JSON (CouchDB does the same so a page shows the body).

import type { Context } from 'koa';

/** A body that is already serialized JSON text (documents are stored serialized). */
export class RawJson {
  constructor(readonly text: string) {}
}

export function jsonType(ctx: Context): string {
  const accept = ctx.get('accept');
  if (!accept || accept.includes('application/json') || accept.includes('*/*') || !/text\/(plain|html)/.test(accept)) {
    return 'application/json';
  }
  return 'text/plain; charset=utf-8';
}

export function send(ctx: Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.type = jsonType(ctx);
  ctx.set('Cache-Control', 'must-revalidate');
  const text = body instanceof RawJson ? body.text : JSON.stringify(body);
  ctx.body = text + '\n';
}
