// Reading CouchDB query parameters: booleans, integers and JSON values, with CouchDB's
// `query_parse_error` answers for bad ones.

import { CouchError } from '../errors/catalog.js';

export type Query = Record<string, string | string[] | undefined>;

export function str(q: Query, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

export function bool(q: Query, name: string, dflt = false): boolean {
  const v = str(q, name);
  if (v === undefined) return dflt;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new CouchError('query_parse_error', `Invalid boolean parameter: "${v}"`);
}

export function int(q: Query, name: string): number | undefined {
  const v = str(q, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n)) throw new CouchError('query_parse_error', `Invalid integer parameter: "${v}"`);
  return n;
}

export function nonNegInt(q: Query, name: string): number | undefined {
  const n = int(q, name);
  if (n !== undefined && n < 0) throw new CouchError('query_parse_error', `Invalid value for ${name}: must be a non-negative integer`);
  return n;
}

export function json(q: Query, name: string): unknown {
  const v = str(q, name);
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v);
  } catch {
    throw new CouchError('bad_request', `Invalid JSON in the ${name} parameter`);
  }
}
