// A view query through the lounge: every range is asked (one replica each), the rows are
// merged in CouchDB's order, reduce rows with equal keys are re-reduced, and skip/limit are
// applied at the proxy (see merge/merge-view.ts for the exact rules).
//
// It also keeps CouchDB's promises that single shards cannot keep alone:
// - `include_docs` with linked documents (`emit(k, {_id: other})`): the linked doc may live
//   on another range, so the proxy fetches it from there;
// - a range whose copy of the design doc is missing (a replica that was down when it was
//   written) gets the home copy and is asked again, once;
// - `update_seq=true` returns a since token for the whole database.

import type { Lounge } from '../lounge.js';
import type { Range } from '../placement/ranges.js';
import { LoungeError, badRequest } from '../errors/lounge-error.js';
import { dbPath, docPath, UpstreamError } from '../upstream/node-client.js';
import { openEach, type RangeRows } from '../reads/fan-out.js';
import { intParam, type ListAnswer } from '../reads/all-docs.js';
import { mergeViewRows, viewTotals } from '../merge/merge-view.js';
import type { ViewRow } from '../merge/view-rows.js';
import { encodeSince } from '../changes/since-token.js';
import { rereducerFor } from './rereduce.js';

/** Parameters the proxy applies itself. */
const PROXY_PARAMS = new Set(['skip', 'limit', 'keys']);
/** Linked docs fetched at once for one chunk of rows. */
const LINKED_FETCH_CONCURRENCY = 16;

export interface ViewRequest {
  db: string;
  ddoc: string;
  view: string;
  q: URLSearchParams;
  /** `keys` from a POST body (or the `keys` query parameter). */
  keys: unknown[] | undefined;
}

export async function queryView(lounge: Lounge, req: ViewRequest): Promise<ListAnswer> {
  const { db, q } = req;
  const ddoc = await lounge.designs.get(db, req.ddoc);
  const view = ddoc.views?.[req.view];
  if (!view || typeof view !== 'object') throw new LoungeError(404, 'not_found', 'missing_named_view');
  const reduceSrc = typeof view.reduce === 'string' ? view.reduce : undefined;
  const reduce = reduceSrc !== undefined && q.get('reduce') !== 'false';
  const skip = intParam(q, 'skip') ?? 0;
  const limit = intParam(q, 'limit');
  const descending = q.get('descending') === 'true';
  let keys = req.keys;
  if (keys === undefined && q.has('keys')) {
    try {
      keys = JSON.parse(q.get('keys') as string) as unknown[];
    } catch {
      throw badRequest('invalid keys');
    }
  }
  if (keys !== undefined && !Array.isArray(keys)) throw new LoungeError(400, 'query_parse_error', '`keys` member must be an array.');

  const upstream = new URLSearchParams([...q.entries()].filter(([k]) => !PROXY_PARAMS.has(k)));
  if (limit !== undefined) upstream.set('limit', String(skip + limit));
  const path = (range: Range) => `${dbPath(lounge.map.shardName(range, db))}/_design/${encodeURIComponent(req.ddoc)}/_view/${encodeURIComponent(req.view)}?${upstream.toString()}`;
  const build = (range: Range) =>
    keys
      ? { method: 'POST', path: path(range), headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keys }), timeoutMs: lounge.config.timeouts.viewRequestMs }
      : { method: 'GET', path: path(range), timeoutMs: lounge.config.timeouts.viewRequestMs };

  const opened = await openWithDesignRepair(lounge, db, `_design/${req.ddoc}`, () => openEach(lounge, db, lounge.map.ranges, build, ['rows']));
  const rereduce = reduce ? rereducerFor(reduceSrc as string, ddoc as never, req.view, lounge.sandboxes) : undefined;
  const merged = mergeViewRows(
    opened.map((o) => o.rows),
    { reduce, descending, skip, limit, keys },
    rereduce,
  );
  let seqPart = '';
  if (q.get('update_seq') === 'true') {
    const entries = await Promise.all(
      opened.map(async (o) => ({ range: o.range.name, node: o.rows.node, seq: o.rows.meta.update_seq ?? 0, uuid: await lounge.instances.get(o.rows.node, lounge.map.shardName(o.range, db)) })),
    );
    seqPart = `"update_seq":${JSON.stringify(encodeSince(entries))},`;
  }
  let rows: AsyncIterable<ViewRow> = merged;
  let head = `{${seqPart}"rows":[`;
  if (!reduce) {
    const t = viewTotals(
      opened.map((o) => o.rows.meta),
      skip,
    );
    let offset = t.offset;
    if (keys) {
      // With keys, CouchDB's offset is the position of the first row sent; shard offsets
      // each point at their own first row, so their sum is not it. Ask every range how
      // many rows sort before the first merged row.
      const it = merged[Symbol.asyncIterator]();
      const first = await it.next();
      if (!first.done) {
        offset = await rowsBefore(lounge, req, first.value, descending);
        rows = prepend(first.value, it);
      } else rows = prepend(undefined, it);
    }
    head = `{"total_rows":${t.total_rows},"offset":${offset},${seqPart}"rows":[`;
  }
  const includeDocs = !reduce && q.get('include_docs') === 'true';
  return { head, rows: includeDocs ? withLinkedDocs(lounge, db, rows, q) : texts(rows), tail: () => ']}' };
}

