// The lounge's koa application: the error boundary, authentication, access control, and
// one exhaustive dispatch from the kind of path (route-path.ts) to its handler.
//
// Errors: anything CouchDB-shaped (ours, a node's passed-through answer, the views part's)
// becomes `{"error","reason"}` with its status; a node that gave no answer is 503
// `unavailable`; anything else is logged and answered 500 `unknown_error`, never a crash.

import Koa, { type Context } from 'koa';
import { debuglog } from 'node:util';
import type { Lounge } from '../lounge.js';
import { isCouchShaped, LoungeError } from '../errors/lounge-error.js';
import { UpstreamError } from '../upstream/node-client.js';
import { isDbAdmin, isMember, isServerAdmin, type UserCtx } from '../auth/access.js';
import { parseRoute, type Route, type RouteKind } from './route-path.js';
import { send } from './respond.js';
import { serverHandler, rootHandler } from './handlers/server.js';
import { dbHandler, dbSpecialHandler, shardsHandler } from './handlers/database.js';
import { docHandler, localHandler, attachmentHandler } from './handlers/documents.js';
import { viewHandler, designInfoHandler } from './handlers/views.js';
import { designFunctionHandler, setRedispatch } from './handlers/design-functions.js';
import { consoleMiddleware } from '../../console/server/static-files.js';

const log = debuglog('chaise:lounge');

/** What every handler receives. */
export interface Req<R extends Route = Route> {
  ctx: Context;
  lounge: Lounge;
  user: UserCtx;
  route: R;
}

export type Handler<K extends RouteKind> = (req: Req<Extract<Route, { kind: K }>>) => Promise<void>;

/** One handler per kind of path; a new kind does not compile until it is listed here. */
const HANDLERS: { [K in RouteKind]: Handler<K> } = {
  root: rootHandler,
  server: serverHandler,
  db: dbHandler,
  dbSpecial: dbSpecialHandler,
  shards: shardsHandler,
  doc: docHandler,
  local: localHandler,
  attachment: attachmentHandler,
  view: viewHandler,
  designInfo: designInfoHandler,
  designFunction: designFunctionHandler,
};

export function createApp(lounge: Lounge): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;

  app.use(async (ctx, next) => {
    ctx.set('Server', `Chaise-Lounge (Node.js ${process.version})`);
    ctx.set('X-Lounge-Map-Epoch', lounge.config.mapEpoch);
    try {
      await next();
    } catch (e) {
      if (ctx.headerSent || !ctx.writable) {
        log('error after headers were sent: %o', e);
        return;
      }
      if (e instanceof UpstreamError) {
        if (e.status === 0) send(ctx, 503, { error: 'unavailable', reason: e.reason });
        else send(ctx, e.status, e.body ?? { error: e.error, reason: e.reason });
      } else if (isCouchShaped(e)) {
        send(ctx, e.status, { error: e.error, reason: e.reason, ...(e.extra ?? {}) });
      } else {
        console.error('lounge: unexpected error in', ctx.method, ctx.path, e);
        send(ctx, 500, { error: 'unknown_error', reason: e instanceof Error ? e.message : String(e) });
      }
    }
  });

  // The web console's static files (`/_utils/`), public as on a node: it logs in through `_session`.
  app.use(consoleMiddleware());

  app.use(async (ctx) => {
    const user = await lounge.auth.fromRequest(ctx.get('authorization') || undefined, ctx.get('cookie') || undefined);
    await dispatch({ ctx, lounge, user } as Req);
  });
  return app;
}

/** Routes, authorizes and handles a request (again, at its new path, after a `_rewrite`). */
async function dispatch(base: Req): Promise<void> {
  const route = parseRoute(base.ctx.path);
  const req = { ...base, route } as Req;
  await authorize(req);
  const handler = HANDLERS[route.kind] as (r: Req) => Promise<void>;
  await handler(req);
}
setRedispatch(dispatch);

/** The `_users` doc of the requesting user, the only one a non-admin may touch. */
function ownUserDoc(route: Route, user: UserCtx): boolean {
  return (route.kind === 'doc' || route.kind === 'attachment') && user.name !== null && route.docId === `org.couchdb.user:${user.name}`;
}

/** CouchDB's access rules (see auth/access.ts), applied before any node is asked. */
async function authorize(req: Req): Promise<void> {
  const { route, user, lounge, ctx } = req;
  if (isServerAdmin(user)) return;
  if (route.kind === 'root' || route.kind === 'server') return; // server handlers check their own
  const db = route.db;
  const anonymous = user.name === null;
  const deny = () => {
    throw anonymous ? new LoungeError(401, 'unauthorized', 'You are not authorized to access this db.') : new LoungeError(403, 'forbidden', 'You are not allowed to access this db.');
  };
  if (db === '_users' || db === '_replicator' || db === '_global_changes') {
    if (db === '_users' && ownUserDoc(route, user)) return;
    deny();
  }
  if (route.kind === 'db' && (ctx.method === 'PUT' || ctx.method === 'DELETE')) {
    throw new LoungeError(401, 'unauthorized', 'You are not a server admin.');
  }
  const sec = await lounge.security.get(db);
  const write = !['GET', 'HEAD'].includes(ctx.method);
  const needsAdmin =
    (route.kind === 'dbSpecial' && (write ? ['_security', '_revs_limit', '_compact', '_view_cleanup', '_purge', '_sync_shards', '_index'].includes(route.name) : route.name === '_security')) ||
    ((route.kind === 'doc' || route.kind === 'attachment') && route.docId.startsWith('_design/') && write);
  if (needsAdmin) {
    if (isDbAdmin(user, sec)) return;
    if (!isMember(user, sec)) deny();
    throw new LoungeError(403, 'forbidden', 'You are not a db or server admin.');
  }
  if (!isMember(user, sec)) deny();
}

export type { Context };
