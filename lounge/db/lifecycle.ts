// Logical databases: create, delete and describe one database made of q×n shards.
//
// It guarantees:
// - `PUT /db` creates every shard on every replica it can reach; a shard left behind by an
//   earlier incarnation (a node was down when the old database was deleted) is deleted and
//   created empty, so old documents never resurrect; the database is registered only once
//   every range has at least one replica; the answer is 201 when every replica was created,
//   202 when some were not (the syncer creates those when their node returns), 503 when a
//   whole range was unreachable (nothing is left half-created);
// - `DELETE /db` unregisters first, then deletes every shard it can reach (202 if some were
//   unreachable; the syncer deletes them later);
// - `GET /db` sums the shards' counts, hides the design-doc copies kept on non-home ranges,
//   and reports `update_seq` as a since token for the whole database.

import type { Lounge } from '../lounge.js';
import type { Range } from '../placement/ranges.js';
import { dbNotFound, fileExists, LoungeError, unavailable } from '../errors/lounge-error.js';
import { dbPath, UpstreamError } from '../upstream/node-client.js';
import { encodeSince, type SeqEntry } from '../changes/since-token.js';

/** CouchDB's rule for database names. */
const DB_NAME = /^[a-z][a-z0-9_$()+/-]*$/;
const SYSTEM_DBS = new Set(['_users', '_replicator', '_global_changes']);
/** A node refuses names over 238 chars; `shards/<17 chars>/` takes 25 of them. */
const DB_NAME_CHARS_MAX = 238 - 'shards/00000000-ffffffff/'.length;

export function validateDbName(name: string): void {
  if ((SYSTEM_DBS.has(name) || DB_NAME.test(name)) && name.length <= DB_NAME_CHARS_MAX) return;
  throw new LoungeError(
    400,
    'illegal_database_name',
    `Name: '${name}'. Only lowercase characters (a-z), digits (0-9), and any of the characters _, $, (, ), +, -, and / are allowed. Must begin with a letter.`,
  );
}

/** Every (range, node) shard replica of the map. */
function replicas(lounge: Lounge): { range: Range; node: string }[] {
  return lounge.map.ranges.flatMap((range) => lounge.map.nodesOf(range).map((node) => ({ range, node })));
}

/** Shards of moves and splits in progress (they receive writes; a move's catch-up also creates them). */
function joiningShards(lounge: Lounge): { range: Range; node: string }[] {
  return lounge.map.ranges.flatMap((range) => lounge.map.joining(range).map((t) => ({ range: t.range, node: t.node })));
}

/** Sends one request to one shard replica; resolves with the status (0 for no answer). */
async function shardCall(lounge: Lounge, node: string, method: string, path: string, body?: string): Promise<number> {
  try {
    const res = await lounge.client.request(node, {
      method,
      path,
      ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}),
    });
    res.discard();
    return res.status;
  } catch (e) {
    if (e instanceof UpstreamError) return 0;
    throw e;
  }
}

/** Creates one shard replica; a leftover from an earlier database of the same name is replaced. */
async function createShard(lounge: Lounge, node: string, shard: string, partitioned: boolean): Promise<boolean> {
  const path = dbPath(shard);
  const create = partitioned ? `${path}?partitioned=true` : path;
  let status = await shardCall(lounge, node, 'PUT', create);
  if (status === 412) {
    await shardCall(lounge, node, 'DELETE', path);
    status = await shardCall(lounge, node, 'PUT', create);
  }
  return status === 201 || status === 202;
}

export async function createDb(lounge: Lounge, db: string, partitioned = false): Promise<number> {
  validateDbName(db);
  if (partitioned && (SYSTEM_DBS.has(db) || /(^|\/)(_users|_replicator)$/.test(db))) throw new LoungeError(400, 'bad_request', 'Cannot partition a system database');
  if (lounge.registry.get(db) || (await lounge.registry.refreshOne(db))) throw fileExists();
  const all = replicas(lounge);
  const made = await Promise.all(all.map(({ range, node }) => (lounge.client.isUp(node) ? createShard(lounge, node, lounge.map.shardName(range, db), partitioned) : Promise.resolve(false))));
  const perRange = new Map<string, number>();
  all.forEach(({ range }, i) => perRange.set(range.name, (perRange.get(range.name) ?? 0) + (made[i] ? 1 : 0)));
  const dead = lounge.map.ranges.find((r) => (perRange.get(r.name) ?? 0) === 0);
  if (dead) {
    await Promise.all(all.map(({ range, node }, i) => (made[i] ? shardCall(lounge, node, 'DELETE', dbPath(lounge.map.shardName(range, db))) : undefined)));
    throw unavailable(`range ${dead.name}`);
  }
  await Promise.all(joiningShards(lounge).map(({ range, node }) => (lounge.client.isUp(node) ? createShard(lounge, node, lounge.map.shardName(range, db), partitioned).catch(() => false) : undefined)));
  lounge.instances.forgetDb(db);
  await lounge.registry.create(db, partitioned);
  all.forEach(({ range, node }, i) => {
    if (!made[i]) lounge.hints.missed(db, range, node);
  });
  return made.every(Boolean) ? 201 : 202;
}

