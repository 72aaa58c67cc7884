// Database endpoints: lifecycle (`PUT`/`GET`/`HEAD`/`DELETE /db`), the database's special
// members (`_all_docs`, `_changes`, `_bulk_docs`, `_security`, ...), and the cluster's own
// `/{db}/_shards` introspection. Handlers only translate; the work is in db/, reads/,
// writes/, changes/.

import type { Handler, Req } from '../app.js';
import type { Route } from '../route-path.js';
import { createDb, dbInfo, deleteDb, everyShard } from '../../db/lifecycle.js';
import { allDocs, type AllDocsKind } from '../../reads/all-docs.js';
import { badRequest, dbNotFound, LoungeError, methodNotAllowed } from '../../errors/lounge-error.js';
import { isJsonType, readJsonObject, readRaw, requireJsonType, parseJson } from '../body.js';
import { send, sendRows } from '../respond.js';
import { dbPath } from '../../upstream/node-client.js';
import { bulkDocs, bulkGet, revsDiff } from './bulk.js';
import { changesHandler } from './changes.js';
import { explain, find, indexes } from './views.js';
import { postDoc } from './documents.js';
import { partitionRequest } from './partitions.js';

export { dbInfo };

/** chttpd_db:parse_partitioned_opt: `?partitioned=true|false`, anything else is refused. */
function partitionedParam(v: string | null): boolean {
  if (v === null || v === 'false') return false;
  if (v === 'true') return true;
  throw badRequest('Invalid `partitioned` parameter');
}

export const dbHandler: Handler<'db'> = async (req) => {
  const { ctx, lounge, route } = req;
  switch (ctx.method) {
    case 'PUT': {
      const status = await createDb(lounge, route.db, partitionedParam(new URLSearchParams(ctx.querystring).get('partitioned')));
      ctx.set('Location', `${ctx.protocol}://${ctx.host}/${encodeURIComponent(route.db)}`);
      send(ctx, status, { ok: true });
      return;
    }
    case 'DELETE': {
      if (ctx.querystring.includes('rev=')) {
        throw badRequest('You tried to DELETE a database with a ?rev= parameter. Did you mean to DELETE a document instead?');
      }
      send(ctx, await deleteDb(lounge, route.db), { ok: true });
      return;
    }
    case 'GET':
    case 'HEAD':
      send(ctx, 200, await dbInfo(lounge, route.db));
      return;
    case 'POST':
      return postDoc(req);
    default:
      throw methodNotAllowed('DELETE,GET,HEAD,POST,PUT');
  }
};

/** `GET /{db}/_shards` and `/{db}/_shards/{docid}`, in CouchDB's shape (node ids for node names). */
export const shardsHandler: Handler<'shards'> = async ({ ctx, lounge, route }) => {
  if (!lounge.registry.get(route.db) && !(await lounge.registry.refreshOne(route.db))) throw dbNotFound();
  if (route.docId === undefined) {
    send(ctx, 200, { shards: Object.fromEntries(lounge.map.ranges.map((r) => [r.name, [...lounge.map.nodesOf(r)]])) });
    return;
  }
  const range = lounge.map.rangeOf(route.docId, route.db);
  send(ctx, 200, { range: range.name, nodes: [...lounge.map.nodesOf(range)] });
};

type Special = Req<Extract<Route, { kind: 'dbSpecial' }>>;

async function listDocs(req: Special, kind: AllDocsKind): Promise<void> {
  const { ctx, lounge, route } = req;
  const q = new URLSearchParams(ctx.querystring);
  let keys: unknown[] | undefined;
  if (ctx.method === 'POST') {
    requireJsonType(ctx);
    const body = await readJsonObject(ctx);
    if (body.keys !== undefined) {
      if (!Array.isArray(body.keys)) throw badRequest('`keys` member must be an array.');
      keys = body.keys;
    }
    for (const [k, v] of Object.entries(body)) if (k !== 'keys') q.set(k, JSON.stringify(v));
  } else if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw methodNotAllowed('GET,HEAD,POST');
  const answer = await allDocs(lounge, route.db, kind, q, keys);
  sendRows(ctx, 200, answer.head, answer.rows, answer.tail);
}

