// Mango index definitions: `POST/GET /db/_index`, `DELETE /db/_index/{ddoc}/json/{name}`.
//
// A JSON index is stored, as in CouchDB, as one view of a design document with
// `"language": "query"`:
//   "views": { "<name>": { "map": { "fields": {"<field>": "asc"}, "partial_filter_selector": {} },
//                          "reduce": "_count", "options": { "def": <the index as given> } } }
// views/ never writes documents. These functions take the database's current
// design documents and return the design document the server must save (or
// delete) plus the exact response body, so the HTTP handler only stores and
// answers. Default ddoc ids and index names are hex SHA-1s of the definition,
// like CouchDB's (which hash Erlang terms, so the values differ).

import { createHash } from 'node:crypto';
import { CouchError } from '../errors/couch-error.js';
import { erlangFormat } from '../errors/erlang-format.js';
import type { DesignDoc } from '../sandbox/design-sandbox.js';
import { validateSelector } from './selector.js';

export type SortDir = 'asc' | 'desc';

export interface SortField {
  field: string;
  dir: SortDir;
}

/** An index as Mango sees it (the special `_all_docs` one included). */
export interface MangoIndex {
  ddoc: string | null;
  name: string;
  type: 'json' | 'special';
  fields: SortField[];
  partialFilter: Record<string, unknown> | null;
  /** The design document holding a JSON index. */
  design: DesignDoc | null;
  /** Serves partition queries only (its design doc's `options.partitioned`); the special index serves both. */
  partitioned: boolean;
}

