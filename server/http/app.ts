// The koa application of one node: the error boundary, common headers, authentication, and the
// route modules. Route modules translate HTTP to the storage and rev-tree cores and back.

import Koa from 'koa';
import Router from '@koa/router';
import { debuglog } from 'node:util';
import { randomBytes } from 'node:crypto';
import { isCouchShaped } from '../errors/catalog.js';
import { send } from './respond.js';
import { corsMiddleware } from './cors.js';
import { authMiddleware, registerSessions } from '../auth/sessions-http.js';
import type { NodeConfig, Services } from './services.js';
import { registerServer } from './routes/server.js';
import { registerDatabase } from './routes/database.js';
import { registerDocuments } from './routes/documents.js';
import { registerBulk } from './routes/bulk.js';
import { registerChanges } from './routes/changes.js';
import { registerAttachments } from './routes/attachments.js';
import { registerViews } from './routes/views.js';
import { registerDesignRender } from './routes/design-render.js';
import { registerRewrite } from './routes/rewrite.js';
import { registerReplication } from './routes/replication.js';
import { registerDbUpdates } from './routes/db-updates.js';
import { registerPurge } from './routes/purge.js';
import { registerCopy } from './routes/copy.js';
import { registerPartitions } from './routes/partitions.js';
import { registerNode } from './routes/node.js';
import { registerReshard } from './routes/reshard.js';
import { routeIndex } from './route-index.js';
import { jsonpMiddleware } from './jsonp.js';
import { CONSOLE_PREFIX, consoleMiddleware } from '../../console/server/static-files.js';

const log = debuglog('chaise:http');

export interface Extensions {
  /** Routes other parts add (views, replicator, users), registered before the generic doc routes. */
  routes?: ((router: Router) => void)[];
  /** Extra middleware run after authentication (e.g. CORS is before, see cors.ts). */
  early?: Koa.Middleware[];
}

export function createApp(s: Services, ext: Extensions = {}): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  // Read by absoluteUri (the forwarded-header names), without a per-request cost.
  (app.context as { nodeConfig?: NodeConfig }).nodeConfig = s.config;

  // CouchDB's own is `CouchDB/3.5.0 (Erlang OTP/26)`; clients and CouchDB's suites (COUCHDB-379)
  // look for the `CouchDB/` product, so Chaise names itself in the comment.
  const serverHeader = `CouchDB/${s.config.version} (Chaise; Node.js ${process.version})`;
  const stats = s.stats;
  const cors = corsMiddleware(() => s.config.cors);
  const consoleFiles = consoleMiddleware();

  // Outermost: counts and times every request (it sees the final status, errors included) and
  // is the error boundary, where every failure becomes CouchDB's {"error","reason"} body. One
  // layer, not two: each koa layer is a closure and a promise on every request (profiled).
  app.use(async (ctx, next) => {
    const started = stats.requestStarted(ctx.method);
    countRequest(s, ctx);
    const res = ctx.res;
    res.setHeader('Server', serverHeader);
    res.setHeader('X-Couch-Request-ID', requestId(ctx.req.headers['x-couch-request-id']));
    // chttpd sends the time spent reading the request body on every answer; bodies are read lazily here.
    res.setHeader('X-CouchDB-Body-Time', '0');
    // Clients that can only POST name the method they mean (chttpd: POST only, listed methods only).
    const override = ctx.req.headers['x-http-method-override'];
    if (typeof override === 'string' && ctx.method === 'POST' && METHOD_OVERRIDES.has(override)) ctx.method = override;
    // chttpd:unquote: unless `decode_plus_to_space` is off, `+` in a path segment means a space (`%2B` stays `+`).
    if (s.config.decodePlusToSpace !== false && ctx.path.includes('+')) ctx.path = ctx.path.replaceAll('+', '%20');
    try {
      // CORS and the console's files concern few requests: one test lets the rest skip both layers.
      if (ctx.req.headers.origin !== undefined || ctx.method === 'OPTIONS' || ctx.path.startsWith(CONSOLE_PREFIX)) {
        await cors(ctx, () => consoleFiles(ctx, next));
      } else {
        await next();
      }
      // koa strips every body header from a 304; CouchDB sends `Content-Length: 0`.
      if (ctx.status === 304) notModified(ctx);
    } catch (e) {
      answerError(ctx, e);
    } finally {
      stats.requestEnded(ctx.status, started);
    }
  });

  for (const mw of ext.early ?? []) app.use(mw);
  app.use(authMiddleware(s, s.session));
  app.use(jsonpMiddleware(s.configStore));

  app.use(routeIndex(routesOf(s, ext)));
  app.use((ctx) => {
    send(ctx, 404, { error: 'not_found', reason: 'missing' });
  });
  return app;
}

