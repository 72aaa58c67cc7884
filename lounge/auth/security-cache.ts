// Each database's `_security` object, as the lounge needs it to decide who may do what.
//
// `_security` is written to every shard; any shard's copy is authoritative, so it is read
// from one replica of the first range and kept briefly. Writes through this lounge drop the
// cached copy at once.

import type { ShardMap } from '../placement/shard-map.js';
import { dbPath } from '../upstream/node-client.js';
import type { ReplicaReader } from '../upstream/replica-reader.js';
import type { SecurityObject } from './access.js';

/** How long a `_security` object is trusted before it is read again. */
const SECURITY_TTL_MS = 5_000;
const SECURITY_ENTRIES_MAX = 10_000;

export class SecurityCache {
  private readonly entries = new Map<string, { at: number; sec: SecurityObject }>();

  constructor(
    private readonly map: ShardMap,
    private readonly reader: ReplicaReader,
    private readonly now: () => number = Date.now,
  ) {}

  async get(db: string): Promise<SecurityObject> {
    const hit = this.entries.get(db);
    if (hit && this.now() - hit.at < SECURITY_TTL_MS) return hit.sec;
    const range = this.map.ranges[0];
    if (!range) return {};
    const { body } = await this.reader.json<SecurityObject>(db, range, () => ({ method: 'GET', path: `${dbPath(this.map.shardName(range, db))}/_security` }));
    if (this.entries.size >= SECURITY_ENTRIES_MAX) this.entries.clear();
    this.entries.set(db, { at: this.now(), sec: body });
    return body;
  }

  forget(db: string): void {
    this.entries.delete(db);
  }
}
