// `POST /{db}/_purge` and `GET/PUT /{db}/_purged_infos_limit`, after chttpd_db.erl. Both are for
// server admins only (CouchDB 2.3.1 onwards, apache/couchdb#1877). The whole body is checked before
// anything is purged, so a bad request changes nothing. The purge itself is storage/purge.ts.

import type Router from '@koa/router';
import { CouchError } from '../../errors/catalog.js';
import { requireServerAdmin } from '../../auth/access.js';
import { USER_PREFIX, USERS_DB } from '../../auth/users.js';
import { parseRev } from '../../revtree/index.js';
import { validatePartitionedDocId } from '../../partitions/partition.js';
import { purgeDocs, purgedInfosLimit, setPurgedInfosLimit, type PurgeRequest } from '../../storage/purge.js';
import { readJson, requireJsonType } from '../body.js';
import { send } from '../respond.js';
import type { Services } from '../services.js';

/** CouchDB's `[purge] max_document_id_number`: documents one request may name. */
export const PURGE_DOCS_MAX = 100;
/** CouchDB's `[purge] max_revisions_number`: revisions one request may name, over all documents. */
export const PURGE_REVS_MAX = 1000;

export function registerPurge(router: Router, s: Services): void {
  router.post('/:db/_purge', async (ctx) => {
    requireServerAdmin(ctx.state.user);
    const db = s.catalog.require(ctx.params.db as string);
    requireJsonType(ctx);
    const requests = parsePurgeBody(await readJson(ctx, s.limits));
    if (db.partitioned) for (const r of requests) validatePartitionedDocId(r.id);
    // View indexes replay the purge log at their next update (see views/index-store/view-group.ts).
    s.stats.documentPurges.total += requests.length;
    s.stats.databasePurges++;
    let results: Awaited<ReturnType<typeof purgeDocs>>;
    try {
      results = await purgeDocs(db, requests);
    } catch (e) {
      s.stats.documentPurges.failure += requests.length;
      throw e;
    }
    // Every document named gets an answer, an empty list when there was nothing to purge.
    s.stats.documentPurges.success += results.length;
    // A purged user document must stop authenticating now, not when its cache entry ages out.
    if (db.name === USERS_DB) {
      for (const r of results) if (r.purged.length > 0 && r.id.startsWith(USER_PREFIX)) s.auth.forget(r.id.slice(USER_PREFIX.length));
    }
    // fromEntries, so an id like "__proto__" is an ordinary member of the answer.
    const purged = Object.fromEntries(results.map((r) => [r.id, r.purged]));
    // A single node always reaches its quorum, so the answer is 201, never 202.
    send(ctx, 201, { purge_seq: null, purged });
  });
  router.all('/:db/_purge', () => {
    throw new CouchError('method_not_allowed', 'Only POST allowed');
  });

  router.get('/:db/_purged_infos_limit', (ctx) => {
    requireServerAdmin(ctx.state.user);
    send(ctx, 200, purgedInfosLimit(s.catalog.require(ctx.params.db as string)));
  });
  router.put('/:db/_purged_infos_limit', async (ctx) => {
    requireServerAdmin(ctx.state.user);
    const db = s.catalog.require(ctx.params.db as string);
    const limit = await readJson(ctx, s.limits);
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit <= 0) {
      throw new CouchError('bad_request', '`purge_infos_limit` must be positive integer');
    }
    await setPurgedInfosLimit(db, limit);
    send(ctx, 200, { ok: true });
  });
  router.all('/:db/_purged_infos_limit', () => {
    throw new CouchError('method_not_allowed', 'Only GET,PUT allowed');
  });
}

/** `{docid: [rev, …], …}` → purge requests, with chttpd_db's and couch_doc:parse_revs' errors. */
export function parsePurgeBody(body: unknown): PurgeRequest[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new CouchError('bad_request', 'Request body must be a JSON object');
  }
  const requests: PurgeRequest[] = [];
  let revCount = 0;
  for (const [id, revs] of Object.entries(body as Record<string, unknown>)) {
    if (!Array.isArray(revs)) throw new CouchError('bad_request', 'Invalid list of revisions');
    for (const rev of revs) {
      if (typeof rev !== 'string' || parseRev(rev) === null) throw new CouchError('invalid_rev');
    }
    revCount += revs.length;
    requests.push({ id, revs: revs as string[] });
  }
  if (requests.length > PURGE_DOCS_MAX) throw new CouchError('bad_request', 'Exceeded maximum number of documents.');
  if (revCount > PURGE_REVS_MAX) throw new CouchError('bad_request', 'Exceeded maximum number of revisions.');
  return requests;
}
