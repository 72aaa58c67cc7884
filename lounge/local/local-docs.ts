// `_local` documents through the lounge: replication checkpoints, mostly.
//
// Lounge kept them on shard 0's primary only, so a replication lost its checkpoint (and
// started over) whenever that node was down. Here a `_local` doc lives on every replica of
// the range its full id (`_local/<id>`) hashes to: writes go to all replicas (one success
// is enough, as CouchDB's replicators re-read on failure), and a read asks every reachable
// replica and returns the highest `0-N` revision. CouchDB ignores `_rev` conflicts on
// `_local` docs (a PUT with any `_rev` 0-K gives 0-(K+1)), so replicas that missed a write
// converge on the next one.

import type { Range } from '../placement/ranges.js';
import type { ShardMap } from '../placement/shard-map.js';
import { unavailable } from '../errors/lounge-error.js';
import { dbPath, docPath, UpstreamError, type NodeClient } from '../upstream/node-client.js';
import type { MissedWrites } from '../writes/doc-writer.js';

function localRevNumber(rev: unknown): number {
  if (typeof rev !== 'string') return -1;
  const m = /^0-(\d+)$/.exec(rev);
  return m ? Number(m[1]) : -1;
}

export interface LocalAnswer {
  status: number;
  body: Record<string, unknown>;
}

export class LocalDocs {
  constructor(
    private readonly map: ShardMap,
    private readonly client: NodeClient,
    private readonly hints: MissedWrites,
  ) {}

  /** The replicas to ask: those up, or all of them if none is up (a breaker may be stale). */
  private targets(db: string, range: Range): string[] {
    const all = this.map.replicas(db, range);
    const up = all.filter((n) => this.client.isUp(n));
    return up.length > 0 ? up : all;
  }

  async get(db: string, id: string, search: string): Promise<LocalAnswer> {
    const fullId = `_local/${id}`;
    const range = this.map.rangeOf(fullId);
    const path = `${dbPath(this.map.shardName(range, db))}/${docPath(fullId)}${search}`;
    const answers = await this.fanOut(db, range, (node) => this.client.request(node, { method: 'GET', path }));
    let best: LocalAnswer | undefined;
    let error: UpstreamError | undefined;
    for (const { answer: a } of answers) {
      if (a instanceof UpstreamError) {
        if (!a.retryable && (!error || error.status === 404)) error = a;
        continue;
      }
      if (!best || localRevNumber(a.body._rev) > localRevNumber(best.body._rev)) best = a;
    }
    if (best) return best;
    if (error) throw error;
    throw unavailable(`range ${range.name} of ${db}`);
  }

  /** PUT or DELETE on every replica; the answer of the replica with the highest new rev. */
  async write(db: string, id: string, method: 'PUT' | 'DELETE', search: string, headers: Record<string, string>, body: Buffer | undefined): Promise<LocalAnswer> {
    const fullId = `_local/${id}`;
    const range = this.map.rangeOf(fullId);
    const path = `${dbPath(this.map.shardName(range, db))}/${docPath(fullId)}${search}`;
    const answers = await this.fanOut(db, range, (node) => this.client.request(node, { method, path, headers, ...(body ? { body } : {}) }));
    for (const n of this.map.replicas(db, range)) if (!answers.some((a) => a.node === n)) this.hints.missed(db, range, n);
    let best: LocalAnswer | undefined;
    let error: UpstreamError | undefined;
    answers.forEach(({ node, answer: a }) => {
      if (a instanceof UpstreamError) {
        if (!a.retryable) error ??= a;
        else this.hints.missed(db, range, node);
        return;
      }
      if (!best || localRevNumber(a.body.rev) > localRevNumber(best.body.rev)) best = a;
    });
    if (best) return best;
    if (error) throw error;
    throw unavailable(`range ${range.name} of ${db}`);
  }

  private fanOut(
    db: string,
    range: Range,
    send: (node: string) => Promise<import('../upstream/node-client.js').UpstreamResponse>,
  ): Promise<{ node: string; answer: LocalAnswer | UpstreamError }[]> {
    const targets = this.targets(db, range);
    return Promise.all(
      targets.map(async (node) => {
        try {
          const res = await send(node);
          if (res.status >= 400) return { node, answer: await res.toError() };
          return { node, answer: { status: res.status, body: await res.json<Record<string, unknown>>() } };
        } catch (e) {
          if (e instanceof UpstreamError) return { node, answer: e };
          throw e;
        }
      }),
    );
  }
}
