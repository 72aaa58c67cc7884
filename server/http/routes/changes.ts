// `_changes` over HTTP: normal, longpoll, continuous and eventsource feeds. Waiting feeds sleep on
// the database's commit event (no polling) and are released the moment their socket closes.

import type Router from '@koa/router';
import type { Context } from 'koa';
import { checkLanguage, compileSelector } from '../../../views/index.js';
import { renderRevision } from '../../docs/read.js';
import { CouchError } from '../../errors/catalog.js';
import { changeRows, changeRowsAsync, parseSince, pendingAfter, withoutSeq, type FeedOptions, type FeedRow } from '../../changes/feed.js';
import type { Database } from '../../storage/database.js';
import { readJson } from '../body.js';
import { bool, int, json, nonNegInt, str, type Query } from '../query.js';
import type { Services } from '../services.js';
import { openDb } from './documents.js';
import { FeedStream } from './feed-stream.js';
import { JSONP_TAIL, JSONP_TYPE, jsonpHead } from '../jsonp.js';
import { designDoc } from '../../design/design-docs.js';

/** CouchDB's default heartbeat when `heartbeat=true`. */
const DEFAULT_HEARTBEAT_MS = 60_000;
/** Rows written per chunk of a normal feed, so huge feeds stream instead of buffering. */
const ROWS_PER_CHUNK = 500;
/**
 * CouchDB's `limit` when none is given (couch_db.hrl, changes_args). `seq_interval` counts
 * against it: a row shows its seq when the limit still left is a multiple of the interval.
 */
const DEFAULT_LIMIT = 1_000_000_000_000_000;

type FeedKind = 'normal' | 'longpoll' | 'continuous' | 'eventsource';

export function registerChanges(router: Router, s: Services): void {
  router.get('/:db/_changes', (ctx) => changes(ctx, s, undefined));
  router.post('/:db/_changes', async (ctx) => {
    openDb(s, ctx); // 404/401 before the body is read
    const body = ctx.get('content-length') === '0' ? {} : await readJson(ctx, s.limits);
    // chttpd:json_body_obj
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CouchError('bad_request', 'Request body must be a JSON object');
    await changes(ctx, s, body as Record<string, unknown>);
  });
}

