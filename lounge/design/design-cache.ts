// Design documents as the proxy needs them to answer a view query: whether a view has a
// reduce function, and its source (built-in name or JavaScript) for the re-reduce.
//
// A design doc is read from its home range (where reads of it go) and kept for a short
// while; writes through this lounge drop the cached copy at once, and the short lifetime
// bounds how long a write through another lounge can go unseen.

import type { ShardMap } from '../placement/shard-map.js';
import { dbPath, docPath } from '../upstream/node-client.js';
import type { ReplicaReader } from '../upstream/replica-reader.js';

/** How long a design doc read from its home shard is trusted. */
const DESIGN_TTL_MS = 2_000;
/** Entries kept at most; the cache is dropped whole when full (ddocs are few). */
const DESIGN_ENTRIES_MAX = 1_000;

export interface DesignDoc {
  _id: string;
  _rev?: string;
  language?: string;
  views?: Record<string, { map?: unknown; reduce?: unknown; options?: unknown }>;
  options?: Record<string, unknown>;
  [k: string]: unknown;
}

export class DesignCache {
  private readonly entries = new Map<string, { at: number; doc: DesignDoc }>();

  constructor(
    private readonly map: ShardMap,
    private readonly reader: ReplicaReader,
    private readonly now: () => number = Date.now,
  ) {}

  /** The design doc `_design/<name>` of a database, from its home range. Throws the node's 404 if absent. */
  async get(db: string, name: string): Promise<DesignDoc> {
    const id = `_design/${name}`;
    const key = `${db}\0${id}`;
    const hit = this.entries.get(key);
    if (hit && this.now() - hit.at < DESIGN_TTL_MS) return hit.doc;
    const range = this.map.rangeOf(id);
    const { body } = await this.reader.json<DesignDoc>(db, range, () => ({ method: 'GET', path: `${dbPath(this.map.shardName(range, db))}/${docPath(id)}` }));
    if (this.entries.size >= DESIGN_ENTRIES_MAX) this.entries.clear();
    this.entries.set(key, { at: this.now(), doc: body });
    return body;
  }

  /** Forgets a design doc (it was just written through this lounge), or all of a database's. */
  forget(db: string, id?: string): void {
    if (id !== undefined) {
      this.entries.delete(`${db}\0${id}`);
      return;
    }
    for (const k of this.entries.keys()) if (k.startsWith(`${db}\0`)) this.entries.delete(k);
  }
}
