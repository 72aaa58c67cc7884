// The batch endpoints replication and apps lean on: `_bulk_docs`, `_all_docs`, `_bulk_get`,
// `_revs_diff`. Each answers in request order and never half-applies a malformed request: the
// whole body is validated before anything is written.

import { performance } from 'node:perf_hooks';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { CouchError } from '../../errors/catalog.js';
import { docKind, validateDocId } from '../../docs/doc-id.js';
import { partitionEnd, partitionOf, partitionStart, validatePartitionedDocId } from '../../partitions/partition.js';
import { parseDoc, type ParsedDoc } from '../../docs/parse-doc.js';
import { renderRevision, type ReadOptions } from '../../docs/read.js';
import { renderDoc, renderLocal } from '../../docs/render.js';
import { isDbAdmin } from '../../auth/access.js';
import { leaves, latestLeaves, parseRev, revsDiff } from '../../revtree/index.js';
import type { Database, Edit, EditResult } from '../../storage/database.js';
import { parseJson, readJson, readRaw, requireJsonType } from '../body.js';
import type { BulkHashes } from '../../storage/rev-hasher.js';
import { bool, json, nonNegInt, type Query } from '../query.js';
import { RawJson, notModifiedIfCurrent, send, sendParts } from '../respond.js';
import type { Services } from '../services.js';
import { acceptsType, bulkGetMultipart, followingAtts, newBoundary, type BulkGetPart, type FollowingAtt } from '../multipart.js';
import { writeDocs, writeStatus } from '../write.js';
import { openDb, queryEtag, readOptions, applyLocalRevisions } from './documents.js';
import type { MapRow, ViewResponse } from '../../../views/index.js';
import { newUuid } from './server.js';

/** `_bulk_docs` bodies from this size on (about 100 docs) have their rev hashes started on the worker as they arrive. */
const EARLY_HASH_BYTES_MIN = 32 * 1024;

