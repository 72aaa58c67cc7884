// Parsing a replication `source` / `target` into where to connect and as whom.
//
// CouchDB accepts three spellings, and so do we:
//   "http://user:pass@host:5984/db"                       credentials in the URL
//   {"url": "...", "headers": {...}}                      extra headers (maybe Authorization)
//   {"url": "...", "auth": {"basic": {"username", "password"}}}
// plus, as CouchDB 3.x still does (deprecated), a bare database name, which
// means a database on the node running the replication.
//
// Guarantees: the parsed URL never carries credentials; credentials live only
// in the `authorization` header; `label` masks the password the way CouchDB's
// `url_strip_password` does (`http://user:*****@host/db/`). Pure: no I/O.

import { badRequest } from '../errors.js';
import type { EndpointIdentity } from './endpoint.js';

export interface PeerSpec {
  /** The database URL, without credentials, always ending in `/`. */
  url: URL;
  /** Lowercased header names; `authorization` holds Basic credentials when given. */
  headers: { [name: string]: string };
  /** The user name, from the URL, the `auth` object or a Basic header; null if none. */
  user: string | null;
  /** For status reports: the URL with the password masked. */
  label: string;
}

export interface LocalNode {
  /** The node's own base URL, e.g. `http://127.0.0.1:5984/`, used for bare database names. */
  baseUrl: URL;
  headers?: { [name: string]: string };
}

/** Ports that CouchDB's replication id treats as "default" (v4 ids). */
const DEFAULT_PORTS: { [protocol: string]: number[] } = { 'http:': [80, 5984], 'https:': [443] };

function basicHeader(username: string, password: string): string {
  return 'Basic ' + Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}

/** The user name inside a Basic `authorization` header, or null. */
export function basicUser(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match || match[1] === undefined) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 ? decoded.slice(0, colon) : null;
}

function parseUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badRequest(`Invalid ${what} URL: ${maskUrlText(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw badRequest(`Invalid ${what} URL scheme: ${url.protocol}`);
  }
  return url;
}

/** Masks a password in URL-looking text that failed to parse (for error messages). */
function maskUrlText(raw: string): string {
  return raw.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:*****@');
}

function normaliseHeaders(value: unknown, what: string): { [name: string]: string } {
  const headers: { [name: string]: string } = {};
  if (value === undefined || value === null) return headers;
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest(`${what}.headers must be an object`);
  for (const [name, v] of Object.entries(value as { [k: string]: unknown })) {
    if (typeof v !== 'string') throw badRequest(`${what}.headers values must be strings`);
    headers[name.toLowerCase()] = v;
  }
  return headers;
}

/**
 * Parses one side of a replication. `what` is `source` or `target` (for error
 * messages). `local` resolves bare database names; without it they are rejected.
 */
export function parsePeer(input: unknown, what: string, local?: LocalNode): PeerSpec {
  let rawUrl: string;
  let headers: { [name: string]: string } = {};
  let authObject: { username: string; password: string } | null = null;

  if (typeof input === 'string') {
    rawUrl = input;
  } else if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    const obj = input as { [k: string]: unknown };
    if (typeof obj['url'] !== 'string') throw badRequest(`${what} must have a string url`);
    rawUrl = obj['url'];
    headers = normaliseHeaders(obj['headers'], what);
    const auth = obj['auth'];
    if (auth !== undefined && auth !== null) {
      if (typeof auth !== 'object') throw badRequest(`${what}.auth must be an object`);
      const basic = (auth as { [k: string]: unknown })['basic'];
      if (basic !== undefined) {
        const b = basic as { [k: string]: unknown } | null;
        if (!b || typeof b['username'] !== 'string' || typeof b['password'] !== 'string') {
          throw badRequest(`${what}.auth.basic needs string username and password`);
        }
        authObject = { username: b['username'], password: b['password'] };
      }
    }
  } else {
    throw badRequest(`Missing or invalid ${what}`);
  }
  if (rawUrl === '') throw badRequest(`Missing or invalid ${what}`);

  let url: URL;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rawUrl)) {
    url = parseUrl(rawUrl, what);
  } else {
    if (!local) throw badRequest(`${what} must be a full URL`);
    // A bare name: a database on this node. `/` inside a name is data, so escape it.
    url = new URL(encodeURIComponent(rawUrl), local.baseUrl);
    headers = { ...(local.headers ?? {}), ...headers };
  }

  let user: string | null = null;
  let label: string;
  if (url.username !== '') {
    const username = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers['authorization'] = basicHeader(username, password);
    user = username;
    url.username = '';
    url.password = '';
  } else if (authObject) {
    headers['authorization'] = basicHeader(authObject.username, authObject.password);
    user = authObject.username;
  } else {
    user = basicUser(headers['authorization']);
  }
  const credentialsInUrl = /^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(rawUrl);
  url.hash = '';
  url.search = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  // Like CouchDB, show the user (with a masked password) only when the URL carried it.
  label = credentialsInUrl && user !== null
    ? `${url.protocol}//${encodeURIComponent(user)}:*****@${url.host}${url.pathname}`
    : url.href;
  return { url, headers, user, label };
}

/** The v4-style identity of a peer: credentials excluded, default ports normalised. */
export function peerIdentity(peer: PeerSpec): EndpointIdentity {
  const port = peer.url.port === '' ? null : Number(peer.url.port);
  const defaults = DEFAULT_PORTS[peer.url.protocol] ?? [];
  const headers = Object.entries(peer.headers)
    .filter(([name]) => name !== 'authorization')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    kind: 'remote',
    user: peer.user,
    host: peer.url.hostname.toLowerCase(),
    port: port === null || defaults.includes(port) ? null : port,
    path: peer.url.pathname,
    headers,
  };
}

/** The database name at the end of a peer URL (decoded), e.g. for `_scheduler/docs`. */
export function peerDbName(peer: PeerSpec): string {
  const parts = peer.url.pathname.split('/').filter((p) => p !== '');
  const last = parts[parts.length - 1];
  return last === undefined ? '' : decodeURIComponent(last);
}
