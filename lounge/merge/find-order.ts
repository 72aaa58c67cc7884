// How `_find` answers from many shards become one: the order of the merged docs, the
// fields the proxy must see to merge (and then hide), and the bookmark.
//
// - With a `sort`, docs merge by the sort fields (CouchDB collation, each field ascending
//   or descending), then by `_id` in raw byte order; without one, by `_id` (the order of
//   the `_all_docs` index Mango falls back to).
// - If `fields` projects the sort fields or `_id` away, the proxy asks for them anyway and
//   removes them from each doc before sending it.
// - The bookmark is the proxy's own: how many matching docs the client has already seen,
//   so resubmitting it continues where the last page ended.
// Pure.

import { collate, compareIds } from '../../views/index.js';
import { badRequest } from '../errors/lounge-error.js';
import type { RowOrder, ViewRow } from './view-rows.js';

export type SortSpec = { field: string; desc: boolean }[];

/** Parses Mango's `sort`: `["a", {"b": "desc"}]`. */
export function parseSort(sort: unknown): SortSpec {
  if (sort === undefined) return [];
  if (!Array.isArray(sort)) throw badRequest('Invalid sort: sort must be an array');
  return sort.map((s) => {
    if (typeof s === 'string') return { field: s, desc: false };
    if (typeof s === 'object' && s !== null && Object.keys(s).length === 1) {
      const [field, dir] = Object.entries(s)[0] as [string, unknown];
      if (dir !== 'asc' && dir !== 'desc') throw badRequest(`Invalid sort direction: ${String(dir)}`);
      return { field, desc: dir === 'desc' };
    }
    throw badRequest('Invalid sort field');
  });
}

/** A dotted Mango field path of a doc (`a.b` → doc.a.b). */
export function fieldValue(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export function findOrder(sort: SortSpec): RowOrder {
  return (a, b) => {
    for (const { field, desc } of sort) {
      const c = collate(fieldValue(a.row, field) ?? null, fieldValue(b.row, field) ?? null);
      if (c !== 0) return desc ? -c : c;
    }
    const dir = sort.length > 0 && sort.every((s) => s.desc) ? -1 : 1;
    return dir * compareIds(String((a.row as Record<string, unknown>)._id ?? ''), String((b.row as Record<string, unknown>)._id ?? ''));
  };
}

/** The `fields` to ask shards for, and those to strip from each doc afterwards. */
export function fieldsForMerge(fields: unknown, sort: SortSpec): { ask: string[] | undefined; strip: string[] } {
  if (!Array.isArray(fields)) return { ask: undefined, strip: [] };
  const ask = fields.filter((f): f is string => typeof f === 'string');
  const need = ['_id', ...sort.map((s) => s.field)];
  const strip = need.filter((f) => !ask.includes(f));
  return { ask: [...ask, ...strip], strip };
}

/** Removes the fields the proxy added (top-level or dotted) from a projected doc. */
export function stripFields(doc: Record<string, unknown>, strip: readonly string[]): Record<string, unknown> {
  if (strip.length === 0) return doc;
  const out = structuredClone(doc);
  for (const path of strip) {
    const parts = path.split('.');
    let cur: Record<string, unknown> | undefined = out;
    for (const p of parts.slice(0, -1)) {
      const next: unknown = cur?.[p];
      cur = typeof next === 'object' && next !== null ? (next as Record<string, unknown>) : undefined;
    }
    if (cur) delete cur[parts[parts.length - 1] as string];
  }
  return out;
}

export function encodeBookmark(seen: number): string {
  return Buffer.from(JSON.stringify({ lounge: 1, seen })).toString('base64url');
}

/** How many docs a bookmark says were seen; `nil`/absent is 0; anything else is 400. */
export function decodeBookmark(b: unknown): number {
  if (b === undefined || b === null || b === 'nil') return 0;
  if (typeof b !== 'string') throw badRequest('Invalid bookmark value');
  try {
    const v = JSON.parse(Buffer.from(b, 'base64url').toString('utf8')) as { lounge?: unknown; seen?: unknown };
    if (v.lounge === 1 && typeof v.seen === 'number' && Number.isInteger(v.seen) && v.seen >= 0) return v.seen;
  } catch {
    // fall through
  }
  throw badRequest('Invalid bookmark value: ' + JSON.stringify(b));
}

export type { ViewRow };
