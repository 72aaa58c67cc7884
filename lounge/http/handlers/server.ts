// Server-level endpoints: the welcome, `_up`, `_uuids`, `_all_dbs`, `_dbs_info`,
// `_session`, `_membership`, and the lounge's own `/_lounge/map`, `/_lounge/health` and
// `/_lounge/sync`. Nothing here touches a shard except `_dbs_info`.

import { randomBytes } from 'node:crypto';
import type { Handler, Req } from '../app.js';
import { isServerAdmin } from '../../auth/access.js';
import { LoungeError, notFound } from '../../errors/lounge-error.js';
import { readRaw, parseJson } from '../body.js';
import { send } from '../respond.js';
import { UUIDS_MAX } from '../limits.js';
import { SESSION_TIMEOUT_S } from '../../auth/authenticator.js';
import { dbInfo } from './database.js';
import { shardStatus } from './shard-status.js';
import { elasticHandler } from './elastic.js';

/** The version the lounge reports; clients only check that it looks like CouchDB 3. */
const COUCHDB_VERSION = '3.5.0';

export const rootHandler: Handler<'root'> = async ({ ctx, lounge }) => {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new LoungeError(405, 'method_not_allowed', 'Only GET,HEAD allowed');
  send(ctx, 200, {
    couchdb: 'Welcome',
    version: COUCHDB_VERSION,
    git_sha: 'chaise-lounge',
    uuid: lounge.config.serverUuid,
    // No `reshard`: the lounge answers /_reshard with 501, so it must not claim the feature.
    features: ['access-ready', 'pluggable-storage-engines', 'scheduler'],
    vendor: { name: 'Chaise Lounge' },
  });
};

function requireAdmin(req: Req): void {
  if (isServerAdmin(req.user)) return;
  // CouchDB answers 401 to everyone here, signed in or not (couch_httpd:verify_is_server_admin).
  throw new LoungeError(401, 'unauthorized', 'You are not a server admin.');
}

