// The instance id of each shard on each node (its `uuid`, or the `instance_start_time`
// that Chaise and CouchDB 1.x give instead): what a since token records so that a token
// from before a shard was deleted and re-created is recognised and read from the start.
//
// Ids are read once (`GET /shard`) and remembered; a database deleted through the lounge
// forgets its shards.

import { dbPath, type NodeClient } from '../upstream/node-client.js';

const INSTANCE_ENTRIES_MAX = 100_000;

export class ShardInstances {
  private readonly ids = new Map<string, string>();

  constructor(private readonly client: NodeClient) {}

  /** The shard's instance id on a node; '' if it cannot be read now. */
  async get(node: string, shard: string): Promise<string> {
    const key = `${node}\0${shard}`;
    const hit = this.ids.get(key);
    if (hit !== undefined) return hit;
    try {
      const { body } = await this.client.json<{ uuid?: unknown; instance_start_time?: unknown }>(node, { method: 'GET', path: dbPath(shard) });
      const id = typeof body.uuid === 'string' ? body.uuid : typeof body.instance_start_time === 'string' ? body.instance_start_time : '';
      if (id !== '') {
        if (this.ids.size >= INSTANCE_ENTRIES_MAX) this.ids.clear();
        this.ids.set(key, id);
      }
      return id;
    } catch {
      return '';
    }
  }

  /** Remembers an id learnt from a db info answer. */
  learn(node: string, shard: string, id: string): void {
    if (id !== '') this.ids.set(`${node}\0${shard}`, id);
  }

  /** Forgets every shard of a logical database (it was deleted or re-created). */
  forgetDb(db: string): void {
    // `shards/<range>/<db>` or `lounge_<range>_<db>` (a db ending in `_<db>` is forgotten too: only a cache).
    for (const k of this.ids.keys()) if (k.endsWith(`/${db}`) || k.endsWith(`_${db}`)) this.ids.delete(k);
  }
}