export function registerBulk(router: Router, s: Services): void {
  router.post('/:db/_bulk_docs', async (ctx) => {
    const db = openDb(s, ctx);
    requireJsonType(ctx);
    const raw = await readRaw(ctx, s.limits);
    // A large body: the other core starts on the rev hashes while this one parses.
    const early = raw.length >= EARLY_HASH_BYTES_MIN ? s.catalog.env.hasher.bulk(raw, s.limits.maxBulkDocs) : undefined;
    const body = parseJson(raw, s.limits.maxJsonDepth);
    const answer = await bulkDocs(ctx, s, db, body, early);
    if ('aborted' in answer) return send(ctx, 417, answer.aborted);
    send(ctx, writeStatus(ctx, 201, (body as { w?: unknown }).w ?? (ctx.query as Query).w), answer.results);
  });

  // `_all_docs`, and `_design_docs`: the same over design documents only (its total_rows too).
  for (const [path, design] of [['/:db/_all_docs', false], ['/:db/_design_docs', true]] as const) {
    router.get(path, (ctx) => allDocs(ctx, openDb(s, ctx), ctx.query as Query, undefined, design));
    router.post(path, async (ctx) => {
      const db = openDb(s, ctx);
      requireJsonType(ctx);
      const body = (await readJson(ctx, s.limits)) as Record<string, unknown> | null;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CouchError('bad_request', 'Request body must be a JSON object');
      const keys = body.keys;
      if (keys !== undefined && !Array.isArray(keys)) throw new CouchError('bad_request', '`keys` body member must be an array.');
      const { keys: _keys, ...params } = body;
      allDocs(ctx, db, bodyParams(ctx.query as Query, params), keys as unknown[] | undefined, design);
    });
  }

  // Several `_all_docs` (or `_design_docs`) queries in one request (CouchDB 2.2+): each member of
  // `queries` holds query parameters, over the URL's. Answered in order, or the request fails.
  const multiQuery = async (ctx: Context, design: boolean) => {
    const db = openDb(s, ctx);
    requireJsonType(ctx);
    const body = (await readJson(ctx, s.limits)) as { queries?: unknown } | null;
    const queries = typeof body === 'object' && body !== null ? body.queries : undefined;
    if (!Array.isArray(queries)) throw new CouchError('bad_request', 'Request body must contain a `queries` array.');
    const results = queries.map((member) => {
      if (typeof member !== 'object' || member === null || Array.isArray(member)) throw new CouchError('bad_request', 'Each query must be a JSON object');
      const { keys, ...params } = member as Record<string, unknown>;
      if (keys !== undefined && !Array.isArray(keys)) throw new CouchError('bad_request', '`keys` member must be an array.');
      const q = bodyParams(ctx.query as Query, params, true);
      const a = allDocsAnswer(db, q, keys as unknown[] | undefined, design);
      return a.head + a.rows.join(a.sep) + a.tail;
    });
    send(ctx, 200, new RawJson('{"results":[' + results.join(',\n') + ']}'));
  };
  router.post('/:db/_all_docs/queries', (ctx) => multiQuery(ctx, false));
  router.post('/:db/_design_docs/queries', (ctx) => multiQuery(ctx, true));

  // `_local_docs`: the `_local` documents, by id (CouchDB 2+).
  const localDocs = (ctx: Context, q: Query, keys: unknown[] | undefined) => {
    const db = openDb(s, ctx);
    const descending = bool(q, 'descending');
    const includeDocs = bool(q, 'include_docs');
    const limit = nonNegInt(q, 'limit');
    const skip = nonNegInt(q, 'skip') ?? 0;
    const { start, end, none } = idBounds(q, descending);
    const inclusiveEnd = bool(q, 'inclusive_end', true);
    let rows = none ? [] : db.localDocs();
    if (keys) {
      const byId = new Map(rows.map((r) => [r.id, r]));
      rows = keys.filter((k): k is string => typeof k === 'string').flatMap((k) => (byId.has(k) ? [byId.get(k) as (typeof rows)[number]] : []));
    } else {
      if (descending) rows.reverse();
      const before = (a: string, b: string) => (descending ? Buffer.compare(Buffer.from(b), Buffer.from(a)) < 0 : Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0);
      rows = rows.filter((r) => (start === undefined || !before(r.id, start)) && (end === undefined || (before(r.id, end) || (inclusiveEnd && r.id === end))));
    }
    const page = rows.slice(skip, limit === undefined ? undefined : skip + limit);
    const out = page.map((r) => {
      const row: Record<string, unknown> = { id: r.id, key: r.id, value: { rev: `0-${r.doc.rev}` } };
      if (includeDocs) row.doc = JSON.parse(renderLocal(r.id, r.doc.rev, r.doc.json)) as unknown;
      return row;
    });
    send(ctx, 200, { total_rows: null, offset: null, rows: out });
  };
  router.get('/:db/_local_docs', (ctx) => {
    const keys = json(ctx.query as Query, 'keys');
    if (keys !== undefined && !Array.isArray(keys)) throw new CouchError('bad_request', '`keys` member must be an array.');
    localDocs(ctx, ctx.query as Query, keys);
  });
  // As a POSTed `_all_docs`: body members are parameters, the URL's win (local_docs_test.exs).
  router.post('/:db/_local_docs', async (ctx) => {
    requireJsonType(ctx);
    const body = (await readJson(ctx, s.limits)) as Record<string, unknown> | null;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CouchError('bad_request', 'Request body must be a JSON object');
    const { keys, ...params } = body;
    if (keys !== undefined && !Array.isArray(keys)) throw new CouchError('bad_request', '`keys` body member must be an array.');
    localDocs(ctx, bodyParams(ctx.query as Query, params), keys);
  });

  router.post('/:db/_bulk_get', async (ctx) => {
    const db = openDb(s, ctx);
    s.stats.bulkRequests++;
    requireJsonType(ctx);
    const body = (await readJson(ctx, s.limits)) as { docs?: unknown } | null;
    if (typeof body !== 'object' || body === null || !Array.isArray(body.docs)) throw new CouchError('bad_request', 'Missing JSON list of \'docs\'.');
    if (body.docs.length > s.limits.maxBulkDocs) throw new CouchError('too_large', `Number of documents exceeds the limit of ${s.limits.maxBulkDocs}`);
    const q = ctx.query as Query;
    const opts: ReadOptions = { ...readOptions(q), revs: bool(q, 'revs') };
    // chttpd_db: multipart when the client accepts multipart/mixed (or, for old Couchbase Lite,
    // multipart/related) and not application/json.
    const accept = ctx.get('accept');
    const mpType = acceptsType(accept, 'application/json') ? undefined : acceptsType(accept, 'multipart/mixed') ? 'multipart/mixed' : acceptsType(accept, 'multipart/related') ? 'multipart/related' : undefined;
    const entries = bulkGetEntries(db, body.docs, opts, bool(q, 'latest'), mpType !== undefined);
    if (mpType === undefined) return send(ctx, 200, new RawJson(bulkGetJson(entries)));
    const mp = bulkGetMultipart(bulkGetParts(entries), mpType);
    ctx.status = 200;
    ctx.set('Content-Type', mp.contentType);
    ctx.body = mp.body;
  });

  router.post('/:db/_revs_diff', async (ctx) => {
    const db = openDb(s, ctx);
    requireJsonType(ctx);
    const body = await readJson(ctx, s.limits);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CouchError('bad_request', 'Request body must be a JSON object');
    const out: Record<string, { missing: string[]; possible_ancestors?: string[] }> = {};
    for (const [id, revs] of Object.entries(body as Record<string, unknown>)) {
      if (!Array.isArray(revs) || !revs.every((r) => typeof r === 'string')) throw new CouchError('bad_request', 'Revisions must be a JSON array of strings');
      const info = db.docInfo(id);
      const diff = revsDiff(info?.tree ?? [], revs as string[]);
      if (diff.missing.length === 0) continue;
      out[id] = diff.possibleAncestors.length > 0 ? { missing: diff.missing, possible_ancestors: diff.possibleAncestors } : { missing: diff.missing };
    }
    send(ctx, 200, out);
  });
}

