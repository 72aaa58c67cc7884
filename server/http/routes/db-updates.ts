// `GET /_db_updates`: the node's database events (created, updated, deleted) as a normal,
// longpoll, continuous or eventsource feed, for server admins, after global_changes_httpd.erl.
// Rows are `{"db_name","type","seq"}`; sequences are opaque strings `"N-<server uuid>"` as in
// CouchDB 3 (a `since` must be one of this node's), and `since=now` starts at the latest event. The events themselves are kept by storage/db-updates.ts, one log per node.

import type Router from '@koa/router';
import type { Context } from 'koa';
import { CouchError } from '../../errors/catalog.js';
import { requireServerAdmin } from '../../auth/access.js';
import type { Catalog } from '../../storage/catalog.js';
import { DbUpdates, type DbUpdate } from '../../storage/db-updates.js';
import { str, type Query } from '../query.js';
import type { Services } from '../services.js';
import { FeedStream } from './feed-stream.js';

/** CouchDB's heartbeat when `heartbeat=true`. */
const DEFAULT_HEARTBEAT_MS = 60_000;
/** A heartbeat more frequent than this would only spin; shorter values are raised to it. */
const HEARTBEAT_MIN_MS = 100;

type Feed = 'normal' | 'longpoll' | 'continuous' | 'eventsource';
const FEEDS: readonly string[] = ['normal', 'longpoll', 'continuous', 'eventsource'];

/** One log per node (per catalog), however many apps are built on it; it stops when the node shuts down. */
const logs = new WeakMap<Catalog, DbUpdates>();

export function nodeDbUpdates(s: Services): DbUpdates {
  let log = logs.get(s.catalog);
  if (!log) {
    const created = new DbUpdates(s.catalog);
    logs.set(s.catalog, created);
    s.closing.addEventListener('abort', () => created.close(), { once: true });
    log = created;
  }
  return log;
}

export function registerDbUpdates(router: Router, s: Services): void {
  const log = nodeDbUpdates(s);
  router.get('/_db_updates', (ctx) => dbUpdates(ctx, s, log));
  router.all('/_db_updates', () => {
    throw new CouchError('method_not_allowed', 'Only GET allowed');
  });
}

/** global_changes_httpd:to_non_neg_int/1, with its error. */
function nonNegative(q: Query, name: string): number | undefined {
  const v = str(q, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new CouchError('bad_request', 'invalid_integer');
  return Number(v);
}

/**
 * `since`: `0`, `now`, or a sequence this node handed out (`N-<server uuid>`, JSON-quoted too).
 * Another node's sequence (a different uuid) starts over from 0, as CouchDB rewinds a sequence
 * whose shard instance it does not hold; anything else, bare integers included, is CouchDB's 400.
 */
function parseSince(v: string | undefined, log: DbUpdates, uuid: string): number {
  if (v === undefined || v === '0') return 0;
  if (v === 'now') return log.lastSeq;
  const text = v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
  if (text === '0') return 0;
  const m = /^(\d{1,16})-([0-9a-f]{32})$/.exec(text);
  if (!m || !Number.isSafeInteger(Number(m[1]))) throw new CouchError('bad_request', "Malformed sequence supplied in 'since' parameter.");
  return m[2] === uuid ? Number(m[1]) : 0;
}

async function dbUpdates(ctx: Context, s: Services, log: DbUpdates): Promise<void> {
  requireServerAdmin(ctx.state.user);
  const q = ctx.query as Query;
  const limit = nonNegative(q, 'limit');
  const timeoutParam = nonNegative(q, 'timeout');
  const hb = str(q, 'heartbeat');
  const heartbeatMs =
    hb === undefined || hb === 'false' ? undefined : hb === 'true' ? DEFAULT_HEARTBEAT_MS : Math.max(HEARTBEAT_MIN_MS, nonNegative(q, 'heartbeat') as number);
  const descending = str(q, 'descending') === 'true';
  const feed = str(q, 'feed') ?? 'normal';
  if (!FEEDS.includes(feed)) throw new CouchError('bad_request', 'Supported `feed` types: normal, continuous, longpoll, eventsource');
  const since = parseSince(str(q, 'since'), log, s.catalog.uuid);
  // As for `_changes`: a feed with a heartbeat runs until the client leaves.
  const timeoutMs = heartbeatMs !== undefined ? undefined : (timeoutParam ?? s.limits.changesTimeoutMs);
  const seqText = (n: number) => JSON.stringify(`${n}-${s.catalog.uuid}`);
  const rowText = (u: DbUpdate) => `{"db_name":${JSON.stringify(u.dbName)},"type":"${u.type}","seq":${seqText(u.seq)}}`;
  const take = (after: number): DbUpdate[] => {
    const rows = log.since(after, descending);
    return limit === undefined ? rows : rows.slice(0, limit);
  };

  ctx.respond = false;
  const res = ctx.res;
  const eventsource = (feed as Feed) === 'eventsource';
  res.writeHead(200, {
    'Content-Type': eventsource ? 'text/event-stream' : 'application/json',
    'Cache-Control': eventsource ? 'no-cache' : 'must-revalidate',
    'Transfer-Encoding': 'chunked',
    'X-Accel-Buffering': 'no',
  });
  if (feed !== 'normal') res.flushHeaders();
  const stream = new FeedStream(res, (wake) => log.onEvent(wake), s.closing);
  try {
    if (feed === 'normal' || feed === 'longpoll') {
      let rows = take(since);
      if (feed === 'longpoll' && rows.length === 0 && limit !== 0) {
        stream.startHeartbeat(heartbeatMs, '\n');
        const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
        while (!stream.closed && rows.length === 0) {
          const left = deadline === undefined ? undefined : deadline - Date.now();
          if (left !== undefined && left <= 0) break;
          if (!(await stream.waitForChange(left))) break;
          rows = take(since);
        }
        stream.stopHeartbeat();
      }
      if (stream.closed) return;
      const last = rows.length > 0 ? (rows[rows.length - 1] as DbUpdate).seq : since;
      await stream.write('{"results":[\n' + rows.map(rowText).join(',\r\n') + '\n],\n"last_seq":' + seqText(last) + '}\n');
      return;
    }
    // continuous / eventsource
    // `last` is the last row sent; ascending, it is also where the next look starts.
    let last = since;
    let sent = 0;
    stream.startHeartbeat(heartbeatMs, eventsource ? 'event: heartbeat\ndata: \n\n' : '\n');
    for (;;) {
      if (limit !== undefined && sent >= limit) break;
      for (const u of log.since(descending ? since : last, descending)) {
        last = u.seq;
        await stream.write(eventsource ? `data: ${rowText(u)}\nid: ${seqText(u.seq)}\n\n` : rowText(u) + '\n');
        if (stream.closed) return;
        if (limit !== undefined && ++sent >= limit) break;
      }
      // A descending feed lists what there is, newest first, and ends: nothing newer can follow.
      if ((limit !== undefined && sent >= limit) || descending) break;
      if (!(await stream.waitForChange(timeoutMs)) || stream.closed) break;
    }
    stream.stopHeartbeat();
    if (stream.closed) return;
    if (!eventsource) await stream.write(`{"last_seq":${seqText(last)}}\n`);
  } finally {
    stream.end();
  }
}
