// Writing answers the way a CouchDB node does: JSON with `Cache-Control: must-revalidate`
// (text/plain for browsers that do not ask for JSON), merged row streams in chunks, and
// node answers passed through with the headers that matter.

import type { Context } from 'koa';
import { Readable } from 'node:stream';
import type { UpstreamResponse } from '../upstream/node-client.js';
import { STREAM_CHUNK_CHARS } from './limits.js';

export function jsonType(ctx: Context): string {
  const accept = ctx.get('accept');
  if (!accept || accept.includes('application/json') || accept.includes('*/*') || !/text\/(plain|html)/.test(accept)) return 'application/json';
  return 'text/plain; charset=utf-8';
}

export function send(ctx: Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.type = jsonType(ctx);
  ctx.set('Cache-Control', 'must-revalidate');
  ctx.body = JSON.stringify(body) + '\n';
}

/** Streams `head`, the rows separated by `,\n`, then `tail()` (computed after the last row). */
export function sendRows(ctx: Context, status: number, head: string, rows: AsyncIterable<string>, tail: () => string): void {
  ctx.status = status;
  ctx.type = jsonType(ctx);
  ctx.set('Cache-Control', 'must-revalidate');
  async function* chunks(): AsyncGenerator<string> {
    let buf = head;
    let first = true;
    for await (const r of rows) {
      buf += (first ? '\n' : ',\n') + r;
      first = false;
      if (buf.length >= STREAM_CHUNK_CHARS) {
        yield buf;
        buf = '';
      }
    }
    yield buf + (first ? '' : '\n') + tail() + '\n';
  }
  ctx.body = Readable.from(chunks(), { objectMode: false });
}

/** Headers of a node's answer that a client may rely on; hop-by-hop and length headers are not copied. */
const PASSED_HEADERS = ['content-type', 'etag', 'cache-control', 'accept-ranges', 'content-encoding', 'content-md5', 'x-couch-request-id', 'content-range'];

/**
 * Answers up to this size are read whole and sent as one buffer instead of piped: a stream
 * body costs koa a `stream.pipeline` (an AbortController and a DOMException per request),
 * which measured as a fifth of the proxy's CPU on single-document GETs.
 */
const PASS_BUFFER_BYTES_MAX = 256 * 1024;

/** Sends a node's answer on as it is (status, body, key headers). */
export async function passThrough(ctx: Context, res: UpstreamResponse, location?: string): Promise<void> {
  ctx.status = res.status;
  for (const h of PASSED_HEADERS) {
    const v = res.headers[h];
    if (typeof v === 'string') ctx.set(h, v);
  }
  if (location !== undefined && res.headers.location !== undefined) ctx.set('Location', location);
  const len = res.headers['content-length'];
  if (ctx.method === 'HEAD' || res.status === 304 || res.status === 204) {
    // koa writes no body for HEAD and empty statuses; the node's length still describes the GET.
    res.discard();
    ctx.body = '';
    if (typeof len === 'string') ctx.length = Number(len);
    return;
  }
  if (typeof len === 'string' && Number(len) <= PASS_BUFFER_BYTES_MAX) {
    ctx.body = await res.buffer();
    return;
  }
  ctx.body = res.stream;
  if (typeof len === 'string') ctx.length = Number(len);
}

/** Sends an answer already read whole from a node (a quorum read's winner). */
export function sendBuffered(ctx: Context, answer: { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }): void {
  ctx.status = answer.status;
  for (const h of PASSED_HEADERS) {
    const v = answer.headers[h];
    if (typeof v === 'string') ctx.set(h, v);
  }
  ctx.body = ctx.method === 'HEAD' ? '' : answer.body;
  ctx.length = answer.body.length;
}
