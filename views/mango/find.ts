// Mango queries: `POST /db/_find` and `POST /db/_explain`, after CouchDB's
// mango_opts, mango_idx_view and mango_cursor_view.
//
// Planning: a JSON index is usable when the selector requires every one of its
// fields to exist (docs lacking a field are not in the index) and it can
// produce the requested sort; among usable ones the index whose leading
// columns the selector constrains best, then the narrowest, then by name, wins.
// Without one, the special `_all_docs` index is scanned and the response warns
// "No matching index found, create an index to optimize query time.".
//
// Execution: the chosen index gives a row range that is a superset of the
// matches (bounds from $eq/$gt/$gte/$lt/$lte on leading columns); every
// candidate document is then matched against the full selector, as CouchDB
// does, so the range never needs to be exact. skip/limit/bookmark apply to
// matches; `fields` projects the returned documents.

import { MAX_KEY } from '../collation/collate.js';
import { compareIds } from '../collation/raw-order.js';
import { CouchError } from '../errors/couch-error.js';
import { erlangFormat } from '../errors/erlang-format.js';
import { rank, rowsAt, MAX_ID, MIN_ID } from '../index-store/btree.js';
import type { ChangedDoc, DocSource } from '../index-store/doc-source.js';
import type { ViewGroup } from '../index-store/view-group.js';
import type { DesignDoc } from '../sandbox/design-sandbox.js';
import { indexJson, listIndexes, parseSort, type MangoIndex, type SortField } from './index-def.js';
import { getField, isMissing, matchNormalized, normalizeSelector, parseField, validateSelector, type NormSelector } from './selector.js';

/** mango_opts:default_limit(). */
export const FIND_LIMIT_DEFAULT = 25;
/** Rows read from an index per step while looking for matches. */
const SCAN_CHUNK = 500;
/** Changes read per step when `_all_docs` is scanned through the changes feed. */
const SCAN_CHANGES_CHUNK = 2_000;
/** mango's index_scan_warning_threshold: docs examined per result before warning. */
const INDEX_SCAN_WARNING_RATIO = 10;

const NO_INDEX_WARNING = 'No matching index found, create an index to optimize query time.';
const SCAN_WARNING =
  'The number of documents examined is high in proportion to the number of results returned. Consider adding a more specific index to improve this.';

/** What the view engine lends Mango: a view group per design document. */
export interface IndexAccess {
  group(dbKey: string, ddoc: DesignDoc): ViewGroup;
}

/**
 * Optional DocSource extension: documents in `_id` order (raw, like
 * `_all_docs`), after `startAfter`. Without it `_all_docs` scans read the
 * changes feed and sort the matches.
 */
export interface DocsById {
  docsById(startAfter: string | null, limit: number): ChangedDoc[];
}

export interface FindRequest {
  selector: NormSelector;
  rawSelector: Record<string, unknown>;
  limit: number;
  skip: number;
  sort: SortField[];
  fields: string[] | null;
  useIndex: string[];
  bookmark: string | null;
  conflicts: boolean;
  update: boolean;
  executionStats: boolean;
  allowFallback: boolean;
  stable: boolean;
  r: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function err(status: number, error: string, reason: string): CouchError {
  return new CouchError(status, error, reason);
}

const FIND_KEYS = new Set([
  'selector',
  'limit',
  'skip',
  'sort',
  'fields',
  'use_index',
  'r',
  'conflicts',
  'bookmark',
  'update',
  'stable',
  'stale',
  'execution_stats',
  'partition',
  'allow_fallback',
]);

function nonNegInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw err(400, 'invalid_non_neg_integer', `${erlangFormat(v)} is not an integer greater than or equal to zero`);
  }
  return v;
}

function bool(v: unknown): boolean {
  if (typeof v !== 'boolean') throw err(400, 'invalid_boolean', `Invalid boolean value: ${erlangFormat(v)}`);
  return v;
}

