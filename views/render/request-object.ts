// CouchDB's `req` object for show, list, update and rewrite functions
// (chttpd_external:json_req_obj), built from plain facts about the HTTP request, so the node
// and the lounge hand design code the same object: path parts decoded, the JSON query keys
// parsed, header names in Erlang's spelling, cookies, the form of a urlencoded body, and
// `body` as the string "undefined" when there is none. Also what an update function's
// returned document becomes before it is written. Pure: no I/O, no HTTP framework.

import { couchHeaderName } from './external.js';

/** Query parameters CouchDB decodes from JSON before design code sees them (json_query_keys). */
const JSON_QUERY_KEYS = new Set(['startkey', 'endkey', 'key', 'descending']);

/** What the HTTP layer knows about the request. */
export interface RequestFacts {
  method: string;
  /** The path without the query string, still percent-encoded. */
  path: string;
  /** The path with its query string, as received. */
  url: string;
  querystring: string;
  /** Node's `rawHeaders`: name, value, name, value… */
  rawHeaders: readonly string[];
  /** Headers a rewrite set, over the received ones. */
  extraHeaders?: Record<string, string> | undefined;
  contentType: string;
  cookieHeader: string;
  body: string | undefined;
  /** The client's address (an IPv4-mapped IPv6 address is shown as IPv4). */
  peer: string | undefined;
  /** The path before a rewrite (`requested_path`), when there was one. */
  requestedPath?: string[] | undefined;
}

/** What the database side contributes; `info` and `uuid` are asked only when wanted. */
export interface RequestSubject {
  info(): unknown;
  uuid(): string;
  id: string | null;
  userCtx: { db: string; name: string | null; roles: readonly string[] };
  secObj(): unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The request's path as CouchDB's path_parts: decoded segments. */
export function pathParts(path: string): string[] {
  return path
    .split('/')
    .filter((p) => p !== '')
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
}

function queryObject(querystring: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(querystring)) {
    if (JSON_QUERY_KEYS.has(k)) {
      try {
        out[k] = JSON.parse(v);
        continue;
      } catch {
        // CouchDB would refuse the request; the raw text is the closest thing to show.
      }
    }
    out[k] = v;
  }
  return out;
}

function headersObject(raw: readonly string[], extra: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) out[couchHeaderName(raw[i] as string)] = raw[i + 1] as string;
  if (extra) for (const [k, v] of Object.entries(extra)) out[couchHeaderName(k)] = v;
  return out;
}

function cookies(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const k = part.slice(0, eq).trim();
    let v = part.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    out[k] = v;
  }
  return out;
}

/**
 * CouchDB's `req` object: every field a show, list, update or rewrite function reads, in
 * CouchDB's order. `fields` limits the optional ones (`info`, `uuid`, `id`, `form`), as a
 * rewrite function gets fewer.
 */
export async function requestObject(facts: RequestFacts, subject: RequestSubject, fields?: readonly string[]): Promise<Record<string, unknown>> {
  const want = (f: string) => fields === undefined || fields.includes(f);
  const { body } = facts;
  const req: Record<string, unknown> = {};
  if (want('info')) req.info = await subject.info();
  if (want('uuid')) req.uuid = subject.uuid();
  if (want('id')) req.id = subject.id;
  req.method = facts.method;
  req.requested_path = facts.requestedPath ?? pathParts(facts.path);
  req.path = pathParts(facts.path);
  req.raw_path = facts.url;
  req.query = queryObject(facts.querystring);
  req.headers = headersObject(facts.rawHeaders, facts.extraHeaders);
  req.body = body === undefined ? 'undefined' : body;
  req.peer = facts.peer?.replace(/^::ffff:/, '') ?? '127.0.0.1';
  if (want('form')) {
    const form: Record<string, string> = {};
    if ((facts.method === 'POST' || facts.method === 'PUT') && /^application\/x-www-form-urlencoded/i.test(facts.contentType) && body) {
      for (const [k, v] of new URLSearchParams(body)) form[k] = v;
    }
    req.form = form;
  }
  req.cookie = cookies(facts.cookieHeader);
  req.userCtx = subject.userCtx;
  req.secObj = await subject.secObj();
  return req;
}

/**
 * The document an update function returned, as it is written: it came with its history
 * (`_revisions`), so the edit is of its `_rev`; `_revisions` and `_conflicts` are dropped.
 */
export function docFromUpdate(newDoc: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = { ...newDoc };
  if (isObject(body._revisions)) {
    const revs = body._revisions as { start?: unknown; ids?: unknown };
    if (body._rev === undefined && typeof revs.start === 'number' && Array.isArray(revs.ids) && typeof revs.ids[0] === 'string') {
      body._rev = `${revs.start}-${revs.ids[0]}`;
    }
    delete body._revisions;
  }
  delete body._conflicts;
  return body;
}