export const ALL_DOCS_INDEX: MangoIndex = {
  ddoc: null,
  name: '_all_docs',
  type: 'special',
  fields: [{ field: '_id', dir: 'asc' }],
  partialFilter: null,
  design: null,
  partitioned: false,
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mangoError(status: number, error: string, reason: string): CouchError {
  return new CouchError(status, error, reason);
}

/** mango_sort:new — `["a", {"b": "desc"}]` → fields with directions. */
export function parseSort(sort: unknown): SortField[] {
  if (!Array.isArray(sort)) {
    throw mangoError(400, 'invalid_sort_json', `Sort must be an array of sort specs, not: ${erlangFormat(sort)}`);
  }
  const out: SortField[] = [];
  for (const spec of sort) {
    if (typeof spec === 'string') out.push({ field: spec, dir: 'asc' });
    else if (isObject(spec) && Object.keys(spec).length === 1) {
      const [field, dir] = Object.entries(spec)[0] as [string, unknown];
      if (dir !== 'asc' && dir !== 'desc') {
        throw mangoError(400, 'invalid_sort_dir', `Invalid sort direction: ${erlangFormat(dir)}`);
      }
      out.push({ field, dir });
    } else {
      throw mangoError(400, 'invalid_sort_field', `Invalid sort field: ${erlangFormat(spec)}`);
    }
  }
  if (new Set(out.map((f) => f.dir)).size > 1) {
    throw mangoError(400, 'unsupported_mixed_sort', 'Sorts currently only support a single direction for all fields.');
  }
  return out;
}

/** Every index of a database: `_all_docs` first, then JSON indexes by ddoc and name. */
export function listIndexes(ddocs: readonly DesignDoc[]): MangoIndex[] {
  const out: MangoIndex[] = [];
  for (const d of ddocs) {
    if (d.language !== 'query' || !isObject(d.views)) continue;
    for (const [name, v] of Object.entries(d.views)) {
      if (!isObject(v) || !isObject(v['map'])) continue;
      const map = v['map'];
      const fieldsDef = isObject(map['fields']) ? map['fields'] : {};
      const fields = Object.entries(fieldsDef).map(([field, dir]) => ({ field, dir: dir === 'desc' ? ('desc' as const) : ('asc' as const) }));
      const pfs = isObject(map['partial_filter_selector']) && Object.keys(map['partial_filter_selector']).length > 0 ? map['partial_filter_selector'] : null;
      const partitioned = isObject(d.options) && d.options['partitioned'] === true;
      out.push({ ddoc: d._id, name, type: 'json', fields, partialFilter: pfs, design: d, partitioned });
    }
  }
  out.sort((a, b) => ((a.ddoc as string) < (b.ddoc as string) ? -1 : (a.ddoc as string) > (b.ddoc as string) ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return [ALL_DOCS_INDEX, ...out];
}

/** The JSON form of an index in `GET /db/_index` and `_explain`. */
export function indexJson(idx: MangoIndex): Record<string, unknown> {
  const def: Record<string, unknown> = { fields: idx.fields.map((f) => ({ [f.field]: f.dir })) };
  if (idx.partialFilter !== null) def['partial_filter_selector'] = idx.partialFilter;
  if (idx.type === 'special') return { ddoc: null, name: idx.name, type: 'special', def };
  return { ddoc: idx.ddoc, name: idx.name, type: 'json', partitioned: idx.partitioned, def };
}

/** Body of GET /db/_index. */
export function listIndexesResponse(ddocs: readonly DesignDoc[]): { total_rows: number; indexes: Record<string, unknown>[] } {
  const all = listIndexes(ddocs);
  return { total_rows: all.length, indexes: all.map(indexJson) };
}

export interface IndexChange {
  /** The design document to write (with `_rev` when it exists), or null for no write. */
  save: DesignDoc | null;
  /** A design document to delete (its last index was removed), or null. */
  remove: DesignDoc | null;
}

const CREATE_KEYS = new Set(['index', 'ddoc', 'name', 'type', 'partitioned', 'w']);

function sha1Hex(v: unknown): string {
  return createHash('sha1').update(JSON.stringify(v)).digest('hex');
}

/**
 * POST /db/_index. Returns the response body and the design document the
 * server must save (null when the index already exists unchanged).
 */
export function createIndex(
  ddocs: readonly DesignDoc[],
  body: unknown,
  dbPartitioned = false,
): IndexChange & { response: { result: 'created' | 'exists'; id: string; name: string } } {
  if (!isObject(body)) throw mangoError(400, 'bad_request', 'Request body must be a JSON object');
  for (const k of Object.keys(body)) {
    if (!CREATE_KEYS.has(k)) throw mangoError(400, 'invalid_key', `Invalid key ${k} for this request.`);
  }
  const index = body['index'];
  if (index === undefined) throw mangoError(400, 'missing_required_key', 'Missing required key: index');
  if (!isObject(index)) throw mangoError(400, 'invalid_object', `${erlangFormat(index)} is not a JSON object`);
  const type = body['type'] ?? 'json';
  if (type !== 'json') {
    if (type === 'text' || type === 'nouveau') throw mangoError(503, 'required index service unavailable', String(type));
    throw mangoError(400, 'invalid_index', `Invalid type for index: ${String(type)}`);
  }
  if (index['fields'] === undefined) throw mangoError(400, 'invalid_index', 'Index is missing its definition.');
  const fields = parseSort(index['fields']);
  if (fields.length === 0) throw mangoError(400, 'invalid_index', 'Index is missing its definition.');
  const pfs = index['partial_filter_selector'];
  if (pfs !== undefined) validateSelector(pfs);
  for (const k of ['ddoc', 'name'] as const) {
    if (body[k] !== undefined && (typeof body[k] !== 'string' || body[k] === '')) {
      throw mangoError(400, 'invalid_index_name', `Invalid index name: ${erlangFormat(body[k])}`);
    }
  }
  // `partitioned` absent: the database's default, left unsaid in the design doc (mango_idx).
  const partitioned = body['partitioned'];
  if (partitioned !== undefined && typeof partitioned !== 'boolean') {
    throw mangoError(400, 'invalid_boolean', `Invalid boolean value: ${erlangFormat(partitioned)}`);
  }
  if (partitioned === true && !dbPartitioned) {
    throw mangoError(400, 'invalid_design_doc', 'partitioned option cannot be true in a non-partitioned database.');
  }
  const hash = sha1Hex([index, type]);
  const ddocParam = body['ddoc'] as string | undefined;
  const id = ddocParam === undefined ? `_design/${hash}` : ddocParam.startsWith('_design/') ? ddocParam : `_design/${ddocParam}`;
  const name = (body['name'] as string | undefined) ?? hash;
  const view = {
    map: {
      fields: Object.fromEntries(fields.map((f) => [f.field, f.dir])),
      partial_filter_selector: isObject(pfs) ? pfs : {},
    },
    reduce: '_count',
    options: { def: index },
  };
  const existing = ddocs.find((d) => d._id === id);
  if (existing !== undefined && (existing.language ?? 'javascript') !== 'query') {
    throw mangoError(400, 'invalid_ddoc_lang', `Existing design doc has an invalid language: ${erlangFormat(existing.language ?? null)}`);
  }
  const views = existing !== undefined && isObject(existing.views) ? existing.views : {};
  const existingOptions = existing !== undefined && isObject(existing.options) ? existing.options : undefined;
  // mango_idx:set_ddoc_partitioned: a new design doc takes the option; an existing one must agree.
  if (partitioned !== undefined && existingOptions?.['partitioned'] !== partitioned && existing !== undefined) {
    throw mangoError(400, 'invalid_partitioned_option', `Requested partitioned option does not match existing value on design document ${id}`);
  }
  const response = { result: 'created' as 'created' | 'exists', id, name };
  if (JSON.stringify(views[name]) === JSON.stringify(view)) {
    response.result = 'exists';
    return { save: null, remove: null, response };
  }
  const save: DesignDoc = { ...(existing ?? { _id: id }), language: 'query', views: { ...views, [name]: view } };
  if (existing === undefined && partitioned !== undefined) save.options = { partitioned };
  return { save, remove: null, response };
}

/** DELETE /db/_index/{ddoc}/{type}/{name}. Response body is `{"ok": true}`. */
export function deleteIndex(ddocs: readonly DesignDoc[], ddocName: string, type: string, name: string): IndexChange & { response: { ok: true } } {
  const id = ddocName.startsWith('_design/') ? ddocName : `_design/${ddocName}`;
  if (type !== 'json') throw mangoError(404, 'not_found', 'Index not found');
  const d = ddocs.find((x) => x._id === id);
  if (d === undefined || d.language !== 'query' || !isObject(d.views) || !(name in d.views)) {
    throw mangoError(404, 'not_found', 'Index not found');
  }
  const { [name]: _gone, ...rest } = d.views;
  if (Object.keys(rest).length === 0) return { save: null, remove: d, response: { ok: true } };
  return { save: { ...d, views: rest }, remove: null, response: { ok: true } };
}