/** mango_opts:validate_find — the `_find` body, with CouchDB's error texts. */
export function parseFind(body: unknown): FindRequest {
  if (!isObject(body)) throw err(400, 'bad_request', 'Request body must be a JSON object');
  for (const k of Object.keys(body)) {
    if (!FIND_KEYS.has(k)) throw err(400, 'invalid_key', `Invalid key ${k} for this request.`);
  }
  if (body['selector'] === undefined) throw err(400, 'missing_required_key', 'Missing required key: selector');
  const rawSelector = body['selector'];
  validateSelector(rawSelector);
  const req: FindRequest = {
    selector: normalizeSelector(rawSelector),
    rawSelector: rawSelector as Record<string, unknown>,
    limit: body['limit'] === undefined ? FIND_LIMIT_DEFAULT : nonNegInt('limit', body['limit']),
    skip: body['skip'] === undefined ? 0 : nonNegInt('skip', body['skip']),
    sort: body['sort'] === undefined ? [] : parseSort(body['sort']),
    fields: null,
    useIndex: [],
    bookmark: null,
    conflicts: body['conflicts'] === undefined ? false : bool(body['conflicts']),
    update: body['update'] === undefined ? true : bool(body['update']),
    executionStats: body['execution_stats'] === undefined ? false : bool(body['execution_stats']),
    allowFallback: body['allow_fallback'] === undefined ? true : bool(body['allow_fallback']),
    stable: body['stable'] === undefined ? false : bool(body['stable']),
    r: 1,
  };
  if (body['stale'] !== undefined) {
    if (body['stale'] === 'ok') req.update = false;
    else if (body['stale'] !== 'update_after') throw err(400, 'invalid_value', `Invalid value for stale: ${erlangFormat(body['stale'])}`);
  }
  if (body['r'] !== undefined) {
    const r = body['r'];
    if (typeof r !== 'number' || !Number.isInteger(r) || r <= 0) {
      throw err(400, 'invalid_pos_integer', `${erlangFormat(r)} is not an integer greater than zero`);
    }
    req.r = r;
  }
  const fields = body['fields'];
  if (fields !== undefined) {
    if (!Array.isArray(fields) || !fields.every((f) => typeof f === 'string')) {
      throw err(400, 'invalid_fields', `Fields must be an array of strings, not: ${erlangFormat(fields)}`);
    }
    req.fields = fields.length === 0 ? null : (fields as string[]);
  }
  const ui = body['use_index'];
  if (ui !== undefined) {
    if (typeof ui === 'string') req.useIndex = ui === '' ? [] : [ui];
    else if (Array.isArray(ui) && ui.length <= 2 && ui.every((x) => typeof x === 'string')) req.useIndex = ui as string[];
    else throw err(400, 'invalid_index_name', `Invalid index name: ${erlangFormat(ui)}`);
  }
  const bm = body['bookmark'];
  if (bm !== undefined && bm !== null) {
    if (typeof bm !== 'string') throw err(400, 'invalid_bookmark', `Invalid bookmark value: ${JSON.stringify(bm)}`);
    req.bookmark = bm === 'nil' ? null : bm;
  }
  return req;
}

// ------------------------------------------------------------- planning

/** Top-level conditions of a normalized selector, as [field, operator, argument]. */
function topConditions(sel: NormSelector): [string, string, unknown][] {
  const out: [string, string, unknown][] = [];
  const visit = (s: NormSelector): void => {
    const k = Object.keys(s)[0];
    if (k === undefined) return;
    if (k === '$and') {
      for (const sub of s[k] as NormSelector[]) visit(sub);
      return;
    }
    if (k.startsWith('$')) return;
    const cond = s[k];
    if (isObject(cond)) {
      const op = Object.keys(cond)[0];
      if (op !== undefined) out.push([k, op, cond[op]]);
    }
  };
  visit(sel);
  return out;
}

