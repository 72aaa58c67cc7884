// Gathers what the replication id needs from the peers, then computes it.
//
// Only design-doc filters need I/O: CouchDB puts the filter's *source code*
// into the id, so that editing the function starts a fresh replication
// instead of resuming one whose history was filtered differently. The code is
// read from the source's design document. Everything else is pure
// (protocol/replication-id.ts).

import { ReplicationError } from '../errors.js';
import type { ChangesFilter, Endpoint, Seq } from '../endpoint/endpoint.js';
import { replicationId, type ReplicationFilterInput, type ReplicationId } from '../protocol/replication-id.js';

export interface IdOptions {
  filter: ChangesFilter | undefined;
  sinceSeq?: Seq;
  winningRevsOnly: boolean;
  continuous: boolean;
  createTarget: boolean;
}

/** Reads `filters.<name>` of `_design/<ddoc>` on the source. */
export async function fetchFilterCode(source: Endpoint, name: string, signal?: AbortSignal): Promise<string> {
  const slash = name.indexOf('/');
  const ddocId = `_design/${name.slice(0, slash)}`;
  const filterName = name.slice(slash + 1);
  let ddoc;
  try {
    ddoc = await source.getDoc(ddocId, signal);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ReplicationError(404, 'filter_fetch_error', `Couldn't open document \`${ddocId}\` from source database \`${source.label}\`: ${why}`, { cause: err });
  }
  if (!ddoc) {
    throw new ReplicationError(404, 'filter_fetch_error', `Couldn't open document \`${ddocId}\` from source database \`${source.label}\`: not_found`);
  }
  const filters = ddoc['filters'];
  const code = filters && typeof filters === 'object' ? (filters as { [k: string]: unknown })[filterName] : undefined;
  if (typeof code !== 'string') {
    throw new ReplicationError(404, 'filter_fetch_error', `Couldn't find filter \`${filterName}\` in design document \`${ddocId}\` of \`${source.label}\``);
  }
  return code;
}

export async function resolveReplicationId(
  serverUuid: string,
  source: Endpoint,
  target: Endpoint,
  options: IdOptions,
  signal?: AbortSignal,
): Promise<ReplicationId> {
  let filter: ReplicationFilterInput | undefined;
  const f = options.filter;
  if (f?.kind === 'design') {
    filter = { kind: 'design', name: f.name, code: await fetchFilterCode(source, f.name, signal), queryParams: f.queryParams };
  } else {
    filter = f;
  }
  return replicationId({
    serverUuid,
    source: source.identity(),
    target: target.identity(),
    filter,
    winningRevsOnly: options.winningRevsOnly,
    ...(options.sinceSeq !== undefined ? { sinceSeq: options.sinceSeq } : {}),
    continuous: options.continuous,
    createTarget: options.createTarget,
  });
}
