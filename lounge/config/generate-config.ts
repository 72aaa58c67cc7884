// Writes the lounge.json that `chaise cluster` uses: N nodes, q equal ranges, n replicas
// per range placed round-robin so that each node holds the same number of replicas and
// no range has two replicas on one node.
//
// The layout is explicit in the output (every range with its node list) so that it can be
// edited later — moving or splitting a range — without rehashing anything. Pure: no I/O;
// the caller supplies the node URLs and the uuid.

import { generateRanges } from '../placement/ranges.js';

export interface GeneratedConfig {
  version: 1;
  mapEpoch: string;
  serverUuid: string;
  shardNames: 'flat';
  nodes: Record<string, { url: string }>;
  q: number;
  n: number;
  r: number;
  w: number;
  ranges: { range: string; nodes: string[] }[];
  service?: { name: string; password: string };
  admins?: Record<string, string>;
  port?: number;
  host?: string;
}

export interface GenerateOptions {
  /** Node URLs in order; node ids are n1, n2, ... */
  urls: string[];
  q: number;
  n: number;
  serverUuid: string;
  mapEpoch?: string;
  admin?: { name: string; password: string };
  port?: number;
}

export function generateConfig(opts: GenerateOptions): GeneratedConfig {
  const { urls, q, n } = opts;
  if (n > urls.length) throw new RangeError(`n (${n}) cannot exceed the number of nodes (${urls.length})`);
  const ids = urls.map((_, i) => `n${i + 1}`);
  const ranges = generateRanges(q).map((range, i) => ({
    range: range.name,
    // Range i starts at node i mod N and takes the next n nodes: replicas are distinct and
    // every node gets q*n/N of them when N divides q*n.
    nodes: Array.from({ length: n }, (_, k) => ids[(i + k) % ids.length] as string),
  }));
  const quorum = Math.floor(n / 2) + 1;
  return {
    version: 1,
    mapEpoch: opts.mapEpoch ?? '1',
    // Names Apache CouchDB treats as ordinary databases (it keeps `shards/` for its own files).
    shardNames: 'flat',
    serverUuid: opts.serverUuid,
    nodes: Object.fromEntries(ids.map((id, i) => [id, { url: urls[i] as string }])),
    q,
    n,
    r: quorum,
    w: quorum,
    ranges,
    ...(opts.admin ? { service: opts.admin, admins: { [opts.admin.name]: opts.admin.password } } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
  };
}