/** Every route of a node, in the order they are tried. */
export function routesOf(s: Services, ext: Extensions = {}): Router {
  const router = new Router();
  registerServer(router, s);
  registerNode(router, s);
  registerReshard(router, s);
  registerSessions(router, s, s.session);
  for (const add of ext.routes ?? []) add(router);
  // Before the generic `/:db` and `/:db/:docid` routes, which would take these paths for names.
  registerDbUpdates(router, s);
  registerPurge(router, s);
  registerCopy(router, s);
  registerPartitions(router, s);
  registerViews(router, s);
  registerDesignRender(router, s);
  registerRewrite(router, s);
  registerReplication(router, s);
  registerDatabase(router, s);
  registerBulk(router, s);
  registerChanges(router, s);
  registerDocuments(router, s);
  registerAttachments(router, s);
  return router;
}

/** `_changes` feeds that stay open, counted as CouchDB's clients_requesting_changes. */
const WAITING_FEEDS = new Set(['longpoll', 'continuous', 'eventsource']);

/** Counts the requests CouchDB has metrics for by endpoint; open waiting `_changes` feeds are counted until their socket closes. */
function countRequest(s: Services, ctx: Koa.Context): void {
  const stats = s.stats;
  const path = ctx.path;
  if (path.endsWith('/_changes')) {
    if (WAITING_FEEDS.has(String(ctx.query.feed))) {
      stats.changesClients++;
      ctx.res.once('close', () => stats.changesClients--);
    }
  } else if (path.endsWith('/_bulk_docs')) stats.bulkRequests++;
  else if (path.endsWith('/_purge')) stats.purgeRequests++;
  else if (path.includes('/_view/')) stats.viewReads++;
}

/** Answers a failure with CouchDB's {"error","reason"} body, unless the answer has begun. */
function answerError(ctx: Koa.Context, e: unknown): void {
  if (ctx.headerSent || !ctx.writable) {
    log('error after headers were sent: %o', e);
    return;
  }
  // An error is never a cacheable answer.
  ctx.remove('ETag');
  if (isCouchShaped(e)) {
    send(ctx, e.status, { error: e.error, reason: e.reason });
  } else if (isHttpError(e)) {
    send(ctx, e.status, { error: e.status === 413 ? 'too_large' : 'bad_request', reason: e.message });
  } else {
    console.error('unexpected error in', ctx.method, ctx.path, e);
    send(ctx, 500, { error: 'unknown_error', reason: e instanceof Error ? e.message : String(e) });
  }
}

/** Bytes of randomness in a request id: CouchDB's are 10 hex digits. */
const REQUEST_ID_BYTES = 5;
/** The longest client-chosen request id echoed back; a longer one is replaced by ours. */
const CLIENT_REQUEST_ID_CHARS_MAX = 200;

/**
 * CouchDB answers every request with `X-Couch-Request-ID`, echoing one the client sent (so a client
 * can trace its calls through logs) and making one up otherwise.
 */
function requestId(sent: string | string[] | undefined): string {
  if (typeof sent === 'string' && sent !== '' && sent.length <= CLIENT_REQUEST_ID_CHARS_MAX && /^[\x21-\x7e]+$/.test(sent)) return sent;
  if (idsUsed === IDS_PER_POOL) {
    idPool = randomBytes(REQUEST_ID_BYTES * IDS_PER_POOL).toString('hex');
    idsUsed = 0;
  }
  const at = idsUsed++ * REQUEST_ID_BYTES * 2;
  return idPool.slice(at, at + REQUEST_ID_BYTES * 2);
}

/**
 * Request ids are cut from a pool of random hex made 800 at a time: one `randomBytes` call per
 * request cost about 7% of a GET's CPU (profiled), and hex-encoding each id on its own about 0.5%.
 */
const IDS_PER_POOL = 800;
let idPool = '';
let idsUsed = IDS_PER_POOL;

/** The methods `X-HTTP-Method-Override` may name (chttpd:handle_request_int), exactly as spelled there. */
const METHOD_OVERRIDES = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'CONNECT', 'COPY']);

/** Ends a 304 itself, with the headers set so far and an explicit empty length. */
function notModified(ctx: Koa.Context): void {
  ctx.respond = false;
  const res = ctx.res;
  if (res.headersSent) return;
  res.statusCode = 304;
  res.removeHeader('Content-Type');
  res.setHeader('Content-Length', '0');
  res.end();
}

function isHttpError(e: unknown): e is { status: number; message: string } {
  return typeof e === 'object' && e !== null && typeof (e as { status?: unknown }).status === 'number' && (e as { expose?: unknown }).expose === true;
}
