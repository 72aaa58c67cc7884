// Which design documents on each range are copies (their home is another range).
//
// Every design doc is copied to every range so each shard can answer views, but clients
// must see it once: totals of `_all_docs` and `doc_count` subtract the copies, and offsets
// skip those before the start key. Listing a range's design docs is a request per range,
// so the answer is kept briefly; design-doc writes through this lounge drop it at once.

import type { Lounge } from '../lounge.js';
import type { Range } from '../placement/ranges.js';
import { dbPath } from '../upstream/node-client.js';

/** How long a range's list of design-doc copies is trusted (only totals depend on it). */
const COPIES_TTL_MS = 2_000;
const COPIES_ENTRIES_MAX = 10_000;

export class DesignCopies {
  private readonly entries = new Map<string, { at: number; ids: Promise<string[]> }>();

  constructor(
    private readonly lounge: Lounge,
    private readonly now: () => number = Date.now,
  ) {}

  /** Ids of the design docs on `range` whose home is another range. */
  foreign(db: string, range: Range): Promise<string[]> {
    const key = `${db}\0${range.name}`;
    const hit = this.entries.get(key);
    if (hit && this.now() - hit.at < COPIES_TTL_MS) return hit.ids;
    const ids = this.fetch(db, range);
    if (this.entries.size >= COPIES_ENTRIES_MAX) this.entries.clear();
    this.entries.set(key, { at: this.now(), ids });
    ids.catch(() => this.entries.delete(key));
    return ids;
  }

  forget(db: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(`${db}\0`)) this.entries.delete(k);
  }

  private async fetch(db: string, range: Range): Promise<string[]> {
    const { body } = await this.lounge.reader.json<{ rows: { id: string }[] }>(db, range, () => ({
      method: 'GET',
      path: `${dbPath(this.lounge.map.shardName(range, db))}/_all_docs?startkey=%22_design%2F%22&endkey=%22_design0%22`,
    }));
    return body.rows.map((r) => r.id).filter((id) => this.lounge.map.isForeignDesignCopy(id, range));
  }
}
