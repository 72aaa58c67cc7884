// `/_reshard`, as a single-node CouchDB 3.5 answers it (mem3_reshard_httpd and
// mem3_reshard_httpd_util): the global state can be stopped and started again, and job
// requests are validated field by field with CouchDB's texts. A Chaise node holds each database
// whole, as one `00000000-ffffffff` range, so a valid split job is refused with CouchDB's failed
// job shape (500, one row per shard); splitting ranges is the lounge's work
// (`POST /_lounge/split`). No job ever exists, so every job id is 404. Server admins only.

import type Router from '@koa/router';
import type { Context } from 'koa';
import { CouchError } from '../../errors/catalog.js';
import { requireServerAdmin } from '../../auth/access.js';
import { readJson, requireJsonType } from '../body.js';
import { send } from '../respond.js';
import type { Services } from '../services.js';

/** The whole hash ring: the one range a node's database covers. */
const WHOLE_RANGE = '00000000-ffffffff';

interface ReshardState {
  state: 'running' | 'stopped';
  reason: string | null;
}

export function registerReshard(router: Router, s: Services): void {
  // mem3_reshard keeps its state per node (in CouchDB, in a _local doc); here, for the process.
  const global: ReshardState = { state: 'running', reason: null };
  const admin = (f: (ctx: Context) => void | Promise<void>) => async (ctx: Context) => {
    requireServerAdmin(ctx.state.user);
    await f(ctx);
  };

  router.all(
    '/_reshard',
    admin((ctx) => {
      allow(ctx, 'GET,HEAD');
      send(ctx, 200, { state: global.state, state_reason: global.reason, completed: 0, failed: 0, running: 0, stopped: 0, total: 0 });
    }),
  );

  router.all(
    '/_reshard/state',
    admin(async (ctx) => {
      if (ctx.method === 'PUT') {
        const { state, reason } = await objectBody(ctx, s);
        if (state === undefined) throw new CouchError('bad_request', 'Expected a `state` field');
        if (state === 'running') Object.assign(global, { state: 'running', reason: null });
        else if (state === 'stopped') Object.assign(global, { state: 'stopped', reason: reason === undefined ? 'Shard splitting stopped on the cluster by user' : String(reason) });
        else throw new CouchError('bad_request', 'State field not `running` or `stopped`');
        return send(ctx, 200, { ok: true });
      }
      allow(ctx, 'GET,HEAD,PUT');
      send(ctx, 200, { state: global.state, reason: global.reason });
    }),
  );

  router.all(
    '/_reshard/jobs',
    admin(async (ctx) => {
      if (ctx.method === 'POST') return createJobs(ctx, s);
      allow(ctx, 'GET,HEAD,POST');
      send(ctx, 200, { total_rows: 0, offset: 0, jobs: [] });
    }),
  );

  router.all(
    '/_reshard/jobs/:id',
    admin((ctx) => {
      allow(ctx, 'GET,HEAD,DELETE');
      throw new CouchError('not_found', 'missing');
    }),
  );
  router.all(
    '/_reshard/jobs/:id/state',
    admin((ctx) => {
      allow(ctx, 'GET,HEAD,PUT');
      throw new CouchError('not_found', 'missing');
    }),
  );
}

/** chttpd:send_method_not_allowed for a method the resource does not take. */
function allow(ctx: Context, methods: string): void {
  if (methods.split(',').includes(ctx.method)) return;
  ctx.set('Allow', methods);
  throw new CouchError('method_not_allowed', `Only ${methods} allowed`);
}

async function objectBody(ctx: Context, s: Services): Promise<Record<string, unknown>> {
  requireJsonType(ctx);
  const body = await readJson(ctx, s.limits);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CouchError('bad_request', 'Request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** POST /_reshard/jobs: the checks of mem3_reshard_httpd_util, in its order, then the jobs. */
async function createJobs(ctx: Context, s: Services): Promise<void> {
  const body = await objectBody(ctx, s);
  const node = body.node;
  if (node !== undefined && node !== s.nodeName) {
    throw new CouchError('bad_request', typeof node === 'string' && node.includes('@') ? 'Not connected to `node`' : '`node` is not a valid node name');
  }
  const shard = body.shard;
  if (shard !== undefined && !(typeof shard === 'string' && /^shards\/[^/]{8}-[^/]{8}\/./.test(shard))) throw new CouchError('bad_request', '`shard` is invalid');
  const db = body.db;
  if (db !== undefined && !(typeof db === 'string' && s.catalog.get(db) !== undefined)) throw new CouchError('bad_request', 'Invalid `db`');
  const range = body.range;
  if (range !== undefined && !validRange(range)) throw new CouchError('bad_request', 'Invalid `range`');
  if (body.type !== 'split') throw new CouchError('bad_request', '`job type must be `split`');
  if (db === undefined && shard === undefined) throw new CouchError('bad_request', 'Must specify at least `db` or `shard`');
  if (db !== undefined && shard !== undefined) throw new CouchError('bad_request', '`db` and `shard` are mutually exclusive');
  // The node's one "shard" of the database, when the request names it.
  const dbName = typeof db === 'string' ? db : (shard as string).split('/').slice(2).join('/').replace(/\.\d+$/, '');
  const name = `shards/${WHOLE_RANGE}/${dbName}`;
  const picked = s.catalog.get(dbName) !== undefined && (range === undefined || range === WHOLE_RANGE) && (shard === undefined || shard === name || (shard as string).startsWith(`${name}.`));
  if (!picked) throw new CouchError('not_found', 'missing');
  send(ctx, 500, [{ error: 'Chaise nodes keep each database whole: split ranges through a lounge (POST /_lounge/split)', node: s.nodeName, shard: name }]);
}

/** mem3_reshard_httpd_util:validate_range: `BBBBBBBB-EEEEEEEE`, hex, begin below end, both within 32 bits. */
function validRange(range: unknown): boolean {
  if (typeof range !== 'string') return false;
  const m = /^([0-9a-fA-F]{8})-([0-9a-fA-F]{8})$/.exec(range);
  if (!m) return false;
  return parseInt(m[1] as string, 16) < parseInt(m[2] as string, 16);
}
