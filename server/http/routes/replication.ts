// Replication endpoints of a node: `POST /_replicate`, the scheduler's views of jobs and
// `_replicator` documents, and `_active_tasks`. The replicator part does the work; a node that is
// not listening on a socket (in-process tests) has no replication service and answers 503.

import type Router from '@koa/router';
import type { Context } from 'koa';
import type { ReplicationService } from '../../../replicator/index.js';
import { CouchError } from '../../errors/catalog.js';
import { requireServerAdmin } from '../../auth/access.js';
import { readJson, requireJsonType } from '../body.js';
import { send } from '../respond.js';
import type { Services } from '../services.js';
import { int, str, type Query } from '../query.js';

function service(s: Services): ReplicationService {
  if (!s.replication) throw new CouchError('service_unavailable', 'The replicator is not running on this node.');
  return s.replication;
}

function paging(ctx: Context): { limit?: number; skip?: number } {
  const q = ctx.query as Query;
  const limit = int(q, 'limit');
  const skip = int(q, 'skip');
  return { ...(limit !== undefined ? { limit } : {}), ...(skip !== undefined ? { skip } : {}) };
}

export function registerReplication(router: Router, s: Services): void {
  router.post('/_replicate', async (ctx) => {
    const user = ctx.state.user;
    if (user.name === null && !user.roles.includes('_admin')) throw new CouchError('unauthorized', 'You are not authorized to replicate.');
    requireJsonType(ctx);
    const body = await readJson(ctx, s.limits);
    const r = await service(s).replicate(body, { name: user.name, roles: user.roles });
    send(ctx, r.status, r.body);
  });

  router.get('/_scheduler/jobs', async (ctx) => {
    requireServerAdmin(ctx.state.user);
    // A node without a replicator (in-process tests) runs no jobs.
    send(ctx, 200, s.replication ? await s.replication.schedulerJobs(paging(ctx)) : { total_rows: 0, offset: 0, jobs: [] });
  });
  router.get('/_scheduler/jobs/:id', async (ctx) => {
    requireServerAdmin(ctx.state.user);
    send(ctx, 200, await service(s).schedulerJob(ctx.params.id as string));
  });
  router.get('/_scheduler/docs', async (ctx) => {
    requireServerAdmin(ctx.state.user);
    const states = str(ctx.query as Query, 'states');
    send(ctx, 200, await service(s).schedulerDocs(undefined, { ...paging(ctx), ...(states ? { states: states.split(',') } : {}) }));
  });
  router.get('/_scheduler/docs/:db', async (ctx) => {
    requireServerAdmin(ctx.state.user);
    send(ctx, 200, await service(s).schedulerDocs(ctx.params.db as string, paging(ctx)));
  });
  router.get('/_scheduler/docs/:db/:docid', async (ctx) => {
    requireServerAdmin(ctx.state.user);
    send(ctx, 200, await service(s).schedulerDoc(ctx.params.db as string, ctx.params.docid as string));
  });

  router.get('/_active_tasks', (ctx) => {
    requireServerAdmin(ctx.state.user);
    send(ctx, 200, s.replication ? s.replication.activeTasks() : []);
  });
}
