// `/{db}/_partition/{p}/…`: a partitioned database's per-partition endpoints, after chttpd_db's
// handle_partition_req. `GET /{db}/_partition/{p}` is the partition's counters; `_all_docs`,
// views, `_find` and `_explain` under it are the database-wide handlers with the partition
// passed on, and they read that partition's rows only (its ids and its view rows are each one
// contiguous key range, see ../../partitions/partition.ts and views' PartitionedRowOrder).

import type Router from '@koa/router';
import type { Context } from 'koa';
import { CouchError } from '../../errors/catalog.js';
import { validatePartition } from '../../partitions/partition.js';
import { queryDesignDocs } from '../../design/design-docs.js';
import { docSource } from '../../design/doc-source.js';
import type { Database } from '../../storage/database.js';
import { readJson, requireJsonType } from '../body.js';
import type { Query } from '../query.js';
import { send } from '../respond.js';
import type { Services } from '../services.js';
import { allDocs, bodyParams } from './bulk.js';
import { openDb } from './documents.js';
import { queryViewRoute } from './views.js';

/** The database of a partition route, which must be partitioned, and the path's partition (validated). */
function partitionScope(s: Services, ctx: Context): { db: Database; partition: string } {
  const db = openDb(s, ctx);
  if (!db.partitioned) throw new CouchError('bad_request', 'database is not partitioned');
  const partition = validatePartition(ctx.params.partition);
  // chttpd: a `partition` query parameter may only repeat the path's.
  const q = ctx.query.partition;
  if (q !== undefined && (Array.isArray(q) ? q[q.length - 1] : q) !== partition) {
    throw new CouchError('bad_request', 'Conflicting value for `partition` in query string');
  }
  return { db, partition };
}

async function jsonBody(ctx: Context, s: Services): Promise<Record<string, unknown>> {
  requireJsonType(ctx);
  const body = await readJson(ctx, s.limits);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CouchError('bad_request', 'Request body must be a JSON object');
  return body as Record<string, unknown>;
}

export function registerPartitions(router: Router, s: Services): void {
  router.all('/:db/_partition', () => {
    throw new CouchError('bad_request', 'invalid_partition_req');
  });

  router.get('/:db/_partition/:partition', (ctx) => {
    const db = openDb(s, ctx);
    const partition = validatePartition(ctx.params.partition);
    if (!db.partitioned) throw new CouchError('bad_request', 'database is not partitioned');
    const stats = db.partitionStats(partition);
    send(ctx, 200, {
      db_name: db.name,
      // Chaise has no separate on-disk size per partition: `active` is the live data's size too.
      sizes: { active: stats.external, external: stats.external },
      partition,
      doc_count: stats.docCount,
      doc_del_count: stats.delCount,
    });
  });
  router.all('/:db/_partition/:partition', (ctx) => {
    if (ctx.method === 'POST' && (ctx.params.partition as string).startsWith('_')) {
      throw new CouchError('illegal_partition', 'Partition must not start with an underscore');
    }
    ctx.set('Allow', 'GET');
    throw new CouchError('method_not_allowed', 'Only GET allowed');
  });

  router.get('/:db/_partition/:partition/_all_docs', (ctx) => {
    const { db, partition } = partitionScope(s, ctx);
    s.stats.partitionAllDocsRequests++;
    allDocs(ctx, db, ctx.query as Query, undefined, false, partition, s.limits.partitionQueryLimit);
  });
  router.post('/:db/_partition/:partition/_all_docs', async (ctx) => {
    const { db, partition } = partitionScope(s, ctx);
    s.stats.partitionAllDocsRequests++;
    const body = await jsonBody(ctx, s);
    const keys = body.keys;
    if (keys !== undefined && !Array.isArray(keys)) throw new CouchError('bad_request', '`keys` body member must be an array.');
    const { keys: _keys, ...params } = body;
    allDocs(ctx, db, bodyParams(ctx.query as Query, params), keys as unknown[] | undefined, false, partition, s.limits.partitionQueryLimit);
  });

  router.get('/:db/_partition/:partition/_design/:ddoc/_view/:view', async (ctx) => {
    const { partition } = partitionScope(s, ctx);
    s.stats.partitionViewRequests++;
    await queryViewRoute(s, ctx, undefined, partition);
  });
  router.post('/:db/_partition/:partition/_design/:ddoc/_view/:view', async (ctx) => {
    const { partition } = partitionScope(s, ctx);
    s.stats.partitionViewRequests++;
    const body = await jsonBody(ctx, s);
    if (body.queries !== undefined) throw new CouchError('bad_request', '`queries` is not supported in partition queries');
    await queryViewRoute(s, ctx, body, partition);
  });

  router.post('/:db/_partition/:partition/_find', async (ctx) => {
    const { db, partition } = partitionScope(s, ctx);
    s.stats.partitionFindRequests++;
    const body = await jsonBody(ctx, s);
    send(ctx, 200, await s.views.find(docSource(db), queryDesignDocs(db), body, { partition, dbPartitioned: true }));
  });
  router.post('/:db/_partition/:partition/_explain', async (ctx) => {
    const { db, partition } = partitionScope(s, ctx);
    s.stats.partitionExplainRequests++;
    const body = await jsonBody(ctx, s);
    send(ctx, 200, s.views.explain(db.name, queryDesignDocs(db), body, { partition, dbPartitioned: true }));
  });

  // Anything else under a partition: chttpd answers 404 (after the partitioned-db check).
  const notFound = (ctx: Context) => {
    partitionScope(s, ctx);
    send(ctx, 404, { error: 'not_found', reason: 'missing' });
  };
  for (const rest of ['/:a', '/:a/:b', '/:a/:b/:c', '/:a/:b/:c/:d', '/:a/:b/:c/:d/:e']) router.all('/:db/_partition/:partition' + rest, notFound);
  // `/db/_partition//…`: chttpd splits the path into an empty partition name, which
  // couch_partition:validate_partition refuses.
  router.all('/:db/_partition/*rest', (ctx) => {
    ctx.params.partition = (ctx.params.rest as string).split('/')[0] as string;
    notFound(ctx);
  });
}
