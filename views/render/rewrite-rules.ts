// `_rewrite` rules as CouchDB's chttpd_rewrite.erl applies them, without HTTP: array rules bind
// `:vars` and `*` from the path and the query and build the new path and query; a rule's path
// may climb at most two levels (`..`, to the database); function results are checked field by
// field. The node and the lounge both serve the result again at its new path.

import { CouchError } from '../errors/couch-error.js';

/** Rewrites one request may go through (CouchDB's `httpd/rewrite_limit`). */
export const REWRITE_LIMIT = 100;

/** `..` segments a rule's path may hold (CouchDB's secure_rewrites: enough to reach the database). */
const RULE_DOTDOTS_MAX = 2;

/** Query keys whose values are JSON, decoded for binding and encoded again in the new query. */
const JSON_KEYS = new Set(['key', 'startkey', 'start_key', 'endkey', 'end_key', 'keys']);

const MATCH_ALL = Symbol('*');
type Part = string | { bind: string } | typeof MATCH_ALL;

interface Rule {
  from: Part[];
  method: string | typeof MATCH_ALL;
  to: Part[];
  query: [string, unknown][];
  formats: Record<string, unknown>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function rewriteError(status: number, error: string, reason: string): CouchError {
  return new CouchError(status, error, reason);
}

/**
 * A rule's `from` or `to` as parts (chttpd_rewrite:parse_path). With `secure` (CouchDB's
 * `httpd/secure_rewrites`, true by default) a path may not climb above the database.
 */
function parsePath(path: string, secure: boolean): Part[] {
  const out: Part[] = [];
  let dotdots = 0;
  for (const p of path.split('/')) {
    if (p === '') continue;
    if (p === '*') out.push(MATCH_ALL);
    else if (p === '..') {
      if (secure && dotdots === RULE_DOTDOTS_MAX) throw rewriteError(500, 'insecure_rewrite_rule', 'too many ../.. segments');
      dotdots++;
      out.push('..');
    } else if (p.startsWith(':')) out.push({ bind: p.slice(1) });
    else out.push(p);
  }
  return out;
}

function makeRule(raw: Record<string, unknown>, secure: boolean): Rule {
  if (typeof raw.to !== 'string') throw rewriteError(500, 'error', 'invalid_rewrite_target');
  return {
    from: typeof raw.from === 'string' ? parsePath(raw.from, secure) : [MATCH_ALL],
    method: typeof raw.method === 'string' ? raw.method : MATCH_ALL,
    to: parsePath(raw.to, secure),
    query: isObject(raw.query) ? Object.entries(raw.query) : [],
    formats: isObject(raw.formats) ? raw.formats : {},
  };
}

type Bindings = [string, unknown][];

function lookup(bindings: Bindings, name: string): unknown {
  const hit = bindings.find(([k]) => k === name);
  return hit === undefined ? undefined : hit[1];
}

function bindPath(from: Part[], parts: string[]): { rest: string[]; bindings: Bindings } | null {
  const bindings: Bindings = [];
  let i = 0;
  for (let f = 0; f < from.length; f++) {
    const token = from[f] as Part;
    if (token === MATCH_ALL && f === from.length - 1) return { rest: parts.slice(i), bindings: bindings.reverse() };
    if (i >= parts.length) return null;
    const seg = parts[i] as string;
    // `*` before the end binds one segment, named "*" (CouchDB's MATCH_ALL is a binding).
    if (token === MATCH_ALL) bindings.push(['*', seg]);
    else if (typeof token === 'object') bindings.push([token.bind, seg]);
    else if (token !== seg) return null;
    i++;
  }
  return i === parts.length ? { rest: [], bindings: bindings.reverse() } : null;
}

function format(fmt: unknown, value: unknown): unknown {
  if (fmt === 'int' && typeof value === 'string' && /^[+-]?\d+$/.test(value)) return parseInt(value, 10);
  if (fmt === 'bool' && typeof value === 'string') {
    const l = value.toLowerCase();
    if (l === 'true') return true;
    if (l === 'false') return false;
  }
  return value;
}

function getVar(name: string, bindings: Bindings, fallback: unknown, formats: Record<string, unknown>): unknown {
  const v = lookup(bindings, name);
  return format(formats[name], v === undefined ? fallback : v);
}

function replaceVar(value: unknown, bindings: Bindings, formats: Record<string, unknown>): unknown {
  if (value === '*') return getVar('*', bindings, value, formats);
  if (typeof value === 'string') return value.startsWith(':') ? getVar(value.slice(1), bindings, value, formats) : value;
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' && v.startsWith(':') ? getVar(v.slice(1), bindings, v, formats) : v));
  return value;
}

/** mochiweb_util:quote_plus, with `.` and `..` segments escaped so a bound value cannot climb. */
function quotePlus(s: string): string {
  if (s === '.' || s === '..') return s.replace(/\./g, '%2E');
  return encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

export function textOf(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function normalizePath(path: string): string {
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0 || out[out.length - 1] === '..') out.push('..');
      else out.pop();
    } else out.push(seg);
  }
  return '/' + out.join('/');
}

