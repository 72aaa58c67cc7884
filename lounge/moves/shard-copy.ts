// Copies one shard to another node database with the project's replicator: checkpointed
// (the lounge's serverUuid is part of the replication id, so a copy interrupted by a crash
// resumes from its last checkpoint), with its progress readable while it runs, and
// optionally limited to the documents of one hash range (a split's child; design docs
// always pass, since every shard keeps a copy of each).

import type { NodeClient } from '../upstream/node-client.js';
import { dbPath, UpstreamError } from '../upstream/node-client.js';
import type { Range } from '../placement/ranges.js';
import { HttpEndpoint, parseReplicationRequest, Replication, type ChangesPage, type ChangesRequest, type Endpoint } from '../../replicator/index.js';

export interface ShardRef {
  node: string;
  shard: string;
}

export interface CopyResult {
  docsWritten: number;
}

/** Creates a node database if it is missing (412 counts as there); `partitioned` as its database is. */
export async function ensureShard(client: NodeClient, at: ShardRef, partitioned = false): Promise<void> {
  const res = await client.request(at.node, { method: 'PUT', path: `${dbPath(at.shard)}${partitioned ? '?partitioned=true' : ''}` });
  res.discard();
  if (res.status >= 400 && res.status !== 412) throw new UpstreamError(at.node, res.status, 'move', `cannot create ${at.shard}`);
}

/** `update_seq` of a node database. */
export async function shardSeq(client: NodeClient, at: ShardRef): Promise<{ seq: unknown; docs: number }> {
  const { body } = await client.json<{ update_seq?: unknown; doc_count?: number; doc_del_count?: number }>(at.node, { method: 'GET', path: dbPath(at.shard) });
  return { seq: body.update_seq ?? 0, docs: (body.doc_count ?? 0) + (body.doc_del_count ?? 0) };
}

/** Where a document id sits on the ring (the shard map's hash, partition-aware). */
export type IdHash = (id: string) => number;

/** A source endpoint whose changes feed shows only the documents of `range` (and design docs). */
function rangeFiltered(source: Endpoint, range: Range, hash: IdHash): Endpoint {
  const keep = (id: string) => {
    if (id.startsWith('_design/')) return true;
    const h = hash(id);
    return h >= range.begin && h <= range.end;
  };
  return new Proxy(source, {
    get(target, prop, receiver) {
      if (prop === 'changes') {
        return async (req: ChangesRequest, signal?: AbortSignal): Promise<ChangesPage> => {
          const page = await target.changes(req, signal);
          return { ...page, results: page.results.filter((r) => keep(r.id)) };
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

export class ShardCopy {
  private replication: Replication | undefined;
  private stopped = false;

  constructor(
    private readonly client: NodeClient,
    private readonly serverUuid: string,
    readonly from: ShardRef,
    readonly to: ShardRef,
    private readonly only?: { range: Range; hash: IdHash },
    private readonly partitioned = false,
  ) {}

  /** Docs written so far by this run. */
  get docsWritten(): number {
    return this.replication?.status().stats.docs_written ?? 0;
  }

  async run(): Promise<CopyResult> {
    await ensureShard(this.client, this.to, this.partitioned);
    const auth = this.client.serviceAuth();
    const peer = (at: ShardRef) => ({ url: `${this.client.url(at.node)}${dbPath(at.shard)}`, ...(auth ? { auth } : {}) });
    const request = parseReplicationRequest({ source: peer(this.from), target: peer(this.to) });
    const endpointOptions = { connections: request.httpConnections, timeoutMs: request.connectionTimeoutMs, retries: request.retriesPerRequest, useBulkGet: request.useBulkGet };
    const source = new HttpEndpoint(request.source, endpointOptions);
    const target = new HttpEndpoint(request.target, endpointOptions);
    try {
      this.replication = new Replication({
        source: this.only ? rangeFiltered(source, this.only.range, this.only.hash) : source,
        target,
        serverUuid: `${this.serverUuid}${this.only ? `:${this.only.range.name}` : ''}`,
        options: request,
        recordTargetSeq: true,
      });
      if (this.stopped) this.replication.stop();
      const body = await this.replication.run();
      if (this.stopped) throw new Error('copy stopped');
      const stats = this.replication.status().stats;
      if (stats.doc_write_failures > 0) throw new Error(`${stats.doc_write_failures} docs could not be written to ${this.to.node}/${this.to.shard}`);
      void body;
      return { docsWritten: stats.docs_written };
    } finally {
      await Promise.all([source.close(), target.close()]);
    }
  }

  stop(): void {
    this.stopped = true;
    this.replication?.stop();
  }
}