// ---- _bulk_docs -----------------------------------------------------------------------------

async function bulkDocs(ctx: Context, s: Services, db: Database, body: unknown, early?: BulkHashes): Promise<{ results: unknown[] } | { aborted: unknown[] }> {
  // chttpd_db:db_req for _bulk_docs, check by check.
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CouchError('bad_request', 'Request body must be a JSON object');
  const { docs, new_edits, all_or_nothing } = body as { docs?: unknown; new_edits?: unknown; all_or_nothing?: unknown };
  if (docs === undefined) throw new CouchError('bad_request', 'POST body must include `docs` parameter.');
  if (!Array.isArray(docs)) throw new CouchError('bad_request', '`docs` parameter must be an array.');
  if (docs.length > s.limits.maxBulkDocs) throw new CouchError('too_large', `Number of documents exceeds the limit of ${s.limits.maxBulkDocs}`);
  s.stats.bulkDocs.record(docs.length, performance.now());
  // CouchDB 3.5 fails a non-boolean `new_edits` with 500 function_clause; later CouchDB (and
  // Chaise) answer this 400.
  if (new_edits !== undefined && typeof new_edits !== 'boolean') throw new CouchError('bad_request', '`new_edits` parameter must be a boolean.');
  const newEdits = new_edits !== false;
  // Validate everything first: a malformed member fails the whole request, as in CouchDB.
  const parsed: { id: string; doc: ParsedDoc }[] = docs.map((raw) => {
    const doc = parseDoc(raw);
    const id = doc.id === undefined ? (newEdits ? newUuid(s) : missingRev()) : validateDocId(doc.id);
    if (!newEdits && doc.rev === undefined && doc.revisions === undefined) missingRev();
    if (doc.json.length > s.limits.maxDocumentBytes) throw new CouchError('document_too_large', id);
    return { id, doc };
  });
  if (newEdits && all_or_nothing === true) {
    // CouchDB 2+ dropped all-or-nothing commits: nothing is written, every doc is refused with 417.
    return { aborted: parsed.map((p) => ({ id: p.id, rev: p.doc.rev ?? '0-', error: 'not_implemented', reason: 'all_or_nothing is not supported' })) };
  }
  if (newEdits) early?.fill(parsed.map((p) => p.doc));
  const admin = isDbAdmin(db.security, ctx.state.user);
  const results: EditResult[] = new Array(parsed.length).fill(null);
  const edits: Edit[] = [];
  const slots: number[] = [];
  for (let i = 0; i < parsed.length; i++) {
    const p = parsed[i] as { id: string; doc: ParsedDoc };
    const kind = docKind(p.id);
    if (kind === 'design' && !admin) {
      results[i] = { id: p.id, error: 'unauthorized', reason: 'You are not a db or server admin.' };
    } else if (kind === 'local') {
      applyLocalRevisions(p.doc);
      const rev = await db.putLocal(p.id, p.doc);
      results[i] = { ok: true, id: p.id, rev };
    } else {
      edits.push(p);
      slots.push(i);
    }
  }
  const written = edits.length > 0 ? await writeDocs(s, ctx, db, edits, newEdits) : [];
  written.forEach((r, j) => (results[slots[j] as number] = r));
  if (!newEdits) return { results: results.filter((r) => r !== null && 'error' in r) };
  return { results };
}