async function changes(ctx: Context, s: Services, body: Record<string, unknown> | undefined): Promise<void> {
  const db = openDb(s, ctx);
  const q = ctx.query as Query;
  // chttpd_db:parse_changes_query: `live` is another name for `continuous`.
  const feedParam = str(q, 'feed') ?? 'normal';
  const feed = (feedParam === 'live' ? 'continuous' : feedParam) as FeedKind;
  if (!['normal', 'longpoll', 'continuous', 'eventsource'].includes(feed)) {
    throw new CouchError('bad_request', 'Supported `feed` types: normal, continuous, live, longpoll, eventsource');
  }
  const style = str(q, 'style') ?? 'main_only';
  if (style !== 'main_only' && style !== 'all_docs') throw new CouchError('bad_request', 'Supported `style` values: main_only, all_docs');
  const opts: FeedOptions = {
    style,
    includeDocs: bool(q, 'include_docs'),
    conflicts: bool(q, 'conflicts'),
    attachments: bool(q, 'attachments'),
    attEncodingInfo: bool(q, 'att_encoding_info'),
    descending: bool(q, 'descending'),
  };
  applyFilter(ctx, s, db, q, body, opts);
  const lastEventId = ctx.get('last-event-id') || undefined;
  // Descending feeds start at the end whatever `since` says (fabric_view_changes:get_start_seq).
  const since = opts.descending ? 0 : parseSince(feed === 'eventsource' && lastEventId ? lastEventId : str(q, 'since'), db);
  const limit = nonNegInt(q, 'limit');
  const seqInterval = interval(str(q, 'seq_interval'));
  /** A row's text as sent: between `seq_interval` rows the seq is null (n = rows sent before it). */
  const shown = (text: string, seq: number, n: number): string =>
    seqInterval === undefined || ((limit ?? DEFAULT_LIMIT) - n) % seqInterval === 0 ? text : withoutSeq(db, seq, text);
  const hbParam = str(q, 'heartbeat');
  const heartbeatMs = hbParam === undefined ? undefined : hbParam === 'true' ? DEFAULT_HEARTBEAT_MS : heartbeat(hbParam);
  const timeoutMs = heartbeatMs !== undefined ? undefined : int(q, 'timeout') ?? s.limits.changesTimeoutMs;

  ctx.respond = false;
  const res = ctx.res;
  const stream = new FeedStream(res, (wake) => db.onChange(wake), s.closing);
  // A normal or longpoll feed is one JSON answer, so JSONP wraps it (continuous rows are not).
  const jsonp = feed === 'normal' || feed === 'longpoll' ? (ctx.state.jsonp as string | undefined) : undefined;
  const jsonpHeadText = jsonp === undefined ? '' : jsonpHead(jsonp);
  const jsonpTail = jsonp === undefined ? '}\n' : '}' + JSONP_TAIL;
  const contentType = feed === 'eventsource' ? 'text/event-stream' : jsonp !== undefined ? JSONP_TYPE : 'application/json';
  res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'must-revalidate', 'Transfer-Encoding': 'chunked', 'X-Accel-Buffering': 'no' });
  // Waiting feeds send their headers now, so clients and proxies know the feed is open.
  if (feed !== 'normal') res.flushHeaders();

  try {
    if (feed === 'normal') {
      // Written as read, a chunk at a time: a big feed is never held whole in memory.
      await stream.write(jsonpHeadText + '{"results":[\n');
      let chunk: string[] = [];
      let sent = 0;
      const seen = await eachRow(db, since, opts, limit, async (text, seq) => {
        chunk.push(shown(text, seq, sent++));
        if (chunk.length < ROWS_PER_CHUNK) return false;
        await stream.write((sent > ROWS_PER_CHUNK ? ',\n' : '') + chunk.join(',\n'));
        chunk = [];
        return stream.closed;
      });
      if (stream.closed) return;
      if (chunk.length > 0) await stream.write((sent > chunk.length ? ',\n' : '') + chunk.join(',\n'));
      const last = seen.last ?? (opts.descending ? db.updateSeq : since);
      await stream.write('\n],\n"last_seq":' + db.seq.json(last) + ',"pending":' + pendingOf(db, opts, since, last, seen.examined) + jsonpTail);
      return;
    }
    if (feed === 'longpoll') {
      let rows = await collect(db, since, opts, limit);
      if (rows.texts.length === 0 && limit !== 0) {
        // Wait for a change that passes the filter (or the timeout): changes the filter rejects
        // move the cursor but do not end the request.
        stream.startHeartbeat(heartbeatMs, '\n');
        const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
        let cursor = rows.last ?? since;
        while (!stream.closed && rows.texts.length === 0 && !db.dropped) {
          const left = deadline === undefined ? undefined : deadline - Date.now();
          if (left !== undefined && left <= 0) break;
          if (!(await stream.waitForChange(left))) break;
          rows = await collect(db, cursor, opts, limit);
          cursor = rows.last ?? cursor;
        }
        stream.stopHeartbeat();
        if (rows.last === undefined && cursor !== since) rows.last = cursor;
      }
      if (stream.closed) return;
      const last = rows.last ?? (opts.descending ? db.updateSeq : since);
      if (seqInterval !== undefined) rows.texts = rows.texts.map((t, i) => shown(t, rows.seqs[i] as number, i));
      await stream.write(jsonpHeadText + '{"results":[\n');
      for (let i = 0; i < rows.texts.length; i += ROWS_PER_CHUNK) {
        await stream.write(rows.texts.slice(i, i + ROWS_PER_CHUNK).join(',\n') + (i + ROWS_PER_CHUNK < rows.texts.length ? ',\n' : ''));
      }
      await stream.write('\n],\n"last_seq":' + db.seq.json(last) + ',"pending":' + pendingOf(db, opts, since, last, rows.examined) + jsonpTail);
      return;
    }
    // continuous / eventsource
    const eventsource = feed === 'eventsource';
    let sent = 0;
    const emitRow = (text: string, seq: number) => {
      const row = shown(text, seq, sent);
      return eventsource ? `data: ${row}\nid: ${db.seq.json(seq)}\n\n` : row + '\n';
    };
    let cursor = since;
    stream.startHeartbeat(heartbeatMs, eventsource ? 'event: heartbeat\ndata: \n\n' : '\n');
    for (;;) {
      for await (const row of changeRowsAsync(db, cursor, opts)) {
        cursor = row.examined;
        if (row.text === '') continue;
        await stream.write(emitRow(row.text, row.seq));
        if (stream.closed) return;
        sent++;
        if (limit !== undefined && sent >= limit) break;
      }
      if ((limit !== undefined && sent >= limit) || opts.descending || db.dropped) break;
      const changed = await stream.waitForChange(timeoutMs);
      if (stream.closed) return;
      if (!changed) break;
    }
    stream.stopHeartbeat();
    if (!eventsource) await stream.write('{"last_seq":' + db.seq.json(cursor) + ',"pending":' + pendingAfter(db, cursor) + '}\n');
  } finally {
    stream.end();
  }
}