/** mango_selector:has_required_fields: every field must be required to exist by the selector. */
function hasRequiredFields(sel: NormSelector, fields: readonly string[]): boolean {
  const remaining = (s: unknown, req: string[]): string[] => {
    if (req.length === 0 || !isObject(s)) return req;
    const k = Object.keys(s)[0];
    if (k === undefined) return req;
    const arg = s[k];
    if (k === '$and' && Array.isArray(arg)) {
      let r = req;
      for (const a of arg) r = remaining(a, r);
      return r;
    }
    if (k === '$or' && Array.isArray(arg)) {
      // A field is required only if every branch requires it.
      const left = new Set<string>();
      for (const a of arg) for (const f of remaining(a, req)) left.add(f);
      return req.filter((f) => left.has(f));
    }
    if (k.startsWith('$')) return req;
    if (isObject(arg) && Object.keys(arg)[0] === '$exists' && arg['$exists'] === false) return req;
    return req.filter((f) => f !== k);
  };
  return remaining(sel, [...fields]).length === 0;
}

function isConstantField(sel: NormSelector, field: string): boolean {
  return topConditions(sel).some(([f, op]) => f === field && op === '$eq');
}

/** Can this index return rows in the requested sort order? */
function canSort(cols: readonly string[], sort: readonly SortField[], sel: NormSelector): boolean {
  if (sort.length === 0) return true;
  const want = sort.map((s) => s.field);
  const prefixOf = (c: readonly string[]): boolean => want.every((f, i) => c[i] === f);
  if (prefixOf(cols)) return true;
  // Leading columns fixed by $eq do not affect the order (mango_idx_view:can_use_sort).
  let i = 0;
  while (i < cols.length && isConstantField(sel, cols[i] as string)) i++;
  return i > 0 && prefixOf(cols.slice(i));
}

interface Plan {
  index: MangoIndex;
  warnings: string[];
}

function usableJson(idx: MangoIndex, req: FindRequest): boolean {
  const cols = idx.fields.map((f) => f.field);
  const sortFields = new Set(req.sort.map((s) => s.field));
  const required = cols.filter((c) => !sortFields.has(c) && c !== '_id' && c !== '_rev');
  return hasRequiredFields(req.selector, required) && canSort(cols, req.sort, req.selector);
}

function leadingConstrained(idx: MangoIndex, req: FindRequest): number {
  const fields = new Set(topConditions(req.selector).map(([f]) => f));
  let n = 0;
  for (const f of idx.fields) {
    if (!fields.has(f.field)) break;
    n++;
  }
  return n;
}

function matchesUseIndex(idx: MangoIndex, useIndex: readonly string[]): boolean {
  if (useIndex.length === 0) return true;
  const [ddoc, name] = useIndex as [string, string | undefined];
  const id = ddoc.startsWith('_design/') ? ddoc : `_design/${ddoc}`;
  return idx.ddoc === id && (name === undefined || idx.name === name);
}

/** Where a query runs: the whole database, or one partition of a partitioned one. */
export interface FindScope {
  /** Set for `/_partition/{p}/_find`: only that partition's documents, only partitioned indexes. */
  partition?: string;
  /** The database is partitioned (changes the "no index for this sort" text). */
  dbPartitioned?: boolean;
}

