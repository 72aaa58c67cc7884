// `GET /_lounge/shards/{db}`: every replica of every range of one database, as the nodes report
// it right now, for the console's shard map (ranges × nodes, coloured by health, with sync lag).
//
// Lag is counted in documents: a range's replicas should hold the same documents once the syncer
// has caught up, so a replica's lag is how many fewer (live + deleted) documents it has than the
// fullest replica of its range. Update seqs are not comparable across replicas (each counts its
// own writes, replicated ones included), so they are shown but not subtracted.

import type { Req } from '../app.js';
import { dbNotFound } from '../../errors/lounge-error.js';
import { send } from '../respond.js';
import { dbPath } from '../../upstream/node-client.js';

/** A replica that has not answered within this long is shown as unreachable. */
const REPLICA_INFO_TIMEOUT_MS = 2000;

interface ShardInfo {
  doc_count?: number;
  doc_del_count?: number;
  update_seq?: number | string;
  sizes?: { file?: number; active?: number };
}

export async function shardStatus(req: Req, db: string | undefined): Promise<void> {
  const { ctx, lounge } = req;
  if (db === undefined || !(lounge.registry.get(db) ?? (await lounge.registry.refreshOne(db)))) throw dbNotFound();
  const health = new Map(lounge.health.report().map((h) => [h.node, h.state]));
  const ranges = await Promise.all(
    lounge.map.ranges.map(async (range) => {
      const shard = lounge.map.shardName(range, db);
      const replicas = await Promise.all(
        lounge.map.nodesOf(range).map(async (node, i) => {
          const base = { node, leader: i === 0, health: health.get(node) ?? 'unknown' };
          if (!lounge.health.isUp(node)) return { ...base, state: 'down' as const };
          try {
            const { body } = await lounge.client.json<ShardInfo>(node, { method: 'GET', path: dbPath(shard), timeoutMs: REPLICA_INFO_TIMEOUT_MS });
            return {
              ...base,
              state: 'ok' as const,
              doc_count: body.doc_count ?? 0,
              doc_del_count: body.doc_del_count ?? 0,
              update_seq: body.update_seq ?? 0,
              size: body.sizes?.file ?? 0,
            };
          } catch (e) {
            const status = (e as { status?: number }).status;
            return { ...base, state: status === 404 ? ('missing' as const) : ('unreachable' as const) };
          }
        }),
      );
      const total = (r: (typeof replicas)[number]) => ('doc_count' in r ? (r.doc_count ?? 0) + (r.doc_del_count ?? 0) : undefined);
      const fullest = Math.max(0, ...replicas.map((r) => total(r) ?? 0));
      return {
        range: range.name,
        replicas: replicas.map((r) => {
          const t = total(r);
          return t === undefined ? r : { ...r, lag: fullest - t };
        }),
      };
    }),
  );
  send(ctx, 200, { db, nodes: Object.keys(lounge.config.nodes), ranges, sync: lounge.sync.status() });
}
