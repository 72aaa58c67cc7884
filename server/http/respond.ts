// Writing CouchDB-style responses: JSON (always application/json, as CouchDB 3 does) with `Cache-Control: must-revalidate`,
// or text for browsers when a body is not JSON.

import type { Context } from 'koa';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import type { NodeConfig } from './services.js';

/** A body that is already serialized JSON text (documents are stored serialized). */
export class RawJson {
  constructor(readonly text: string) {}
}

/**
 * CouchDB 3 (chttpd:negotiate_content_type) answers JSON as application/json whatever the Accept
 * header says (the recordings show it for `Accept: text/plain`); only the 1.x API negotiated.
 */
export function jsonType(_ctx: Context): string {
  return 'application/json';
}

export function send(ctx: Context, status: number, body: unknown): void {
  ctx.status = status;
  // The header itself, before the body, so koa neither looks the type up nor guesses one.
  ctx.set('Content-Type', jsonType(ctx));
  ctx.set('Cache-Control', 'must-revalidate');
  const text = body instanceof RawJson ? body.text : JSON.stringify(body);
  ctx.body = text + '\n';
}

/** Bytes per chunk when streaming a large response built from many parts. */
const CHUNK_CHARS = 64 * 1024;

/**
 * Sends `head + parts.join(sep) + tail` without building one giant string: large `_all_docs` and
 * view answers stream in chunks, so memory stays bounded by a chunk, not by the response.
 */
export function sendParts(ctx: Context, status: number, head: string, parts: string[], sep: string, tail: string): void {
  ctx.status = status;
  ctx.type = jsonType(ctx);
  ctx.set('Cache-Control', 'must-revalidate');
  function* chunks(): Generator<string> {
    let buf = head;
    for (let i = 0; i < parts.length; i++) {
      buf += (i === 0 ? '' : sep) + (parts[i] as string);
      if (buf.length >= CHUNK_CHARS) {
        yield buf;
        buf = '';
      }
    }
    yield buf + tail + '\n';
  }
  ctx.body = Readable.from(chunks(), { objectMode: false });
}

/**
 * Whether `If-None-Match` names this ETag, in its strong or weak (`W/`) form, alone or in a list
 * (chttpd:etag_match). The caller answers 304 then; the outermost middleware finishes it.
 */
export function etagMatches(ctx: Context, etag: string): boolean {
  const header = ctx.req.headers['if-none-match'];
  if (header === undefined) return false;
  for (const token of header.split(/[, ]+/)) {
    if ((token.startsWith('W/') ? token.slice(2) : token) === etag) return true;
  }
  return false;
}

/** Answers 304 with this ETag when the client's copy is current; returns whether it did. */
export function notModifiedIfCurrent(ctx: Context, etag: string): boolean {
  ctx.set('ETag', etag);
  if (!etagMatches(ctx, etag)) return false;
  ctx.status = 304;
  return true;
}

/** An ETag made from content, as chttpd:make_etag makes one: the md5 as a base-36 number, quoted. */
export function makeEtag(...parts: (string | number)[]): string {
  const h = createHash('md5');
  for (const p of parts) h.update(String(p)).update('\0');
  return '"' + BigInt('0x' + h.digest('hex')).toString(36).toUpperCase() + '"';
}

/**
 * An absolute URL on this node for `Location`, as chttpd:absolute_uri builds one: the host from
 * `X-Forwarded-Host`, else `Host`, else the socket's address; https when `X-Forwarded-Ssl: on` or
 * `X-Forwarded-Proto: https` says a proxy in front ended TLS, else the connection's own scheme.
 * The three header names follow `[httpd] x_forwarded_*` (see `NodeConfig.forwarded`).
 */
export function absoluteUri(ctx: Context, path: string): string {
  const h = ctx.req.headers;
  const names = (ctx as { nodeConfig?: NodeConfig }).nodeConfig?.forwarded ?? DEFAULT_FORWARDED;
  const forwarded = h[names.host];
  const host = (typeof forwarded === 'string' && forwarded !== '' ? forwarded : h.host) || `${ctx.req.socket.localAddress ?? '127.0.0.1'}:${ctx.req.socket.localPort ?? ''}`;
  const scheme = h[names.ssl] === 'on' || h[names.proto] === 'https' ? 'https' : ctx.protocol;
  return `${scheme}://${host}${path}`;
}

/** CouchDB's default `[httpd] x_forwarded_host`, `x_forwarded_proto` and `x_forwarded_ssl`. */
export const DEFAULT_FORWARDED = { host: 'x-forwarded-host', proto: 'x-forwarded-proto', ssl: 'x-forwarded-ssl' };