function missingRev(): never {
  throw new CouchError('bad_request', 'When `new_edits: false`, the document needs `_rev` or `_revisions` specified');
}

// ---- _all_docs ------------------------------------------------------------------------------

/** An `_all_docs` answer in pieces, so a large one can stream. */
interface AllDocsAnswer {
  head: string;
  rows: string[];
  sep: string;
  tail: string;
  /** Range answers can be any size and stream; `keys` answers are as long as the request's list. */
  stream: boolean;
}

/** The first id past the design documents' range (`_design/` then `0`, the next byte after `/`). */
const DESIGN_START = '_design/';
const DESIGN_END = '_design0';

export function allDocs(ctx: Context, db: Database, q: Query, bodyKeys: unknown[] | undefined, design: boolean, partition?: string, partitionQueryLimit?: number): void {
  // chttpd's ETag of an _all_docs answer changes with the database and the query; a client holding
  // a current copy gets 304 before any row is read.
  const etag = queryEtag(db, design ? '_design_docs' : partition === undefined ? '_all_docs' : `_partition/${partition}/_all_docs`, q, bodyKeys);
  if (notModifiedIfCurrent(ctx, etag)) return;
  const a = allDocsAnswer(db, q, bodyKeys, design, partition, partitionQueryLimit);
  if (a.stream) sendParts(ctx, 200, a.head, a.rows, a.sep, a.tail);
  else send(ctx, 200, new RawJson(a.head + a.rows.join(a.sep) + a.tail));
}

/**
 * `_all_docs`, or with `partition` `/_partition/{p}/_all_docs`: one partition's ids are the raw
 * range [`p:`, `p;`), so the range is clamped to it and the walk reads that partition's rows only;
 * `total_rows` is the partition's doc count and `offset` counts from its start.
 */