async function* prepend<T>(first: T | undefined, rest: AsyncIterator<T>): AsyncGenerator<T> {
  if (first !== undefined) yield first;
  for (;;) {
    const r = await rest.next();
    if (r.done) return;
    yield r.value;
  }
}

/** How many rows of the view sort before `row` (its global position), summed over ranges. */
async function rowsBefore(lounge: Lounge, req: ViewRequest, row: ViewRow, descending: boolean): Promise<number> {
  const q = new URLSearchParams({ startkey: JSON.stringify(row.row.key ?? null), limit: '0', reduce: 'false' });
  if (row.row.id !== undefined) q.set('startkey_docid', row.row.id);
  if (descending) q.set('descending', 'true');
  const counts = await Promise.all(
    lounge.map.ranges.map(async (range) => {
      const { body } = await lounge.reader.json<{ offset?: number }>(req.db, range, () => ({
        method: 'GET',
        path: `${dbPath(lounge.map.shardName(range, req.db))}/_design/${encodeURIComponent(req.ddoc)}/_view/${encodeURIComponent(req.view)}?${q.toString()}`,
      }));
      return typeof body.offset === 'number' ? body.offset : 0;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

async function* texts(rows: AsyncIterable<ViewRow>): AsyncGenerator<string> {
  for await (const r of rows) yield r.text;
}

/** Rows whose value links another doc get that doc, wherever it lives. */
async function* withLinkedDocs(lounge: Lounge, db: string, rows: AsyncIterable<ViewRow>, q: URLSearchParams): AsyncGenerator<string> {
  let batch: ViewRow[] = [];
  const conflicts = q.get('conflicts') === 'true';
  const flush = async function* (): AsyncGenerator<string> {
    const fixed = await Promise.all(batch.map((r) => fixLinked(lounge, db, r, conflicts)));
    batch = [];
    yield* fixed;
  };
  for await (const r of rows) {
    batch.push(r);
    if (batch.length >= LINKED_FETCH_CONCURRENCY) yield* flush();
  }
  yield* flush();
}

async function fixLinked(lounge: Lounge, db: string, r: ViewRow, conflicts: boolean): Promise<string> {
  const v = r.row.value as { _id?: unknown; _rev?: unknown } | null;
  if (typeof v !== 'object' || v === null || typeof v._id !== 'string') return r.text;
  const doc = r.row.doc as { _id?: unknown } | null | undefined;
  if (doc && doc._id === v._id) return r.text;
  const id = v._id;
  const range = lounge.map.rangeOf(id, db);
  const search = new URLSearchParams();
  if (typeof v._rev === 'string') search.set('rev', v._rev);
  if (conflicts) search.set('conflicts', 'true');
  let linked: unknown = null;
  try {
    const { body } = await lounge.reader.json<unknown>(db, range, () => ({ method: 'GET', path: `${dbPath(lounge.map.shardName(range, db))}/${docPath(id)}?${search.toString()}` }));
    linked = body;
  } catch (e) {
    if (!(e instanceof UpstreamError) || e.status !== 404) throw e;
  }
  return JSON.stringify({ ...r.row, doc: linked });
}

/**
 * Runs `open`; if a range answers 404 for the design doc (its copy is missing), copies the
 * home revision of the design doc to every range and runs `open` once more.
 */
export async function openWithDesignRepair(lounge: Lounge, db: string, ddocId: string, open: () => Promise<RangeRows[]>): Promise<RangeRows[]> {
  try {
    return await open();
  } catch (e) {
    if (!(e instanceof UpstreamError) || e.status !== 404 || (e.reason !== 'missing' && e.reason !== 'deleted')) throw e;
    const copied = await copyDesignToAll(lounge, db, ddocId);
    if (!copied) throw e;
    return open();
  }
}

/** Copies the home revision of a design doc to every replica of every range. */
export async function copyDesignToAll(lounge: Lounge, db: string, ddocId: string): Promise<boolean> {
  const home = lounge.map.rangeOf(ddocId);
  let doc: Record<string, unknown>;
  try {
    ({ body: doc } = await lounge.reader.json<Record<string, unknown>>(db, home, () => ({
      method: 'GET',
      path: `${dbPath(lounge.map.shardName(home, db))}/${docPath(ddocId)}?revs=true&attachments=true`,
    })));
  } catch {
    return false;
  }
  const payload = JSON.stringify({ docs: [doc], new_edits: false });
  await Promise.all(
    lounge.map.ranges.flatMap((range) =>
      lounge.map.nodesOf(range).map(async (node) => {
        try {
          const res = await lounge.client.request(node, { method: 'POST', path: `${dbPath(lounge.map.shardName(range, db))}/_bulk_docs`, headers: { 'content-type': 'application/json' }, body: payload });
          res.discard();
        } catch {
          lounge.hints.missed(db, range, node);
        }
      }),
    ),
  );
  return true;
}