/** Raw byte order, as CouchDB lists database names. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export const serverHandler: Handler<'server'> = async (req) => {
  const { ctx, lounge, route } = req;
  const q = new URLSearchParams(ctx.querystring);
  switch (route.name) {
    case '_up':
      send(ctx, 200, { status: 'ok', seeds: {} });
      return;
    case '_uuids': {
      const count = q.has('count') ? Number(q.get('count')) : 1;
      if (!Number.isInteger(count) || count < 0) throw new LoungeError(400, 'query_parse_error', 'count must be a positive integer');
      if (count > UUIDS_MAX) throw new LoungeError(400, 'bad_request', 'count parameter too large');
      ctx.set('Cache-Control', 'no-cache');
      send(ctx, 200, { uuids: Array.from({ length: count }, () => randomBytes(16).toString('hex')) });
      ctx.set('Cache-Control', 'no-cache');
      return;
    }
    case '_all_dbs': {
      requireAdmin(req);
      await lounge.registry.refresh().catch(() => undefined);
      let names = lounge.registry.names();
      const descending = q.get('descending') === 'true';
      if (descending) names = names.reverse();
      const key = (k: string) => (q.has(k) ? (parseJson(Buffer.from(q.get(k) as string)) as unknown) : undefined);
      const start = key('startkey') ?? key('start_key');
      const end = key('endkey') ?? key('end_key');
      const inclusive = q.get('inclusive_end') !== 'false';
      const before = (a: string, b: string) => (descending ? byteOrder(a, b) > 0 : byteOrder(a, b) < 0);
      names = names.filter((n) => {
        if (typeof start === 'string' && before(n, start)) return false;
        if (typeof end === 'string' && (before(end, n) || (!inclusive && n === end))) return false;
        return true;
      });
      const skip = Number(q.get('skip') ?? 0);
      const limit = q.has('limit') ? Number(q.get('limit')) : undefined;
      send(ctx, 200, names.slice(skip, limit === undefined ? undefined : skip + limit));
      return;
    }
    case '_dbs_info': {
      requireAdmin(req);
      let keys: unknown;
      if (ctx.method === 'POST') keys = (parseJson(await readRaw(ctx)) as { keys?: unknown }).keys;
      else keys = lounge.registry.names();
      if (!Array.isArray(keys)) throw new LoungeError(400, 'bad_request', '`keys` member must exist.');
      const out = await Promise.all(
        keys.map(async (k) => {
          try {
            return { key: k, info: await dbInfo(lounge, String(k)) };
          } catch {
            return { key: k, error: 'not_found' };
          }
        }),
      );
      send(ctx, 200, out);
      return;
    }
    case '_session':
      return session(req);
    case '_membership': {
      requireAdmin(req);
      const all = Object.keys(lounge.config.nodes);
      send(ctx, 200, { all_nodes: all.filter((n) => lounge.health.isUp(n)), cluster_nodes: all });
      return;
    }
    case '_lounge':
      return loungeIntrospection(req);
    case '_active_tasks':
      requireAdmin(req);
      send(ctx, 200, []);
      return;
    case 'favicon.ico':
      throw notFound();
    case '_replicate':
    case '_scheduler':
    case '_node':
    case '_config':
    case '_reshard':
      throw new LoungeError(501, 'not_implemented', `${route.name} is not available through the lounge; use a node directly`);
    default:
      throw new LoungeError(400, 'illegal_database_name', `Name: '${route.name}'. Only lowercase characters (a-z), digits (0-9), and any of the characters _, $, (, ), +, -, and / are allowed. Must begin with a letter.`);
  }
};

async function session(req: Req): Promise<void> {
  const { ctx, lounge, user } = req;
  if (ctx.method === 'GET' || ctx.method === 'HEAD') {
    send(ctx, 200, {
      ok: true,
      userCtx: { name: user.name, roles: user.roles },
      info: { authentication_handlers: ['cookie', 'default'], ...(user.name ? { authenticated: ctx.get('authorization') ? 'default' : 'cookie' } : {}) },
    });
    return;
  }
  if (ctx.method === 'DELETE') {
    ctx.set('Set-Cookie', 'AuthSession=; Version=1; Path=/; HttpOnly; Max-Age=0');
    send(ctx, 200, { ok: true });
    return;
  }
  if (ctx.method !== 'POST') throw new LoungeError(405, 'method_not_allowed', 'Only DELETE,GET,HEAD,POST allowed');
  const raw = (await readRaw(ctx)).toString('utf8');
  let name: unknown;
  let password: unknown;
  if ((ctx.get('content-type') || '').includes('application/x-www-form-urlencoded')) {
    const f = new URLSearchParams(raw);
    name = f.get('name') ?? f.get('username');
    password = f.get('password');
  } else {
    const body = parseJson(Buffer.from(raw)) as Record<string, unknown>;
    name = body.name ?? body.username;
    password = body.password;
  }
  if (typeof name !== 'string' || typeof password !== 'string') throw new LoungeError(400, 'bad_request', 'name and password are required');
  const who = await lounge.auth.check(name, password);
  ctx.set('Set-Cookie', `AuthSession=${lounge.auth.sessionCookie(name)}; Version=1; Path=/; HttpOnly; Max-Age=${SESSION_TIMEOUT_S}`);
  send(ctx, 200, { ok: true, name: who.name, roles: who.roles });
}

async function loungeIntrospection(req: Req): Promise<void> {
  const { ctx, lounge } = req;
  const route = req.route as { rest: string[] };
  requireAdmin(req);
  const what = route.rest[0];
  const cfg = lounge.config;
  if (await elasticHandler(req, route.rest)) return;
  if (what === 'map') {
    send(ctx, 200, {
      version: cfg.version,
      mapEpoch: cfg.mapEpoch,
      serverUuid: cfg.serverUuid,
      q: cfg.q,
      n: cfg.n,
      r: cfg.r,
      w: cfg.w,
      nodes: Object.fromEntries(Object.entries(cfg.nodes).map(([id, n]) => [id, { url: n.url }])),
      shardNames: cfg.shardNames,
      ranges: lounge.map.ranges.map((r) => ({ range: r.name, nodes: [...lounge.map.nodesOf(r)], ...(lounge.map.joining(r).length > 0 ? { joining: lounge.map.joining(r).map((t) => ({ node: t.node, range: t.range.name })) } : {}) })),
    });
    return;
  }
  if (what === 'health') {
    const nodes = lounge.health.report().map((h) => ({ ...h, url: cfg.nodes[h.node]?.url }));
    const down = new Set(nodes.filter((n) => n.state === 'down').map((n) => n.node));
    const ranges = lounge.map.ranges.map((r) => {
      const up = lounge.map.nodesOf(r).filter((n) => !down.has(n)).length;
      return { range: r.name, replicas: lounge.map.nodesOf(r).length, up };
    });
    send(ctx, 200, {
      status: ranges.every((r) => r.up === r.replicas) ? 'ok' : ranges.every((r) => r.up > 0) ? 'degraded' : 'unavailable',
      nodes,
      ranges,
      pending_sync: lounge.hints.size,
      started: lounge.startedAt,
    });
    return;
  }
  if (what === 'shards') return shardStatus(req, route.rest[1]);
  if (what === 'sync') {
    send(ctx, 200, lounge.sync.status());
    return;
  }
  throw notFound();
}