function allDocsAnswer(db: Database, q: Query, bodyKeys: unknown[] | undefined, design = false, partition?: string, partitionQueryLimit?: number): AllDocsAnswer {
  const includeDocs = bool(q, 'include_docs');
  const descending = bool(q, 'descending');
  const inclusiveEnd = bool(q, 'inclusive_end', true);
  let limit = nonNegInt(q, 'limit');
  const skip = nonNegInt(q, 'skip') ?? 0;
  if (partition !== undefined && partitionQueryLimit !== undefined) {
    // couch_mrview_util:apply_limit: a partition's _all_docs gets at most partition_query_limit rows.
    if (limit === undefined) limit = partitionQueryLimit;
    else if (limit > partitionQueryLimit) throw new CouchError('query_parse_error', `Limit is too large, must not exceed ${partitionQueryLimit}`);
  }
  const readOpts: ReadOptions = { conflicts: bool(q, 'conflicts'), attachments: bool(q, 'attachments') };
  const updateSeq = bool(q, 'update_seq');
  const total = design ? countDesign(db) : partition === undefined ? db.counters.docCount : db.partitionStats(partition).docCount;
  const keys = bodyKeys ?? (json(q, 'keys') as unknown[] | undefined);
  // `key` is a one-key range (its offset counts the rows before it); `keys` wins over it.
  const key = keys === undefined ? json(q, 'key') : undefined;
  const head = (offset: number | null) =>
    '{"total_rows":' + total + ',"offset":' + offset + (updateSeq ? ',"update_seq":' + db.seq.json(db.updateSeq) : '') + ',"rows":[';

  const plain = !readOpts.conflicts && !readOpts.attachments;
  const docText = (id: string, rev: string) => {
    if (plain) {
      // The common case needs only the winner's body, not the tree.
      const info = db.docInfo(id);
      return info ? renderDoc(id, rev, false, info.json, info.atts) : 'null';
    }
    const info = db.docInfo(id);
    return info ? renderRevision(db, id, info, rev, readOpts) ?? 'null' : 'null';
  };

  if (keys !== undefined || (key !== undefined && typeof key !== 'string')) {
    const list = keys ?? [key];
    if (!Array.isArray(list)) throw new CouchError('bad_request', '`keys` parameter must be an array.');
    // couch_mrview_util:validate_args: several keys cannot be combined with a range (one key
    // can, and is looked up as `keys`).
    if (list.length > 1 && [q.key, q.startkey, q.start_key, q.endkey, q.end_key].some((v) => v !== undefined)) {
      throw new CouchError('query_parse_error', '`keys` is incompatible with `key`, `start_key` and `end_key`');
    }
    // CouchDB answers `keys` in request order, reversed by `descending`.
    const ordered = descending ? [...list].reverse() : list;
    const rows: string[] = [];
    for (const k of ordered) {
      if (typeof k !== 'string' || (design && !k.startsWith(DESIGN_START)) || (partition !== undefined && partitionOf(k) !== partition)) {
        rows.push(JSON.stringify({ key: k, error: 'not_found' }));
        continue;
      }
      if (k.startsWith('_local/')) {
        // fabric_view_all_docs opens each key as a doc, and couch_db:open_doc opens `_local` ids
        // too: they answer with their `0-N` rev, though ranges never list them.
        const local = design ? undefined : db.localDoc(k);
        const rev = local ? `0-${local.rev}` : '';
        rows.push(local ? JSON.stringify({ id: k, key: k, value: { rev } }).slice(0, -1) + (includeDocs ? ',"doc":' + renderLocal(k, local.rev, local.json) : '') + '}' : JSON.stringify({ key: k, error: 'not_found' }));
        continue;
      }
      const info = db.docInfo(k);
      if (!info) {
        rows.push(JSON.stringify({ key: k, error: 'not_found' }));
        continue;
      }
      let row = '{"id":' + JSON.stringify(k) + ',"key":' + JSON.stringify(k) + ',"value":{"rev":"' + info.rev + '"' + (info.deleted ? ',"deleted":true}' : '}');
      if (includeDocs) row += ',"doc":' + (info.deleted ? 'null' : docText(k, info.rev));
      rows.push(row + '}');
    }
    const sliced = rows.slice(skip, limit === undefined ? undefined : skip + limit);
    return { head: head(keys !== undefined ? null : 0), rows: sliced, sep: ',', tail: ']}', stream: false };
  }

  const bounds = idBounds(q, descending);
  let start = key ?? bounds.start;
  let end = key ?? bounds.end;
  let inclusive = inclusiveEnd;
  let offset: number;
  if (design) {
    // The design documents' range, narrowed by the query's own bounds.
    const [low, high] = descending ? [end, start] : [start, end];
    const lo = low === undefined || low < DESIGN_START ? DESIGN_START : low;
    const hi = high === undefined || high > DESIGN_END ? DESIGN_END : high;
    [start, end] = descending ? [hi, lo] : [lo, hi];
    offset = Math.min(countDesign(db, start, descending) + skip, total);
  } else if (partition !== undefined) {
    // Clamp the range to the partition: neither bound may leave [p:, p;). Neither `p:` nor `p;`
    // can be a document of a partitioned database, so inclusive or not they add no row.
    const low = partitionStart(partition);
    const high = partitionEnd(partition);
    if (!descending) {
      if (start === undefined || start < low) start = low;
      if (end === undefined || end >= high) [end, inclusive] = [high, false];
    } else {
      if (start === undefined || start > high) start = high;
      if (end === undefined || end < low) [end, inclusive] = [low, true];
    }
    const before = descending ? db.liveCountBetween(start + '\u0000', high) : db.liveCountBetween(low, start);
    offset = Math.min(before + skip, total);
  } else {
    offset = Math.min(db.liveCountBefore(start, descending) + skip, total);
  }
  const parts: string[] = [];
  const empty = partition !== undefined && start !== undefined && end !== undefined && (descending ? start < end : start > end);
  if (limit !== 0 && !empty && !(key === undefined && bounds.none)) {
    const range = db.liveRange({
      ...(start !== undefined ? { start } : {}),
      ...(end !== undefined ? { end } : {}),
      descending,
      inclusiveEnd: inclusive,
      offset: skip,
    });
    for (const { id, rev } of range) {
      const idJson = JSON.stringify(id);
      let row = '{"id":' + idJson + ',"key":' + idJson + ',"value":{"rev":"' + rev + '"}';
      if (includeDocs) row += ',"doc":' + docText(id, rev);
      parts.push(row + '}');
      if (limit !== undefined && parts.length >= limit) break;
    }
  }
  return { head: head(offset), rows: parts, sep: ',\n', tail: ']}', stream: true };
}

