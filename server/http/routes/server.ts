// Server-level endpoints: welcome, health, uuids, the database list, the session for Basic auth.

import type Router from '@koa/router';
import { newUuidWith, uuidSettings } from '../../uuids/uuids.js';
import { CouchError } from '../../errors/catalog.js';
import { requireServerAdmin } from '../../auth/access.js';
import { bool, int, json, type Query } from '../query.js';
import { makeEtag, send } from '../respond.js';
import { readJson, requireJsonType } from '../body.js';
import { dbInfo } from './database.js';
import type { Services } from '../services.js';

/** A new id by the node's `[uuids] algorithm`, read at each use (couch_uuids:new/0). */
export function newUuid(s: Services): string {
  return newUuidWith(uuidSettings(s.configStore.get('uuids', 'algorithm'), s.configStore.get('uuids', 'utc_id_suffix')));
}

export function registerServer(router: Router, s: Services): void {
  router.get('/', (ctx) => {
    send(ctx, 200, {
      couchdb: 'Welcome',
      version: s.config.version,
      git_sha: 'chaise',
      uuid: s.catalog.uuid,
      // Only what this node has: no `reshard` (a single node has no shards to split).
      features: ['access-ready', 'partitioned', 'pluggable-storage-engines', 'scheduler'],
      vendor: { name: 'Chaise' },
    });
  });

  router.get('/_up', (ctx) => send(ctx, 200, { status: 'ok', seeds: {} }));

  router.get('/_uuids', (ctx) => {
    const count = int(ctx.query as Query, 'count') ?? 1;
    if (count < 0) throw new CouchError('query_parse_error', 'count must be a positive integer');
    if (count > s.limits.maxUuids) throw new CouchError('bad_request', `count parameter too large`);
    ctx.set('Cache-Control', 'no-cache');
    const settings = uuidSettings(s.configStore.get('uuids', 'algorithm'), s.configStore.get('uuids', 'utc_id_suffix'));
    const uuids = Array.from({ length: count }, () => newUuidWith(settings));
    send(ctx, 200, { uuids });
    // chttpd_misc:handle_uuids_req: never cached, by HTTP/1.1 or 1.0 caches, and an ETag of the answer.
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('Pragma', 'no-cache');
    ctx.set('Expires', 'Mon, 01 Jan 1990 00:00:00 GMT');
    ctx.set('ETag', makeEtag(ctx.body as string));
  });
  router.all('/_uuids', () => {
    throw new CouchError('method_not_allowed', 'Only GET allowed');
  });

  router.get('/_all_dbs', (ctx) => {
    requireServerAdmin(ctx.state.user);
    const q = ctx.query as Query;
    let names = s.catalog.names();
    const descending = bool(q, 'descending');
    const startkey = json(q, 'startkey') ?? json(q, 'start_key');
    const endkey = json(q, 'endkey') ?? json(q, 'end_key');
    const inclusiveEnd = bool(q, 'inclusive_end', true);
    if (descending) names = names.reverse();
    const before = (a: string, b: string) => (descending ? a > b : a < b);
    names = names.filter((n) => {
      if (typeof startkey === 'string' && before(n, startkey)) return false;
      if (typeof endkey === 'string') {
        if (before(endkey, n)) return false;
        if (!inclusiveEnd && n === endkey) return false;
      }
      return true;
    });
    const skip = int(q, 'skip') ?? 0;
    const limit = int(q, 'limit');
    names = names.slice(skip, limit === undefined ? undefined : skip + limit);
    send(ctx, 200, names);
  });

  // `_dbs_info`: info of many databases at once (admin-only, like `_all_dbs`).
  const dbsInfo = (names: unknown[]) =>
    names.map((key) => {
      const db = typeof key === 'string' ? s.catalog.get(key) : undefined;
      return db ? { key, info: dbInfo(db) } : { key, error: 'not_found' };
    });
  router.get('/_dbs_info', (ctx) => {
    requireServerAdmin(ctx.state.user);
    send(ctx, 200, dbsInfo(s.catalog.names()));
  });
  router.post('/_dbs_info', async (ctx) => {
    requireServerAdmin(ctx.state.user);
    requireJsonType(ctx);
    const body = (await readJson(ctx, s.limits)) as { keys?: unknown } | null;
    if (!body || !Array.isArray(body.keys)) throw new CouchError('bad_request', '`keys` member must exist.');
    if (body.keys.length > s.limits.maxBulkDocs) throw new CouchError('bad_request', 'More than the maximum number of keys');
    send(ctx, 200, dbsInfo(body.keys));
  });

  router.get('/_membership', (ctx) => {
    requireServerAdmin(ctx.state.user);
    send(ctx, 200, { all_nodes: [s.nodeName], cluster_nodes: [s.nodeName] });
  });

  router.get('/favicon.ico', () => {
    throw new CouchError('not_found', 'missing');
  });
}