/** A `heartbeat` in milliseconds, with chttpd_db:parse_changes_query's two answers for a bad one. */
function heartbeat(v: string): number {
  if (!/^[-+]?\d+$/.test(v)) throw new CouchError('bad_request', 'Invalid heartbeat value. Expecting a positive integer value (in milliseconds).');
  const n = Number(v);
  if (!(n > 0)) throw new CouchError('bad_request', 'The heartbeat value should be a positive integer (in milliseconds).');
  return n;
}

/** `seq_interval`: a positive integer (chttpd_db:parse_changes_query). */
function interval(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n > 0) || !Number.isSafeInteger(n)) throw new CouchError('bad_request', 'invalid_seq_interval');
  return n === 1 ? undefined : n;
}

interface Collected {
  texts: string[];
  /** Each text's seq (for `seq_interval`). */
  seqs: number[];
  /** The seq of the last row examined (shown or filtered out). */
  last: number | undefined;
  /** Rows examined, shown or not. */
  examined: number;
}

/**
 * `pending` of a finished normal or longpoll feed. Descending, CouchDB counts what is left below
 * the last row (fabric_rpc:changes). With `_doc_ids` it folds over those documents only, so it
 * counts the changes after `since` less the rows it enumerated (fabric_rpc's pending starts there
 * and drops by one a row).
 */
function pendingOf(db: Database, opts: FeedOptions, since: number, last: number, examined: number): number {
  if (opts.descending) return Math.max(0, db.countChangesAfter(0) - examined);
  if (opts.docIds) return Math.max(0, db.countChangesAfter(since) - examined);
  return pendingAfter(db, last);
}

/**
 * Hands each shown row after `since` to `show`, up to `limit` rows or until `show` says true;
 * says how far it looked. A `show` that returns a promise is awaited (back-pressure).
 */
async function eachRow(
  db: Database,
  since: number,
  opts: FeedOptions,
  limit: number | undefined,
  show: (text: string, seq: number) => Promise<boolean> | boolean,
): Promise<{ last: number | undefined; examined: number }> {
  const out = { last: undefined as number | undefined, examined: 0 };
  if (limit === 0) return out;
  let shownRows = 0;
  // Without a sandboxed filter every row is ready at once: a promise only where `show` waits.
  const rows: Iterable<FeedRow & { examined: number }> | AsyncIterable<FeedRow & { examined: number }> = opts.batchFilter
    ? changeRowsAsync(db, since, opts)
    : changeRows(db, since, opts);
  const take = (row: FeedRow & { examined: number }): Promise<boolean> | boolean => {
    out.last = row.examined;
    out.examined++;
    if (row.text === '') return false;
    const stop = (done: boolean) => done || (limit !== undefined && ++shownRows >= limit);
    const r = show(row.text, row.seq);
    return typeof r === 'boolean' ? stop(r) : r.then(stop);
  };
  if (Symbol.asyncIterator in rows) {
    for await (const row of rows) if (await take(row)) break;
  } else {
    for (const row of rows) {
      const r = take(row);
      if (typeof r === 'boolean' ? r : await r) break;
    }
  }
  return out;
}