/**
 * Body members act as query parameters; values are JSON. For a POSTed `_all_docs` the URL's
 * parameter wins where both name one (couch_mrview_http:parse_body_and_query); each member of
 * `queries` overrides the URL's.
 */
export function bodyParams(query: Query, members: Record<string, unknown>, bodyWins = false): Query {
  const q: Query = { ...query };
  for (const [k, v] of Object.entries(members)) {
    if (!bodyWins && q[k] !== undefined) continue;
    q[k] = typeof v === 'string' && !k.endsWith('key') ? v : JSON.stringify(v);
  }
  return q;
}

/** Live design documents, or those before `from` in the walk's direction. */
function countDesign(db: Database, from?: string, descending = false): number {
  let n = 0;
  for (const { id } of db.liveRange({ start: DESIGN_START, end: DESIGN_END, inclusiveEnd: false })) {
    if (from !== undefined && (descending ? id <= from : id >= from)) {
      if (!descending) break;
      continue;
    }
    n++;
  }
  return n;
}

/**
 * A `_all_docs` bound that is not a string. Its ids collate raw, in Erlang term order, where
 * numbers, atoms (`true`, `false`, `null`), objects and arrays all sort before binaries: such a
 * bound lies below every id (couch_mrview's all_docs with a non-binary start or end key).
 */
const BELOW_ALL = Symbol('below every id');

function keyParam(q: Query, a: string, b: string): string | typeof BELOW_ALL | undefined {
  const v = json(q, a) ?? json(q, b);
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : BELOW_ALL;
}

/**
 * The range bounds of an id range: a start below every id is no start going up and nothing
 * going down; an end below every id is nothing going up and no end going down.
 */
function idBounds(q: Query, descending: boolean): { start: string | undefined; end: string | undefined; none: boolean } {
  const start = keyParam(q, 'startkey', 'start_key');
  const end = keyParam(q, 'endkey', 'end_key');
  const none = descending ? start === BELOW_ALL : end === BELOW_ALL;
  return { start: start === BELOW_ALL ? undefined : start, end: end === BELOW_ALL ? undefined : end, none };
}

// ---- _bulk_get ------------------------------------------------------------------------------

/** Why an id cannot name a document of a partitioned database, or undefined if it can. */
function partitionedIdError(id: string): { error: string; reason: string } | undefined {
  try {
    validatePartitionedDocId(id);
    return undefined;
  } catch (e) {
    if (e instanceof CouchError) return { error: e.error, reason: e.reason };
    throw e;
  }
}

/** What `_bulk_get` found for one request: its id and, per revision, the doc or an error. */
interface BulkGetEntry {
  id: string | null;
  /** An error for the request as a whole (CouchDB's `{DocId, {error, …}}`), shown with the id. */
  error?: { rev: string | null; error: string; reason: string };
  /** Per revision: the revision rendered as JSON (with its attachments to send, in multipart), or missing. */
  revs: ({ rev: string; json: string; atts?: FollowingAtt[] } | { rev: string; missing: true })[];
}

/**
 * chttpd_db:bulk_get_open_doc_revs: each request's revisions. In `multipart` form every
 * attachment's data follows in parts of its own (CouchDB renders with `[attachments, follows,
 * att_encoding_info]` whatever `attachments=` says), except what `atts_since` leaves as stubs.
 */