/** Where relative targets start: the design document's own path. */
export function rewritePrefix(db: string, ddocName: string): string {
  return `/${encodeURIComponent(db)}/_design/${encodeURIComponent(ddocName)}`;
}

/** What array rules match against: the request's method and query, and its path after `_rewrite`. */
export interface RewriteInput {
  method: string;
  querystring: string;
  /** Decoded path segments after `/_rewrite`. */
  parts: string[];
  /** rewritePrefix() of the design document. */
  prefix: string;
  /** CouchDB's `httpd/secure_rewrites`: rules may not climb above the database (default true). */
  secure?: boolean;
}

/** The new path and query for array rules (chttpd_rewrite:do_rewrite), or null when no rule matches. */
export function applyRules(rules: unknown[], input: RewriteInput): string | null {
  const { method, prefix, parts } = input;
  const queryList: Bindings = [];
  for (const [k, v] of new URLSearchParams(input.querystring)) {
    if (JSON_KEYS.has(k)) {
      try {
        queryList.push([k, JSON.parse(v)]);
        continue;
      } catch {
        throw new CouchError(400, 'bad_request', 'invalid UTF-8 JSON');
      }
    }
    queryList.push([k, v]);
  }
  const secure = input.secure ?? true;
  const dispatch = rules.filter(isObject).map((r) => makeRule(r, secure));
  for (const rule of dispatch) {
    if (rule.method !== MATCH_ALL && rule.method !== method) continue;
    const bound = bindPath(rule.from, parts);
    if (bound === null) continue;
    const bindings1: Bindings = [...bound.bindings, ...queryList];
    const queryArgs: Bindings = rule.query.map(([k, v]) => [k, isObject(v) ? v : replaceVar(v, bindings1, rule.formats)]);
    queryArgs.reverse();
    const kept = bindings1.filter(([k]) => lookup(queryArgs, k) === undefined);
    const finalBindings: Bindings = [...kept, ...queryArgs];
    const newParts: string[] = [];
    for (const p of rule.to) {
      if (p === MATCH_ALL) {
        newParts.push(...bound.rest);
        break;
      }
      if (typeof p === 'object') {
        const v = lookup(finalBindings, p.bind);
        newParts.push(v === undefined ? 'undefined' : textOf(v));
      } else newParts.push(p);
    }
    const qs = finalBindings
      .filter(([k]) => k !== '*')
      .map(([k, v]) => [k, JSON_KEYS.has(k) ? JSON.stringify(v) : textOf(v)] as [string, string])
      .reverse()
      .map(([k, v]) => `${quotePlus(k)}=${quotePlus(v)}`)
      .join('&');
    const path = normalizePath(`${prefix}/${newParts.map((p) => (p === '..' ? p : quotePlus(p))).join('/')}`);
    return qs === '' ? path : `${path}?${qs}`;
  }
  return null;
}

export function checkField(ok: boolean, what: string): void {
  if (!ok) throw rewriteError(500, 'rewrite_error', what);
}

export function stringMap(v: unknown, what: string): Record<string, string> {
  checkField(isObject(v), what);
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    checkField(typeof val === 'string', `object key/value must be strings <<${JSON.stringify(k)}>>=${JSON.stringify(val)}`);
  }
  return v as Record<string, string>;
}