/** A database property kept on every shard: GET from one replica, PUT to all. */
async function shardProperty(req: Special, sub: string): Promise<void> {
  const { ctx, lounge, route } = req;
  if (ctx.method === 'GET' || ctx.method === 'HEAD') {
    const range = lounge.map.ranges[0];
    if (!range) throw dbNotFound();
    const { body } = await lounge.reader.json<unknown>(route.db, range, () => ({ method: 'GET', path: `${dbPath(lounge.map.shardName(range, route.db))}${sub}` }));
    send(ctx, 200, body);
    return;
  }
  if (ctx.method !== 'PUT') throw methodNotAllowed('GET,HEAD,PUT');
  const raw = await readRaw(ctx);
  const value = parseJson(raw); // a node would refuse bad JSON per shard; refuse it once
  await everyShard(lounge, route.db, 'PUT', sub, raw.toString('utf8'));
  if (sub === '/_security') {
    lounge.security.forget(route.db);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) await lounge.registry.setSecurity(route.db, value as Record<string, unknown>);
  }
  send(ctx, 200, { ok: true });
}

export const dbSpecialHandler: Handler<'dbSpecial'> = async (req) => {
  const { ctx, lounge, route } = req;
  switch (route.name) {
    case '_all_docs':
    case '_design_docs':
    case '_local_docs':
      if (route.rest[0] === 'queries') return multiQuery(req, route.name);
      return listDocs(req, route.name);
    case '_changes':
      return changesHandler(req);
    case '_bulk_docs':
      return bulkDocs(req);
    case '_bulk_get':
      return bulkGet(req);
    case '_revs_diff':
    case '_missing_revs':
      return revsDiff(req, route.name);
    case '_find':
      return find(req);
    case '_index':
      return indexes(req);
    case '_explain':
      return explain(req);
    case '_security':
      return shardProperty(req, '/_security');
    case '_revs_limit':
      return shardProperty(req, '/_revs_limit');
    case '_purged_infos_limit':
      return shardProperty(req, '/_purged_infos_limit');
    case '_compact':
    case '_view_cleanup': {
      if (ctx.method !== 'POST') throw methodNotAllowed('POST');
      requireJsonType(ctx);
      const sub = `/${route.name}${route.rest.length > 0 ? '/' + route.rest.map(encodeURIComponent).join('/') : ''}`;
      await everyShard(lounge, route.db, 'POST', sub, '{}');
      send(ctx, 202, { ok: true });
      return;
    }
    case '_ensure_full_commit': {
      if (ctx.method !== 'POST') throw methodNotAllowed('POST');
      const entry = lounge.registry.get(route.db) ?? (await lounge.registry.refreshOne(route.db));
      if (!entry) throw dbNotFound();
      // Nodes commit durably before answering a write, so there is nothing to flush.
      send(ctx, 201, { ok: true, instance_start_time: String(entry.created) });
      return;
    }
    case '_sync_shards': {
      if (ctx.method !== 'POST') throw methodNotAllowed('POST');
      lounge.sync.requestSweep(route.db);
      send(ctx, 202, { ok: true });
      return;
    }
    case '_purge':
      throw new LoungeError(501, 'not_implemented', '_purge is not supported through the lounge yet');
    case '_temp_view':
      throw new LoungeError(410, 'gone', 'Temporary views are not supported in CouchDB');
    case '_partition':
      return partitionRequest(req);
    default:
      throw new LoungeError(400, 'bad_request', `unknown endpoint ${route.name}`);
  }
};

/** `POST /db/_all_docs/queries`: several `_all_docs` queries in one request. */
async function multiQuery(req: Special, kind: AllDocsKind): Promise<void> {
  const { ctx, lounge, route } = req;
  if (ctx.method !== 'POST') throw methodNotAllowed('POST');
  if (!isJsonType(ctx)) requireJsonType(ctx);
  const body = await readJsonObject(ctx);
  if (!Array.isArray(body.queries)) throw badRequest('`queries` member must be an array.');
  const results: unknown[] = [];
  for (const query of body.queries) {
    if (typeof query !== 'object' || query === null) throw badRequest('each query must be an object');
    const q = new URLSearchParams();
    let keys: unknown[] | undefined;
    for (const [k, v] of Object.entries(query as Record<string, unknown>)) {
      if (k === 'keys' && Array.isArray(v)) keys = v;
      else q.set(k, typeof v === 'string' && !['startkey', 'endkey', 'start_key', 'end_key', 'key'].includes(k) ? v : JSON.stringify(v));
    }
    const answer = await allDocs(lounge, route.db, kind, q, keys);
    let text = answer.head;
    let first = true;
    for await (const r of answer.rows) {
      text += (first ? '' : ',') + r;
      first = false;
    }
    results.push(JSON.parse(text + answer.tail()));
  }
  send(ctx, 200, { results });
}
