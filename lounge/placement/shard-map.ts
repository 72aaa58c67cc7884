// The shard map: which range owns a document, which nodes hold a range, which nodes are
// catching up on a range during a move or split, and what a shard is called on a node.
//
// It guarantees:
// - a document id lands in exactly one range (`crc32(utf8(id))` on the ring), so every
//   proxy loading the same map routes every request the same way; in a partitioned database
//   only the partition of `partition:id` is hashed (CouchDB's couch_partition:hash), so all of
//   a partition lives on one range;
// - a range's replicas are listed in the config's order rotated by `crc32(db + range)`,
//   as CouchDB's `mem3:owners` rotates by `{DbName, Range}`, so the first replica ("write
//   leader") differs between databases and ranges and no node is hot;
// - the map changes only as a whole (`replace`), so a request never sees half a change;
//   listeners hear of every change after it is made;
// - a shard's node database name follows the scheme recorded in lounge.json: `flat`
//   (`lounge_<range>_<db>`, an ordinary database name to Apache CouchDB, which keeps the
//   `shards/` prefix for its own shard files) or `shards` (`shards/<range>/<db>`, the
//   scheme of clusters made before `flat` existed, kept readable).
//
// Pure: built from a validated config, no I/O.

import { crc32 } from './crc32.js';
import { findRangeIndex, type Range } from './ranges.js';

/** What the shard map needs from the config: ranges with their ordered node ids. */
export interface RangeAssignment {
  range: Range;
  nodes: readonly string[];
}

/** How shard databases are named on the nodes (recorded in lounge.json as `shardNames`). */
export type ShardNameScheme = 'flat' | 'shards';
export const SHARD_NAME_SCHEMES: readonly ShardNameScheme[] = ['flat', 'shards'];

const SHARD_NAMES: Record<ShardNameScheme, RegExp> = {
  shards: /^shards\/([0-9a-f]{8}-[0-9a-f]{8})\/(.+)$/,
  flat: /^lounge_([0-9a-f]{8}-[0-9a-f]{8})_(.+)$/,
};

/**
 * A node that receives a range's writes without serving it yet: the target of a move
 * (`range` is the moved range) or a child of a split (`range` is the child, on a node of
 * the parent). Writes to the parent are copied to it; reads never go there.
 */
export interface JoiningTarget {
  node: string;
  range: Range;
}

export class ShardMap {
  /** Ranges sorted by their first hash value. */
  ranges: readonly Range[] = [];
  private owners: ReadonlyMap<string, readonly string[]> = new Map();
  private joiningBy = new Map<string, JoiningTarget[]>();
  private readonly listeners = new Set<() => void>();
  /** Whether a database is partitioned (the lounge answers from its registry); none is by default. */
  partitionedOf: (db: string) => boolean = () => false;

  constructor(
    assignments: readonly RangeAssignment[],
    readonly scheme: ShardNameScheme = 'shards',
  ) {
    this.replace(assignments);
  }

  /** Swaps the whole assignment at once (a move's switch, a split). */
  replace(assignments: readonly RangeAssignment[], joining: ReadonlyMap<string, JoiningTarget[]> = this.joiningBy): void {
    const sorted = [...assignments].sort((a, b) => a.range.begin - b.range.begin);
    this.ranges = sorted.map((a) => a.range);
    this.owners = new Map(sorted.map((a) => [a.range.name, [...a.nodes]]));
    this.joiningBy = new Map([...joining].filter(([name]) => this.owners.has(name)));
    for (const l of this.listeners) l();
  }

  /** Sets the nodes catching up on each range (keyed by the served range's name). */
  setJoining(joining: ReadonlyMap<string, JoiningTarget[]>): void {
    this.joiningBy = new Map(joining);
    for (const l of this.listeners) l();
  }

  /** Nodes that receive copies of a range's writes but do not serve it yet. */
  joining(range: Range | string): readonly JoiningTarget[] {
    return this.joiningBy.get(typeof range === 'string' ? range : range.name) ?? [];
  }

  /** The current assignment, as the config lists it. */
  assignments(): RangeAssignment[] {
    return this.ranges.map((range) => ({ range, nodes: [...this.nodesOf(range)] }));
  }

  /** Called after every change of the map. Returns a function that stops listening. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The range named `name`, if the map has it now. */
  range(name: string): Range | undefined {
    return this.owners.has(name) ? this.ranges.find((r) => r.name === name) : undefined;
  }

  /** The node database holding range `range` of logical database `db`, in this map's scheme. */
  shardName(range: Range | string, db: string): string {
    return shardName(range, db, this.scheme);
  }

  /**
   * The range that owns a document id (`_design/x` and `_local/x` hash their full id). Given the
   * database, a partitioned one's `partition:id` is placed by its partition alone.
   */
  rangeOf(docId: string, db?: string): Range {
    return this.ranges[findRangeIndex(this.ranges, this.hashOf(docId, db))] as Range;
  }

  /** Where a document id sits on the ring (its partition's hash in a partitioned database). */
  hashOf(docId: string, db?: string): number {
    if (db !== undefined && !docId.startsWith('_') && this.partitionedOf(db)) {
      const colon = docId.indexOf(':');
      if (colon >= 0) return crc32(docId.slice(0, colon));
    }
    return crc32(docId);
  }

  /** The one range holding every document of a partition (of a partitioned database). */
  rangeOfPartition(partition: string): Range {
    return this.ranges[findRangeIndex(this.ranges, crc32(partition))] as Range;
  }

  /**
   * The nodes of a range in config order; none for a range the map no longer has (one that
   * was split while a request held it).
   */
  nodesOf(range: Range | string): readonly string[] {
    const name = typeof range === 'string' ? range : range.name;
    return this.owners.get(name) ?? [];
  }

  /** The replicas of a range for one database, in preference order (leader first). */
  replicas(db: string, range: Range): string[] {
    const nodes = this.nodesOf(range);
    const k = crc32(db + range.name) % nodes.length;
    return [...nodes.slice(k), ...nodes.slice(0, k)];
  }

  /** Every node id that holds at least one range, in first-seen order. */
  allNodes(): string[] {
    const seen = new Set<string>();
    for (const r of this.ranges) for (const n of this.nodesOf(r)) seen.add(n);
    return [...seen];
  }

  /** The ranges a node holds. */
  rangesOfNode(node: string): Range[] {
    return this.ranges.filter((r) => this.nodesOf(r).includes(node));
  }

  /** Whether `docId` is a design document whose home is not `range` (a copy to hide). */
  isForeignDesignCopy(docId: string, range: Range): boolean {
    return docId.startsWith('_design/') && this.rangeOf(docId).name !== range.name;
  }
}

/** The node database holding range `range` of logical database `db` under `scheme`. */
export function shardName(range: Range | string, db: string, scheme: ShardNameScheme): string {
  const r = typeof range === 'string' ? range : range.name;
  return scheme === 'flat' ? `lounge_${r}_${db}` : `shards/${r}/${db}`;
}

/** Splits a node database name back into range and logical name, or undefined if not a shard. */
export function parseShardName(name: string, scheme: ShardNameScheme = 'shards'): { range: string; db: string } | undefined {
  const m = SHARD_NAMES[scheme].exec(name);
  return m ? { range: m[1] as string, db: m[2] as string } : undefined;
}