function planFind(ddocs: readonly DesignDoc[], req: FindRequest, scope: FindScope = {}): Plan {
  const all = listIndexes(ddocs);
  // mango_idx:filter_partition_indexes: partition queries use partitioned indexes, global ones the others.
  const wantPartitioned = scope.partition !== undefined;
  const json = all.filter((i) => i.type === 'json' && i.partitioned === wantPartitioned);
  const warnings: string[] = [];
  // Partial indexes only serve queries that name them.
  let usable = json.filter((i) => usableJson(i, req) && (i.partialFilter === null || req.useIndex.length > 0));
  if (req.useIndex.length > 0) {
    const chosen = usable.filter((i) => matchesUseIndex(i, req.useIndex));
    if (chosen.length > 0) usable = chosen;
    else {
      const [ddoc, name] = req.useIndex as [string, string | undefined];
      const ddocName = ddoc.replace(/^_design\//, '');
      const w =
        name === undefined
          ? `_design/${ddocName} was not used because it does not contain a valid index for this query.`
          : `_design/${ddocName}, ${name} was not used because it is not a valid index for this query.`;
      if (!req.allowFallback) throw err(400, 'no_usable_index', w);
      warnings.push(w);
      usable = usable.filter((i) => i.partialFilter === null);
    }
  }
  if (usable.length > 0) {
    usable.sort(
      (a, b) =>
        a.fields.length - leadingConstrained(a, req) - (b.fields.length - leadingConstrained(b, req)) ||
        a.fields.length - b.fields.length ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
    return { index: usable[0] as MangoIndex, warnings };
  }
  // _all_docs can only sort by _id.
  if (req.sort.some((s) => s.field !== '_id')) {
    const kind = scope.dbPartitioned !== true ? '' : wantPartitioned ? 'partitioned ' : 'global ';
    throw err(400, 'no_usable_index', `No ${kind}index exists for this sort, try indexing by the sort fields.`);
  }
  return { index: all[0] as MangoIndex, warnings };
}

// ------------------------------------------------------------ execution

interface Bound {
  lo: unknown[];
  hi: unknown[];
}

/** A key range on the index columns that contains every match (leading $eq columns, then one range). */
function indexRange(idx: MangoIndex, sel: NormSelector): Bound {
  const conds = topConditions(sel);
  const lo: unknown[] = [];
  const hi: unknown[] = [];
  for (const { field } of idx.fields) {
    // _id compares raw in selectors but by collation in the index: never narrow on it.
    const mine = field === '_id' ? [] : conds.filter(([f]) => f === field);
    const eq = mine.find(([, op]) => op === '$eq');
    if (eq !== undefined) {
      lo.push(eq[2]);
      hi.push(eq[2]);
      continue;
    }
    const low = mine.find(([, op]) => op === '$gt' || op === '$gte');
    const high = mine.find(([, op]) => op === '$lt' || op === '$lte');
    if (low !== undefined) lo.push(low[2]);
    if (high !== undefined) hi.push(high[2]);
    break;
  }
  return { lo, hi: [...hi, MAX_KEY] };
}

export interface ExecutionStats {
  total_keys_examined: number;
  total_docs_examined: number;
  total_quorum_docs_examined: number;
  results_returned: number;
  execution_time_ms: number;
}

export interface FindResponse {
  docs: Record<string, unknown>[];
  bookmark: string;
  warning?: string;
  execution_stats?: ExecutionStats;
}

function encodeBookmark(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

function decodeBookmark(s: string, check: (v: unknown) => boolean): unknown {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (v === undefined || !check(v)) throw err(400, 'invalid_bookmark', `Invalid bookmark value: ${JSON.stringify(s)}`);
  return v;
}

/** mango_fields:extract — keep only the listed (dotted) fields. */
export function projectFields(doc: Record<string, unknown>, fields: readonly string[] | null): Record<string, unknown> {
  if (fields === null) return doc;
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const path = parseField(f);
    const v = getField(doc, path);
    if (isMissing(v)) continue;
    let o = out;
    for (let i = 0; i < path.length - 1; i++) {
      const p = path[i] as string;
      if (!isObject(o[p])) o[p] = {};
      o = o[p] as Record<string, unknown>;
    }
    o[path[path.length - 1] as string] = v;
  }
  return out;
}

function finishDoc(doc: Record<string, unknown>, req: FindRequest): Record<string, unknown> {
  let d = doc;
  if (!req.conflicts && '_conflicts' in d) {
    const { _conflicts: _c, ...rest } = d;
    d = rest;
  }
  return projectFields(d, req.fields);
}

/** True for selectors CouchDB refuses to run: a top-level `{"$or": []}` and friends (maybe_noop_range). */
function isNoop(sel: NormSelector): boolean {
  const k = Object.keys(sel)[0];
  return (k === '$all' || k === '$and' || k === '$or' || k === '$in') && Array.isArray(sel[k]) && (sel[k] as unknown[]).length === 0;
}

/** Running totals over every query (CouchDB's `mango` metrics), kept by the engine. */
export interface FindStats {
  docsExamined: number;
  keysExamined: number;
  resultsReturned: number;
  /** Queries answered from `_all_docs` for want of a usable index. */
  unindexedQueries: number;
  /** Queries that drew the index scan warning (too many docs examined per result). */
  scanWarnings: number;
  /** Queries whose `use_index` named no valid index. */
  invalidIndexWarnings: number;
  /** Told each query's milliseconds, if set. */
  onQueryTime?: (ms: number) => void;
}

export function newFindStats(): FindStats {
  return { docsExamined: 0, keysExamined: 0, resultsReturned: 0, unindexedQueries: 0, scanWarnings: 0, invalidIndexWarnings: 0 };
}

export async function runFind(
  access: IndexAccess,
  source: DocSource,
  ddocs: readonly DesignDoc[],
  body: unknown,
  scope: FindScope = {},
  totals?: FindStats,
): Promise<FindResponse> {
  const started = performance.now();
  const req = parseFind(body);
  const plan = planFind(ddocs, req, scope);
  const stats = { keys: 0, docs: 0 };
  const docs: Record<string, unknown>[] = [];
  let last: unknown = undefined;
  if (!isNoop(req.selector)) {
    if (plan.index.type === 'json') last = await scanJsonIndex(access, source, plan.index, req, docs, stats, scope.partition);
    else last = scanAllDocs(source, req, docs, stats, scope.partition);
  }
  const warnings = [...plan.warnings];
  if (plan.index.type === 'special') warnings.push(NO_INDEX_WARNING);
  const ratio = docs.length === 0 ? stats.docs : stats.docs / docs.length;
  if (ratio > INDEX_SCAN_WARNING_RATIO) warnings.push(SCAN_WARNING);
  if (totals) {
    totals.docsExamined += stats.docs;
    totals.keysExamined += stats.keys;
    totals.resultsReturned += docs.length;
    if (plan.index.type === 'special') totals.unindexedQueries++;
    if (ratio > INDEX_SCAN_WARNING_RATIO) totals.scanWarnings++;
    // planFind's only warnings are use_index ones.
    if (plan.warnings.length > 0) totals.invalidIndexWarnings++;
    totals.onQueryTime?.(performance.now() - started);
  }
  const out: FindResponse = { docs, bookmark: last === undefined ? 'nil' : encodeBookmark(last) };
  if (warnings.length > 0) out.warning = warnings.join('\n');
  if (req.executionStats) {
    out.execution_stats = {
      total_keys_examined: stats.keys,
      total_docs_examined: stats.docs,
      total_quorum_docs_examined: 0,
      results_returned: docs.length,
      execution_time_ms: Math.round((performance.now() - started) * 1000) / 1000,
    };
  }
  return out;
}

async function scanJsonIndex(
  access: IndexAccess,
  source: DocSource,
  idx: MangoIndex,
  req: FindRequest,
  out: Record<string, unknown>[],
  stats: { keys: number; docs: number },
  partition: string | undefined,
): Promise<unknown> {
  const design = idx.design as DesignDoc;
  const group = access.group(source.dbKey, design);
  const vi = group.viewIndex(idx.name);
  if (req.update) await group.update(source);
  const snap = group.snapshot();
  try {
    const order = group.orders[vi]!;
    const root = snap.roots[vi] ?? null;
    const range = indexRange(idx, req.selector);
    // A partitioned index keeps each partition's rows together: every bound lies in the partition.
    const part = partition === undefined ? {} : { partition };
    let lo = rank(group.nodes, root, order, { key: range.lo, id: MIN_ID, ...part }, false);
    let hi = rank(group.nodes, root, order, { key: range.hi, id: MAX_ID, ...part }, true);
    const desc = req.sort.length > 0 && (req.sort[0] as SortField).dir === 'desc';
    if (req.bookmark !== null) {
      const bm = decodeBookmark(req.bookmark, (v) => Array.isArray(v) && v.length === 2 && typeof v[1] === 'string') as [unknown, string];
      // Resume strictly after (fwd) / before (rev) the last row returned.
      if (!desc) lo = Math.max(lo, rank(group.nodes, root, order, { key: bm[0], id: bm[1], ...part }, true));
      else hi = Math.min(hi, rank(group.nodes, root, order, { key: bm[0], id: bm[1], ...part }, false));
    }
    let skip = req.skip;
    let last: unknown = undefined;
    let pos = desc ? hi - 1 : lo;
    while (out.length < req.limit && (desc ? pos >= lo : pos < hi)) {
      const rows = rowsAt(group.nodes, root, pos, SCAN_CHUNK, desc ? -1 : 1, desc ? lo : hi);
      if (rows.length === 0) break;
      pos += desc ? -rows.length : rows.length;
      for (const row of rows) {
        stats.keys++;
        const doc = source.getDoc(row.id);
        if (doc === null) continue;
        stats.docs++;
        if (!matchNormalized(req.selector, doc)) continue;
        if (skip > 0) {
          skip--;
          continue;
        }
        out.push(finishDoc(doc, req));
        last = [row.key, row.id];
        if (out.length >= req.limit) break;
      }
    }
    return last;
  } finally {
    snap.release();
  }
}

function scanAllDocs(
  source: DocSource,
  req: FindRequest,
  out: Record<string, unknown>[],
  stats: { keys: number; docs: number },
  partition: string | undefined,
): unknown {
  const desc = req.sort.length > 0 && (req.sort[0] as SortField).dir === 'desc';
  const after =
    req.bookmark === null ? null : (decodeBookmark(req.bookmark, (v) => typeof v === 'string') as string);
  // A partition's ids are the raw range [p:, p;): the scan starts there and stops at its end.
  const pStart = partition === undefined ? null : partition + ':';
  const pEnd = partition === undefined ? null : partition + ';';
  const inPartition = (id: string): boolean => pStart === null || (compareIds(id, pStart) > 0 && compareIds(id, pEnd as string) < 0);
  const keep = (doc: Record<string, unknown>): boolean => {
    stats.keys++;
    stats.docs++;
    return matchNormalized(req.selector, doc);
  };
  const byId = source as Partial<DocsById>;
  if (!desc && typeof byId.docsById === 'function') {
    // Stream in _id order and stop as soon as the page is full.
    let cursor = pStart !== null && (after === null || compareIds(after, pStart) < 0) ? pStart : after;
    let skip = req.skip;
    let last: unknown = undefined;
    for (;;) {
      const chunk = byId.docsById(cursor, SCAN_CHANGES_CHUNK);
      if (chunk.length === 0) return last;
      for (const ch of chunk) {
        cursor = ch.id;
        if (pEnd !== null && compareIds(ch.id, pEnd) >= 0) return last;
        if (ch.deleted || ch.doc === null || !keep(ch.doc)) continue;
        if (skip > 0) {
          skip--;
          continue;
        }
        out.push(finishDoc(ch.doc, req));
        last = ch.id;
        if (out.length >= req.limit) return last;
      }
    }
  }
  // Fallback: read every live doc through the changes feed, keep matches, sort by _id.
  const matches: Record<string, unknown>[] = [];
  let since = 0;
  for (;;) {
    const chunk = source.changesSince(since, SCAN_CHANGES_CHUNK);
    if (chunk.length === 0) break;
    for (const ch of chunk) {
      if (ch.deleted || ch.doc === null || !inPartition(ch.id)) continue;
      if (after !== null && (desc ? compareIds(ch.id, after) >= 0 : compareIds(ch.id, after) <= 0)) continue;
      if (keep(ch.doc)) matches.push(ch.doc);
    }
    since = (chunk[chunk.length - 1] as ChangedDoc).seq;
  }
  matches.sort((a, b) => compareIds(a['_id'] as string, b['_id'] as string) * (desc ? -1 : 1));
  const page = matches.slice(req.skip, req.skip + req.limit);
  for (const d of page) out.push(finishDoc(d, req));
  const lastDoc = page[page.length - 1];
  return lastDoc === undefined ? undefined : lastDoc['_id'];
}

/** POST /db/_explain: the plan CouchDB would run, without running it. */
export function explainFind(dbName: string, ddocs: readonly DesignDoc[], body: unknown, scope: FindScope = {}): Record<string, unknown> {
  const req = parseFind(body);
  const plan = planFind(ddocs, req, scope);
  const idx = plan.index;
  const partition = scope.partition ?? null;
  const opts = {
    use_index: req.useIndex,
    bookmark: req.bookmark ?? 'nil',
    limit: req.limit,
    skip: req.skip,
    sort: Object.fromEntries(req.sort.map((s) => [s.field, s.dir])),
    fields: req.fields ?? [],
    partition: partition ?? '',
    r: req.r,
    conflicts: req.conflicts,
    stale: false,
    update: req.update,
    stable: req.stable,
    execution_stats: req.executionStats,
    allow_fallback: req.allowFallback,
  };
  const desc = req.sort.length > 0 && (req.sort[0] as SortField).dir === 'desc';
  let mrargs: Record<string, unknown>;
  if (idx.type === 'json') {
    const range = indexRange(idx, req.selector);
    const toJson = (k: unknown[]): unknown[] => k.map((x) => (x === MAX_KEY ? '<MAX>' : x));
    mrargs = {
      include_docs: true,
      view_type: 'map',
      reduce: false,
      partition,
      start_key: toJson(desc ? range.hi : range.lo),
      end_key: toJson(desc ? range.lo : range.hi),
      direction: desc ? 'rev' : 'fwd',
      stable: req.stable,
      update: req.update,
      conflicts: 'undefined',
    };
  } else {
    mrargs = {
      include_docs: true,
      view_type: 'map',
      reduce: false,
      partition,
      start_key: null,
      end_key: '<MAX>',
      direction: desc ? 'rev' : 'fwd',
      stable: req.stable,
      update: req.update,
      conflicts: 'undefined',
    };
  }
  return {
    dbname: dbName,
    index: indexJson(idx),
    partitioned: idx.partitioned,
    selector: req.selector,
    opts,
    limit: req.limit,
    skip: req.skip,
    fields: req.fields ?? [],
    index_candidates: indexCandidates(ddocs, req, idx, partition !== null),
    selector_hints: [{ type: 'json', indexable_fields: [...new Set(topConditions(req.selector).map(([f]) => f))].sort(), unindexable_fields: [] }],
    mrargs,
    covering: false,
  };
}

/**
 * The indexes `_explain` considered and did not choose (CouchDB 3.5's `index_candidates`): the
 * special index is always usable but unfavoured; JSON indexes of this query's scope are usable
 * or not for its fields. Indexes of the other scope (partitioned or global) are not candidates.
 */
function indexCandidates(ddocs: readonly DesignDoc[], req: FindRequest, chosen: MangoIndex, partitioned: boolean): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let ranking = 1;
  for (const i of listIndexes(ddocs)) {
    if (i === chosen || (i.ddoc === chosen.ddoc && i.name === chosen.name)) continue;
    if (i.type === 'special') {
      out.push({ index: indexJson(i), analysis: { usable: true, reasons: [{ name: 'unfavored_type' }], ranking: ranking++, covering: null } });
      continue;
    }
    if (i.partitioned !== partitioned) continue;
    const usable = usableJson(i, req);
    out.push({
      index: indexJson(i),
      analysis: usable
        ? { usable: true, reasons: [{ name: 'less_overlap' }], ranking: ranking++, covering: false }
        : { usable: false, reasons: [{ name: 'field_mismatch' }], ranking: 0, covering: false },
    });
  }
  return out;
}