export async function deleteDb(lounge: Lounge, db: string): Promise<number> {
  validateDbName(db);
  if (!lounge.registry.get(db) && !(await lounge.registry.refreshOne(db))) throw dbNotFound();
  await lounge.registry.remove(db);
  const all = replicas(lounge);
  await Promise.all(joiningShards(lounge).map(({ range, node }) => shardCall(lounge, node, 'DELETE', dbPath(lounge.map.shardName(range, db))).catch(() => 0)));
  const statuses = await Promise.all(all.map(({ range, node }) => shardCall(lounge, node, 'DELETE', dbPath(lounge.map.shardName(range, db)))));
  lounge.instances.forgetDb(db);
  lounge.designs.forget(db);
  lounge.designCopies.forget(db);
  lounge.security.forget(db);
  return statuses.every((s) => s === 200 || s === 202 || s === 404) ? 200 : 202;
}

interface ShardInfo {
  doc_count?: number;
  doc_del_count?: number;
  update_seq?: unknown;
  purge_seq?: unknown;
  sizes?: { file?: number; external?: number; active?: number };
  compact_running?: boolean;
  disk_format_version?: number;
  uuid?: string;
  instance_start_time?: string;
}

/** `GET /db` for a logical database. */
export async function dbInfo(lounge: Lounge, db: string): Promise<Record<string, unknown>> {
  const entry = lounge.registry.get(db) ?? (await lounge.registry.refreshOne(db));
  if (!entry) throw dbNotFound();
  const parts = await Promise.all(
    lounge.map.ranges.map(async (range) => {
      const shard = lounge.map.shardName(range, db);
      const [info, foreign] = await Promise.all([
        lounge.reader.json<ShardInfo>(db, range, () => ({ method: 'GET', path: dbPath(shard) })),
        lounge.designCopies.foreign(db, range).then((ids) => ids.length),
      ]);
      const uuid = info.body.uuid ?? info.body.instance_start_time ?? '';
      lounge.instances.learn(info.node, shard, uuid);
      return { range, node: info.node, info: info.body, foreign, uuid };
    }),
  );
  const sum = (f: (i: ShardInfo) => number | undefined) => parts.reduce((a, p) => a + (f(p.info) ?? 0), 0);
  const entries: SeqEntry[] = parts.map((p) => ({ range: p.range.name, node: p.node, seq: p.info.update_seq ?? 0, uuid: p.uuid }));
  const cfg = lounge.config;
  return {
    instance_start_time: String(entry.created),
    db_name: db,
    // Strings like CouchDB 3's (typed clients break on a number): the shards' purge seqs as one token.
    purge_seq: encodeSince(parts.map((p) => ({ range: p.range.name, node: p.node, seq: p.info.purge_seq ?? 0, uuid: p.uuid }))),
    update_seq: encodeSince(entries),
    sizes: { file: sum((i) => i.sizes?.file), external: sum((i) => i.sizes?.external), active: sum((i) => i.sizes?.active) },
    props: entry.partitioned === true ? { partitioned: true } : {},
    doc_del_count: sum((i) => i.doc_del_count),
    doc_count: sum((i) => i.doc_count) - parts.reduce((a, p) => a + p.foreign, 0),
    disk_format_version: parts[0]?.info.disk_format_version ?? 8,
    compact_running: parts.some((p) => p.info.compact_running === true),
    cluster: { q: cfg.q, n: cfg.n, w: cfg.w, r: cfg.r },
  };
}

/**
 * Sends one request to every replica of every shard (database properties: `_security`,
 * `_revs_limit`, compaction). Resolves with the first error a node gave, or with how many
 * replicas answered; ranges with no replica answering make it 503.
 */
export async function everyShard(lounge: Lounge, db: string, method: string, sub: string, body?: string): Promise<{ acked: number; total: number; first?: unknown }> {
  const all = replicas(lounge);
  const answers = await Promise.all(
    all.map(async ({ range, node }) => {
      try {
        const res = await lounge.client.request(node, {
          method,
          path: `${dbPath(lounge.map.shardName(range, db))}${sub}`,
          ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}),
        });
        if (res.status >= 400) return await res.toError();
        return await res.json();
      } catch (e) {
        if (e instanceof UpstreamError) return e;
        throw e;
      }
    }),
  );
  const refused = answers.find((a): a is UpstreamError => a instanceof UpstreamError && !a.retryable);
  if (refused) throw refused;
  const okRanges = new Set(all.filter((_, i) => !(answers[i] instanceof UpstreamError)).map((x) => x.range.name));
  const missing = lounge.map.ranges.find((r) => !okRanges.has(r.name));
  if (missing) throw unavailable(`range ${missing.name} of ${db}`);
  all.forEach(({ range, node }, i) => {
    if (answers[i] instanceof UpstreamError) lounge.hints.missed(db, range, node);
  });
  return { acked: answers.filter((a) => !(a instanceof UpstreamError)).length, total: all.length, first: answers.find((a) => !(a instanceof UpstreamError)) };
}
