// Reads that fail over: a request for one range goes to the first healthy replica in the
// range's preference order, and on a connection error, a timeout or a 5xx to the next one.
// Replicas whose breaker is open are tried last, as a last resort, rather than never: a
// breaker can be open on a node that just came back.
//
// A replica that answers 404 "Database does not exist." is treated like a missing replica
// for reads (a shard created while that node was down; the syncer creates it), unless every
// replica says so. Any other answer — 2xx, 304, or a 4xx such as a 404 for a missing doc —
// is the answer.

import type { Range } from '../placement/ranges.js';
import type { ShardMap } from '../placement/shard-map.js';
import { unavailable } from '../errors/lounge-error.js';
import { UpstreamError, type NodeClient, type UpstreamRequest, type UpstreamResponse } from './node-client.js';

export const DB_MISSING_REASON = 'Database does not exist.';

export class ReplicaReader {
  constructor(
    private readonly map: ShardMap,
    private readonly client: NodeClient,
  ) {}

  /** The replicas of a range for reads: healthy ones in preference order, then the rest. */
  order(db: string, range: Range): string[] {
    const all = this.map.replicas(db, range);
    return [...all.filter((n) => this.client.isUp(n)), ...all.filter((n) => !this.client.isUp(n))];
  }

  /**
   * Sends `build(node)` to the range's replicas until one answers. 2xx/3xx answers resolve
   * unread; error answers reject with the node's UpstreamError (after failover for 5xx).
   */
  async request(db: string, range: Range, build: (node: string) => UpstreamRequest, skip: readonly string[] = []): Promise<UpstreamResponse> {
    let last: UpstreamError | undefined;
    let missing: UpstreamError | undefined;
    for (const node of this.order(db, range)) {
      if (skip.includes(node)) continue;
      let res: UpstreamResponse;
      try {
        res = await this.client.request(node, build(node));
      } catch (e) {
        if (e instanceof UpstreamError && e.retryable && e.error !== 'aborted') {
          last = e;
          continue;
        }
        throw e;
      }
      if (res.status < 400) return res;
      const err = await res.toError();
      if (err.retryable) {
        last = err;
        continue;
      }
      if (err.status === 404 && err.reason === DB_MISSING_REASON) {
        missing = err;
        continue;
      }
      throw err;
    }
    if (missing) throw missing;
    if (last && last.status >= 500) throw last;
    throw unavailable(`range ${range.name} of ${db}`);
  }

  /** Like `request`, with the answer read as JSON. */
  async json<T>(db: string, range: Range, build: (node: string) => UpstreamRequest): Promise<{ node: string; status: number; body: T }> {
    const res = await this.request(db, range, build);
    return { node: res.node, status: res.status, body: await res.json<T>() };
  }
}