function bulkGetEntries(db: Database, requests: unknown[], opts: ReadOptions, latest: boolean, multipart: boolean): BulkGetEntry[] {
  const entries: BulkGetEntry[] = [];
  for (const r of requests) {
    const req = (typeof r === 'object' && r !== null ? r : {}) as { id?: unknown; rev?: unknown; atts_since?: unknown };
    const id = typeof req.id === 'string' ? req.id : undefined;
    const badId = id !== undefined && db.partitioned ? partitionedIdError(id) : undefined;
    if (badId) {
      entries.push({ id: id ?? null, error: { rev: null, ...badId }, revs: [] });
      continue;
    }
    if (id === undefined) {
      // CouchDB's words, and its null rev, for a request without an id.
      entries.push({ id: null, error: { rev: null, error: 'bad_request', reason: 'document id missed' }, revs: [] });
      continue;
    }
    const info = db.docInfo(id);
    if (!info) {
      // Without a rev, open_revs(all) finds nothing: CouchDB's error for the request, its rev the
      // atom `undefined`. With one, that revision is missing.
      if (typeof req.rev === 'string') entries.push({ id, revs: [{ rev: req.rev, missing: true }] });
      else entries.push({ id, error: { rev: 'undefined', error: 'not_found', reason: 'missing' }, revs: [] });
      continue;
    }
    let ropts: ReadOptions = Array.isArray(req.atts_since) ? { ...opts, attsSince: req.atts_since.filter((x): x is string => typeof x === 'string') } : opts;
    let revs: string[];
    if (typeof req.rev === 'string') {
      const parsed = parseRev(req.rev);
      if (!parsed) revs = [req.rev];
      else if (latest) {
        const found = latestLeaves(info.tree, parsed);
        revs = found.length > 0 ? found.map((l) => l.rev) : [req.rev];
      } else revs = [req.rev];
    } else {
      revs = leaves(info.tree).map((l) => l.rev);
    }
    const entry: BulkGetEntry = { id, revs: [] };
    for (const rev of revs) {
      let atts: FollowingAtt[] | undefined;
      if (multipart) {
        atts = [];
        ropts = { ...ropts, attachments: true, attEncodingInfo: true, follow: followingAtts(db, atts) };
      }
      const text = renderRevision(db, id, info, rev, ropts);
      entry.revs.push(text === undefined ? { rev, missing: true } : { rev, json: text, ...(atts ? { atts } : {}) });
    }
    entries.push(entry);
  }
  return entries;
}

function bulkGetJson(entries: BulkGetEntry[]): string {
  const results: string[] = [];
  for (const e of entries) {
    const err = (rev: string | null, error: string, reason: string) => '{"error":' + JSON.stringify({ id: e.id, rev, error, reason }) + '}';
    const docs = e.error ? [err(e.error.rev, e.error.error, e.error.reason)] : e.revs.map((r) => ('missing' in r ? err(r.rev, 'not_found', 'missing') : '{"ok":' + r.json + '}'));
    results.push('{"id":' + JSON.stringify(e.id) + ',"docs":[' + docs.join(',') + ']}');
  }
  return '{"results":[' + results.join(',') + ']}';
}

/** The parts of a multipart `_bulk_get` answer, in CouchDB's order and error shapes. */
function bulkGetParts(entries: BulkGetEntry[]): BulkGetPart[] {
  const parts: BulkGetPart[] = [];
  for (const e of entries) {
    if (e.error) {
      parts.push({ error: { id: e.id, rev: e.error.rev, error: e.error.error, reason: e.error.reason } });
      continue;
    }
    // One inner boundary per request, shared by its revisions, as send_docs_multipart_bulk_get.
    const inner = '--' + newBoundary();
    for (const r of e.revs) {
      // A missing revision's part names no id (CouchDB's {{not_found, missing}, Rev}).
      if ('missing' in r) parts.push({ error: { rev: r.rev, error: 'not_found', reason: 'missing' } });
      else parts.push({ id: e.id as string, rev: r.rev, json: r.json, atts: r.atts ?? [], boundary: inner });
    }
  }
  return parts;
}

/** An `_all_docs` answer as rows, for a `_list` over `_all_docs`. */
export function allDocsRows(db: Database, q: Query, bodyKeys: unknown[] | undefined): ViewResponse {
  const a = allDocsAnswer(db, q, bodyKeys);
  const { rows: _none, ...head } = JSON.parse(a.head + ']}') as Record<string, unknown>;
  return { ...head, rows: a.rows.map((r) => JSON.parse(r) as MapRow) };
}
