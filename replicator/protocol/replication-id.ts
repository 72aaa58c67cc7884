// The replication id: which replication a checkpoint belongs to.
//
// Two runs of "the same" replication must find each other's checkpoints, and
// two different replications must never share one, or one would skip changes
// the other saw. CouchDB (couch_replicator_ids.erl, version 4) hashes exactly
// what makes a replication different:
//   - the uuid of the server running the job (a server that forgets its uuid
//     forgets every checkpoint, so servers persist it);
//   - each endpoint as (user, host, non-default port, path, extra headers),
//     never the password, so rotating a password keeps the checkpoints;
//   - the filter: a design filter's *source code* (fetched from the source, so
//     editing the function restarts from scratch) plus its query params; the
//     doc id list; or the selector;
//   - `winning_revs_only` and `since_seq` when set.
// The full id appends `+continuous` and `+create_target`; the checkpoint
// document is `_local/<base id>`, without them.
//
// CouchDB hashes Erlang's `term_to_binary` of those terms. We hash the same
// inputs as canonical JSON (object keys sorted, doc ids sorted and deduplicated)
// because a JSON client cannot reproduce Erlang's term format, and key order
// must not change an id (PouchDB lost checkpoints that way, pouchdb#6226).
// The ids are therefore not byte-identical to CouchDB's. They never need to be,
// since the server uuid alone already differs between any two servers.
// Pure: no I/O. Fetching filter code is the caller's job.

import { createHash } from 'node:crypto';
import type { EndpointIdentity, JsonObject, Seq } from '../endpoint/endpoint.js';

/** Written into checkpoints as `replication_id_version`. Bump with a new algorithm. */
export const REPLICATION_ID_VERSION = 4;

export type ReplicationFilterInput =
  | { kind: 'doc_ids'; docIds: string[] }
  | { kind: 'selector'; selector: JsonObject }
  /** `ddoc/name`: `code` is the filter function's source as stored in the design doc on the source. */
  | { kind: 'design'; name: string; code: string; queryParams: { [key: string]: string } }
  | { kind: 'view'; view: string; queryParams: { [key: string]: string } };

export interface ReplicationIdInput {
  serverUuid: string;
  source: EndpointIdentity;
  target: EndpointIdentity;
  filter?: ReplicationFilterInput | undefined;
  winningRevsOnly?: boolean | undefined;
  /** Present only when the request set `since_seq`. */
  sinceSeq?: Seq;
  continuous: boolean;
  createTarget: boolean;
}

export interface ReplicationId {
  /** 32 hex characters: the md5 of the inputs. */
  baseId: string;
  /** `""`, `"+continuous"`, `"+create_target"` or both, in CouchDB's order. */
  extension: string;
  /** `baseId + extension`: what `_scheduler/jobs` and `_active_tasks` show. */
  id: string;
  /** `_local/<baseId>`: where checkpoints live on both peers. */
  checkpointDocId: string;
}

/** JSON with object keys sorted at every level, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as { [key: string]: unknown };
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

function filterParts(filter: ReplicationFilterInput | undefined): unknown[] {
  if (!filter) return [];
  switch (filter.kind) {
    case 'design':
      // CouchDB trims the fetched code, so reindenting the ddoc does not count as a change.
      return [filter.code.trim(), filter.queryParams];
    case 'view':
      return ['_view', { ...filter.queryParams, view: filter.view }];
    case 'doc_ids':
      return [[...new Set(filter.docIds)].sort()];
    case 'selector':
      return [filter.selector];
  }
}

export function replicationId(input: ReplicationIdInput): ReplicationId {
  const parts: unknown[] = [input.serverUuid, input.source, input.target, ...filterParts(input.filter)];
  if (input.winningRevsOnly) parts.push('winning_revs_only');
  if (input.sinceSeq !== undefined) parts.push(input.sinceSeq);
  const baseId = createHash('md5').update(canonicalJson(parts)).digest('hex');
  const extension = (input.continuous ? '+continuous' : '') + (input.createTarget ? '+create_target' : '');
  return { baseId, extension, id: baseId + extension, checkpointDocId: `_local/${baseId}` };
}

/** Splits a full id (`abc+continuous`) into base and extension; spaces stand for `+` mangled by URL decoding, as in CouchDB. */
export function splitReplicationId(id: string): { baseId: string; extension: string } {
  const fixed = id.replace(/ /g, '+');
  const plus = fixed.indexOf('+');
  return plus === -1 ? { baseId: fixed, extension: '' } : { baseId: fixed.slice(0, plus), extension: fixed.slice(plus) };
}
