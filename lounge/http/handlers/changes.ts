// `GET/POST /db/_changes`: parses CouchDB's parameters and hands the feed to
// changes/changes-feed.ts, which writes straight to the socket.

import type { Req } from '../app.js';
import type { Route } from '../route-path.js';
import { badRequest, dbNotFound, methodNotAllowed } from '../../errors/lounge-error.js';
import { decodeSince } from '../../changes/since-token.js';
import type { ChangesRequest, FeedKind } from '../../changes/changes-feed.js';
import { FeedWriter } from '../feed-writer.js';
import { readRaw, parseJson } from '../body.js';
import { CHANGES_TIMEOUT_MS, DEFAULT_HEARTBEAT_MS } from '../limits.js';
import { intParam } from '../../reads/all-docs.js';

type Special = Req<Extract<Route, { kind: 'dbSpecial' }>>;

/** Parameters the lounge interprets itself; everything else goes to every range's feed. */
const OWN = new Set(['feed', 'since', 'limit', 'timeout', 'heartbeat', 'seq_interval', 'doc_ids', 'last-event-id']);

export async function changesHandler(req: Special): Promise<void> {
  const { ctx, lounge, route } = req;
  if (ctx.method !== 'GET' && ctx.method !== 'POST' && ctx.method !== 'HEAD') throw methodNotAllowed('GET,HEAD,POST');
  if (!lounge.registry.get(route.db) && !(await lounge.registry.refreshOne(route.db))) throw dbNotFound();
  const q = new URLSearchParams(ctx.querystring);
  let feed = (q.get('feed') ?? 'normal') as FeedKind | 'live';
  if (feed === 'live') feed = 'continuous';
  if (!['normal', 'longpoll', 'continuous', 'eventsource'].includes(feed)) {
    throw badRequest('Supported `feed` types: normal, continuous, live, longpoll, eventsource');
  }
  let body: Buffer | undefined;
  let docIds: string[] | undefined;
  if (ctx.method === 'POST') {
    const raw = await readRaw(ctx);
    if (raw.length > 0) {
      const parsed = parseJson(raw) as Record<string, unknown>;
      body = raw;
      if (q.get('filter') === '_doc_ids' && Array.isArray(parsed.doc_ids)) docIds = parsed.doc_ids.filter((x): x is string => typeof x === 'string');
    }
  }
  if (q.get('filter') === '_doc_ids' && docIds === undefined && q.has('doc_ids')) {
    const ids = parseJson(Buffer.from(q.get('doc_ids') as string));
    if (!Array.isArray(ids)) throw badRequest('`doc_ids` filter parameter is not a list of doc ids.');
    docIds = ids.filter((x): x is string => typeof x === 'string');
    body = Buffer.from(JSON.stringify({ doc_ids: docIds }));
  }
  const lastEventId = ctx.get('last-event-id');
  const since = decodeSince(feed === 'eventsource' && lastEventId ? lastEventId : (q.get('since') ?? undefined));
  const hb = q.get('heartbeat');
  const heartbeatMs = hb === null ? undefined : hb === 'true' ? DEFAULT_HEARTBEAT_MS : Number(hb);
  if (heartbeatMs !== undefined && (!Number.isFinite(heartbeatMs) || heartbeatMs <= 0)) throw badRequest('heartbeat must be a positive integer');
  const timeout = q.get('timeout');
  const timeoutMs = timeout === null ? CHANGES_TIMEOUT_MS : Number(timeout);
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw badRequest('timeout must be a positive integer');
  const seqInterval = intParam(q, 'seq_interval');
  const params = [...q.entries()].filter(([k]) => !OWN.has(k));
  const creq: ChangesRequest = {
    db: route.db,
    feed,
    since,
    limit: intParam(q, 'limit'),
    timeoutMs,
    heartbeatMs,
    seqInterval,
    params,
    body,
    docIds,
  };
  const out = new FeedWriter(ctx.res, feed === 'eventsource' ? 'text/event-stream' : 'application/json');
  ctx.respond = false;
  try {
    await lounge.changes.run(creq, out);
  } catch (e) {
    ctx.respond = true;
    throw e;
  }
}
