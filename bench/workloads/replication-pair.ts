// The two databases a replication workload copies between: the source on the bench's server, the
// target on its sibling (a second process of the same kind), each with a client and a URL.
//
// Replications are always given full URLs (with credentials when the server needs them): CouchDB
// 3 accepts nothing else in `POST /_replicate`, and it makes every server replicate over HTTP,
// so all of them do the same work. The replication runs on the target's server (a pull).
// On a server given by URL the sibling is that same server, so it is db → db there.

import { HttpClient, isSuccess, snippet } from '../http-client.js';
import type { RunningServer } from '../servers.js';
import type { WorkloadContext } from './workload.js';

/** The few control requests to the sibling need no more sockets than this. */
const siblingSockets = 4;

export interface ReplicationSide {
  server: RunningServer;
  client: HttpClient;
  db: string;
  /** The database's full URL, credentials included, for a `POST /_replicate` body. */
  url: string;
}

export interface ReplicationPair {
  source: ReplicationSide;
  target: ReplicationSide;
  /** Closes the sibling's client (the databases go when the bench cleans up). */
  close(): void;
}

export async function replicationPair(ctx: WorkloadContext, tag: string): Promise<ReplicationPair> {
  const sourceDb = await ctx.createDb(`${tag}-source`);
  const sibling = await ctx.sibling();
  let target: ReplicationSide;
  let close = (): void => {};
  if (sibling === ctx.server) {
    // Same server: createDb also deletes the target at the end.
    const db = await ctx.createDb(`${tag}-target`);
    target = { server: sibling, client: ctx.client, db, url: dbUrl(sibling, db) };
  } else {
    // A process the bench started and will remove with its data; the name need only be unique there.
    const client = new HttpClient(sibling.url, siblingSockets);
    close = () => client.close();
    const db = `bench-${tag}-target-${Date.now().toString(36)}`;
    const res = await client.request('PUT', `/${encodeURIComponent(db)}`);
    if (!isSuccess(res.status)) {
      close();
      throw new Error(`PUT /${db} on the sibling answered ${res.status}: ${snippet(res.body)}`);
    }
    target = { server: sibling, client, db, url: dbUrl(sibling, db) };
  }
  return { source: { server: ctx.server, client: ctx.client, db: sourceDb, url: dbUrl(ctx.server, sourceDb) }, target, close };
}

/** `http://[user:pass@]host:port/<db>` for a server's base URL. */
export function dbUrl(server: RunningServer, db: string): string {
  return `${server.url.replace(/\/+$/, '')}/${encodeURIComponent(db)}`;
}
