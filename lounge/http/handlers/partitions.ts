// `/{db}/_partition/{p}/…` through the lounge. In a partitioned database every document of a
// partition lives on one range (placement hashes only the partition, as CouchDB's mem3 does), so a
// partition request is asked of that one range's shard and its answer passed on: `_all_docs`,
// views, `_find`, `_explain` and the partition's info cost one shard's partition, never a fan-out.
// Design documents are copied to every range, so a partition view finds its design doc there.

import type { Req } from '../app.js';
import type { Route } from '../route-path.js';
import { badRequest, dbNotFound, LoungeError } from '../../errors/lounge-error.js';
import { dbPath } from '../../upstream/node-client.js';
import { readRaw } from '../body.js';
import { passThrough, send } from '../respond.js';

type Special = Req<Extract<Route, { kind: 'dbSpecial' }>>;

/** couch_partition:validate_partition, with its texts. */
function validatePartition(p: string): string {
  const bad = (reason: string) => new LoungeError(400, 'illegal_partition', reason);
  if (p === '') throw bad('Partition must not be empty');
  if (p.startsWith('_')) throw bad('Partition must not start with an underscore');
  if (p.includes(':')) throw bad('Partition must not contain a colon');
  return p;
}

/** Members a partition request may address (chttpd_db:handle_partition_req). */
const PARTITION_ENDPOINTS = new Set(['_all_docs', '_find', '_explain', '_design']);

export async function partitionRequest(req: Special): Promise<void> {
  const { ctx, lounge, route } = req;
  const entry = lounge.registry.get(route.db) ?? (await lounge.registry.refreshOne(route.db));
  if (!entry) throw dbNotFound();
  const [rawPartition, ...rest] = route.rest;
  if (rawPartition === undefined) throw badRequest('invalid_partition_req');
  if (rest.length === 0 && ctx.method === 'POST' && rawPartition.startsWith('_')) {
    throw new LoungeError(400, 'illegal_partition', 'Partition must not start with an underscore');
  }
  const partition = validatePartition(rawPartition);
  if (entry.partitioned !== true) throw badRequest('database is not partitioned');
  if (rest.length === 0 && ctx.method !== 'GET' && ctx.method !== 'HEAD') {
    ctx.set('Allow', 'GET');
    throw new LoungeError(405, 'method_not_allowed', 'Only GET allowed');
  }
  if (rest.length > 0 && !PARTITION_ENDPOINTS.has(rest[0] as string)) {
    send(ctx, 404, { error: 'not_found', reason: 'missing' });
    return;
  }
  const range = lounge.map.rangeOfPartition(partition);
  const shard = lounge.map.shardName(range, route.db);
  const sub = [partition, ...rest].map(encodeURIComponent).join('/');
  const qs = ctx.querystring === '' ? '' : `?${ctx.querystring}`;
  const body = ctx.method === 'POST' ? await readRaw(ctx) : undefined;
  const res = await lounge.reader.request(route.db, range, () => ({
    method: ctx.method,
    path: `${dbPath(shard)}/_partition/${sub}${qs}`,
    ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}),
  }));
  // Answers that name the database name the shard: give the logical name back.
  if (rest.length === 0 || rest[0] === '_explain') {
    const answer = await res.json<Record<string, unknown>>();
    if (typeof answer.db_name === 'string') answer.db_name = route.db;
    if (typeof answer.dbname === 'string') answer.dbname = route.db;
    send(ctx, res.status, answer);
    return;
  }
  await passThrough(ctx, res);
}
