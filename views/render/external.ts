// What show, list and update functions answer, turned into an HTTP answer as CouchDB's
// chttpd_external.erl does (`code`, `headers`, `body` / `json` / `base64`, the default
// Content-Type of each), the ETag of a show (couch_mrview_show's make_etag, base 36 of an md5),
// and header names as design code sees them. Shared by the node and the lounge.

import { createHash } from 'node:crypto';
import { CouchError } from '../errors/couch-error.js';
import type { RenderResponse } from '../sandbox/design-sandbox.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Header names Erlang's HTTP packet parser knows: CouchDB hands them to design code in this
 * spelling (`req.headers.Accept`, which `provides()` reads), and every other name as it was sent.
 */
const KNOWN_HEADERS = [
  'Accept', 'Accept-Charset', 'Accept-Encoding', 'Accept-Language', 'Accept-Ranges', 'Age', 'Allow', 'Authorization',
  'Cache-Control', 'Connection', 'Content-Base', 'Content-Encoding', 'Content-Language', 'Content-Length',
  'Content-Location', 'Content-Md5', 'Content-Range', 'Content-Type', 'Cookie', 'Date', 'Etag', 'Expires', 'From',
  'Host', 'If-Match', 'If-Modified-Since', 'If-None-Match', 'If-Range', 'If-Unmodified-Since', 'Keep-Alive',
  'Last-Modified', 'Location', 'Max-Forwards', 'Pragma', 'Proxy-Authenticate', 'Proxy-Authorization',
  'Proxy-Connection', 'Public', 'Range', 'Referer', 'Retry-After', 'Server', 'Set-Cookie', 'Set-Cookie2',
  'Transfer-Encoding', 'Upgrade', 'User-Agent', 'Vary', 'Via', 'Warning', 'Www-Authenticate', 'X-Forwarded-For',
];
const KNOWN_BY_LOWER = new Map(KNOWN_HEADERS.map((h) => [h.toLowerCase(), h]));

/** A request header's name as design code sees it in `req.headers`. */
export function couchHeaderName(name: string): string {
  return KNOWN_BY_LOWER.get(name.toLowerCase()) ?? name;
}

/** CouchDB's `make_etag`: an md5 of the term, in base 36. */
export function makeEtag(parts: unknown): string {
  const hex = createHash('md5').update(JSON.stringify(parts)).digest('hex');
  return `"${BigInt('0x' + hex).toString(36).toUpperCase()}"`;
}

function externalError(key: string, value: unknown): CouchError {
  return new CouchError(500, 'external_response_error', `Invalid data from external server: {<<${JSON.stringify(key)}>>,${JSON.stringify(value)}}`);
}

export interface External {
  code: number;
  headers: [string, string][];
  data: string | Buffer;
  json: unknown;
  hasJson: boolean;
}

/** chttpd_external:parse_external_response plus default_or_content_type. */
export function parseExternal(resp: RenderResponse, extraHeaders: [string, string][] = []): External {
  const out: External = { code: 200, headers: [], data: '', json: undefined, hasJson: false };
  let ctype = 'application/json';
  for (const [k, v] of Object.entries(resp)) {
    switch (k) {
      case 'code':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 100 || v > 999) throw externalError(k, v);
        out.code = v;
        break;
      case 'stop':
        break;
      case 'json':
        out.json = v;
        out.hasJson = true;
        ctype = 'application/json';
        break;
      case 'body':
        out.data = typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v);
        ctype = 'text/html; charset=utf-8';
        break;
      case 'base64':
        out.data = Buffer.from(typeof v === 'string' ? v : '', 'base64');
        ctype = 'application/binary';
        break;
      case 'headers':
        if (!isObject(v)) throw externalError(k, v);
        out.headers = Object.entries(v).map(([h, hv]) => [h, typeof hv === 'string' ? hv : JSON.stringify(hv)]);
        break;
      default:
        throw externalError(k, v);
    }
  }
  for (const [h, v] of extraHeaders) {
    out.headers = out.headers.filter(([n]) => n.toLowerCase() !== h.toLowerCase());
    out.headers.push([h, v]);
  }
  if (!out.headers.some(([h]) => h.toLowerCase() === 'content-type')) out.headers.unshift(['Content-Type', ctype]);
  return out;
}

/** Whether a header a function set can go on the wire (a token name, no line breaks). */
export function safeHeader(name: string, value: string): boolean {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) && !/[\r\n]/.test(value);
}