async function collect(db: Database, since: number, opts: FeedOptions, limit: number | undefined): Promise<Collected> {
  const out: Collected = { texts: [], seqs: [], last: undefined, examined: 0 };
  const seen = await eachRow(db, since, opts, limit, (text, seq) => {
    out.texts.push(text);
    out.seqs.push(seq);
    return false;
  });
  out.last = seen.last;
  out.examined = seen.examined;
  return out;
}

function applyFilter(ctx: Context, s: Services, db: Database, q: Query, body: Record<string, unknown> | undefined, opts: FeedOptions): void {
  const filter = str(q, 'filter');
  if (filter === undefined) return;
  switch (filter) {
    case '_doc_ids': {
      const ids = body?.doc_ids ?? json(q, 'doc_ids');
      if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) {
        throw new CouchError('bad_request', '`doc_ids` filter parameter is not a list of doc ids.');
      }
      opts.docIds = new Set(ids as string[]);
      return;
    }
    case '_selector': {
      const selector = body?.selector;
      if (typeof selector !== 'object' || selector === null || Array.isArray(selector)) {
        throw new CouchError('bad_request', 'Selector error: expected a JSON object');
      }
      const matches = compileSelector(selector);
      // Selectors see tombstones too ({_id, _rev, _deleted: true}), as in CouchDB.
      opts.filter = (id, info) => matches(JSON.parse(renderRevision(db, id, info, info.rev, {}) ?? 'null'));
      return;
    }
    case '_design':
      opts.filter = (id) => id.startsWith('_design/');
      return;
    default: {
      const name = filter === '_view' ? str(q, 'view') : filter;
      if (name === undefined || !/^[^/]+\/[^/]+$/.test(name)) {
        throw new CouchError('bad_request', filter === '_view' ? '`view` filter parameter is not provided.' : 'filter parameter must be of the form `designname/filtername`');
      }
      const [ddocName, fname] = name.split('/') as [string, string];
      const ddoc = designDoc(db, ddocName);
      if (!ddoc) throw new CouchError('not_found', 'missing');
      // Refused before the feed's headers go out; a filter failing mid-feed could only cut it short.
      checkLanguage(ddoc);
      const engine = s.views;
      if (filter === '_view') {
        const views = ddoc.views as Record<string, unknown> | undefined;
        // couch_util:get_nested_json_value names the first key it misses: `views`, then the view.
        if (!views || typeof views !== 'object') throw new CouchError('not_found', 'missing json key: views');
        if (typeof views[fname] !== 'object') throw new CouchError('not_found', 'missing json key: ' + fname);
        opts.batchFilter = (docs) => engine.runViewFilter(ddoc, fname, docs);
      } else {
        const filters = ddoc.filters as Record<string, unknown> | undefined;
        if (!filters || typeof filters !== 'object') throw new CouchError('not_found', 'missing json key: filters');
        if (typeof filters[fname] !== 'string') throw new CouchError('not_found', 'missing json key: ' + fname);
        const req = {
          query: { ...q },
          method: ctx.method,
          path: ctx.path.split('/').filter(Boolean),
          headers: ctx.headers,
          body: body ?? 'undefined',
          userCtx: { db: db.name, name: ctx.state.user.name, roles: ctx.state.user.roles },
          secObj: db.security,
          info: { db_name: db.name, update_seq: db.seq.format(db.updateSeq) },
        };
        opts.batchFilter = (docs) => engine.runFilter(ddoc, fname, docs, req);
      }
    }
  }
}
