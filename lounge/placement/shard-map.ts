// The static shard map: which range owns a document, which nodes hold a range, and what
// a shard is called on a node.
//
// It guarantees:
// - a document id lands in exactly one range (`crc32(utf8(id))` on the ring), so every
//   proxy loading the same map routes every request the same way; in a partitioned database
//   only the partition of `partition:id` is hashed (CouchDB's couch_partition:hash), so all of
//   a partition lives on one range;
// - a range's replicas are listed in the config's order rotated by `crc32(db + range)`,
//   as CouchDB's `mem3:owners` rotates by `{DbName, Range}`, so the first replica ("write
//   leader") differs between databases and ranges and no node is hot;
// - a shard of logical database `db` on range `r` is the node database `shards/<r>/<db>`
//   (CouchDB's physical naming, minus the creation suffix).
//
// Pure: built from a validated config, no I/O.

import { crc32 } from './crc32.js';
import { findRangeIndex, type Range } from './ranges.js';

/** What the shard map needs from the config: ranges with their ordered node ids. */
export interface RangeAssignment {
  range: Range;
  nodes: readonly string[];
}

const SHARD_NAME = /^shards\/([0-9a-f]{8}-[0-9a-f]{8})\/(.+)$/;

export class ShardMap {
  /** Ranges sorted by their first hash value. */
  readonly ranges: readonly Range[];
  private readonly owners: ReadonlyMap<string, readonly string[]>;
  /** Whether a database is partitioned (the lounge answers from its registry); none is by default. */
  partitionedOf: (db: string) => boolean = () => false;

  constructor(assignments: readonly RangeAssignment[]) {
    const sorted = [...assignments].sort((a, b) => a.range.begin - b.range.begin);
    this.ranges = sorted.map((a) => a.range);
    this.owners = new Map(sorted.map((a) => [a.range.name, [...a.nodes]]));
  }

  /**
   * The range that owns a document id (`_design/x` and `_local/x` hash their full id). Given the
   * database, a partitioned one's `partition:id` is placed by its partition alone.
   */
  rangeOf(docId: string, db?: string): Range {
    if (db !== undefined && !docId.startsWith('_') && this.partitionedOf(db)) {
      const colon = docId.indexOf(':');
      if (colon >= 0) return this.rangeOfPartition(docId.slice(0, colon));
    }
    return this.ranges[findRangeIndex(this.ranges, crc32(docId))] as Range;
  }

  /** The one range holding every document of a partition (of a partitioned database). */
  rangeOfPartition(partition: string): Range {
    return this.ranges[findRangeIndex(this.ranges, crc32(partition))] as Range;
  }

  /** The nodes of a range in config order. */
  nodesOf(range: Range | string): readonly string[] {
    const name = typeof range === 'string' ? range : range.name;
    const nodes = this.owners.get(name);
    if (!nodes) throw new Error(`unknown range ${name}`);
    return nodes;
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

/** The node database holding range `range` of logical database `db`. */
export function shardName(range: Range | string, db: string): string {
  return `shards/${typeof range === 'string' ? range : range.name}/${db}`;
}

/** Splits a node database name back into range and logical name, or undefined if not a shard. */
export function parseShardName(name: string): { range: string; db: string } | undefined {
  const m = SHARD_NAME.exec(name);
  return m ? { range: m[1] as string, db: m[2] as string } : undefined;
}
