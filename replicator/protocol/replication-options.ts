// Reading a replication request: the body of `POST /_replicate`, or a document
// in a `_replicator` database (the same fields, CouchDB B.5).
//
// Validation happens here, once, with CouchDB's `bad_request` answers, so the
// pipeline can trust its settings. Defaults are CouchDB's
// (couch_replicator_parse.erl): 4 workers, batches of 500, 20 connections,
// 30 s timeouts, 5 retries per request, checkpoints every 30 s.
// Unknown fields are ignored (apps store their own data in replicator docs).
// Pure apart from URL parsing: no I/O.

import { badRequest } from '../errors.js';
import { parsePeer, type LocalNode, type PeerSpec } from '../endpoint/peer.js';
import type { JsonObject, Seq } from '../endpoint/endpoint.js';
import { CONNECTION_TIMEOUT_MS_DEFAULT, HTTP_CONNECTIONS_DEFAULT } from '../endpoint/http-endpoint.js';
import { RETRIES_PER_REQUEST_DEFAULT } from '../retry/backoff.js';

/** CouchDB's `worker_processes`: batches in flight at once. */
export const WORKER_PROCESSES_DEFAULT = 4;
/**
 * `worker_batch_size`: changes per batch, so per `_revs_diff`, `_bulk_get` and
 * `_bulk_docs`. CouchDB defaults to 500; we default to 1000 because a durable
 * target pays a commit per `_bulk_docs`, and in node→node runs of 100k docs
 * 1000 gave 20k–27k docs/s where 500 gave 13k–21k (same machine, same runs).
 * Requests may still ask for CouchDB's 500.
 */
export const WORKER_BATCH_SIZE_DEFAULT = 1000;
/** CouchDB's `checkpoint_interval`. */
export const CHECKPOINT_INTERVAL_MS_DEFAULT = 30_000;
/** A batch this big would be one request of hundreds of megabytes; refuse rather than fall over. */
export const WORKER_BATCH_SIZE_MAX = 10_000;
/** More workers than this only queue on the peers' sockets. */
export const WORKER_PROCESSES_MAX = 64;

/** A filter as requested (a design filter's code is fetched later, from the source). */
export type FilterRequest =
  | { kind: 'doc_ids'; docIds: string[] }
  | { kind: 'selector'; selector: JsonObject }
  | { kind: 'design'; name: string; queryParams: { [key: string]: string } }
  | { kind: 'view'; view: string; queryParams: { [key: string]: string } };

export interface ReplicationRequest {
  source: PeerSpec;
  target: PeerSpec;
  continuous: boolean;
  createTarget: boolean;
  createTargetParams: { [key: string]: string };
  filter: FilterRequest | undefined;
  /** Present only when `since_seq` was given; it then overrides the checkpoints and joins the id. */
  sinceSeq?: Seq;
  winningRevsOnly: boolean;
  useCheckpoints: boolean;
  checkpointIntervalMs: number;
  workerProcesses: number;
  workerBatchSize: number;
  httpConnections: number;
  connectionTimeoutMs: number;
  retriesPerRequest: number;
  useBulkGet: boolean;
}

/** What `POST /_replicate` asked for. */
export type ReplicateCommand =
  | { kind: 'start'; request: ReplicationRequest }
  /** `cancel: true` with either a `replication_id` or the original request fields. */
  | { kind: 'cancel'; replicationId: string | null; request: ReplicationRequest | null };

function bool(body: JsonObject, key: string, fallback: boolean): boolean {
  const v = body[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw badRequest(`\`${key}\` must be a boolean`);
  return v;
}

function positiveInt(body: JsonObject, key: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = body[key];
  if (raw === undefined || raw === null) return fallback;
  const v = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw badRequest(`\`${key}\` must be an integer between 1 and ${max}`);
  }
  return v;
}

function nonNegativeInt(body: JsonObject, key: string, fallback: number): number {
  const raw = body[key];
  if (raw === undefined || raw === null) return fallback;
  const v = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw badRequest(`\`${key}\` must be a non-negative integer`);
  return v;
}

function stringMap(value: unknown, key: string): { [k: string]: string } {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest(`\`${key}\` must be a JSON object`);
  const out: { [k: string]: string } = {};
  for (const [k, v] of Object.entries(value as JsonObject)) {
    // CouchDB refuses non-string query params: they travel as URL parameters.
    if (typeof v !== 'string') throw badRequest(`\`${key}\` values must be strings`);
    out[k] = v;
  }
  return out;
}

/** mochiweb_util:unquote: `%XX` escapes become their bytes; nothing else changes. */
function unquote(id: string): string {
  return id.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
}

function parseFilter(body: JsonObject): FilterRequest | undefined {
  const docIds = body['doc_ids'];
  const filter = body['filter'];
  const selector = body['selector'];
  const given = [docIds, filter, selector].filter((v) => v !== undefined && v !== null).length;
  if (given > 1) throw badRequest('`doc_ids`, `filter`, `selector` are mutually exclusive');
  if (docIds !== undefined && docIds !== null) {
    if (!Array.isArray(docIds) || !docIds.every((id) => typeof id === 'string')) {
      throw badRequest('`doc_ids` must be an array of strings');
    }
    // couch_replicator_parse: ids may come percent-encoded (as the old replicator took them);
    // they are decoded, sorted and deduplicated (lists:usort).
    const decoded = [...new Set((docIds as string[]).map(unquote))].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return { kind: 'doc_ids', docIds: decoded };
  }
  if (selector !== undefined && selector !== null) {
    if (typeof selector !== 'object' || Array.isArray(selector)) throw badRequest('`selector` must be a JSON object');
    return { kind: 'selector', selector: selector as JsonObject };
  }
  if (filter !== undefined && filter !== null) {
    if (typeof filter !== 'string' || filter === '') throw badRequest('`filter` must be a string');
    const queryParams = stringMap(body['query_params'], 'query_params');
    if (filter === '_view') {
      const view = queryParams['view'];
      if (view === undefined) throw badRequest('`filter` `_view` needs a `view` in `query_params`');
      const { view: _v, ...rest } = queryParams;
      return { kind: 'view', view, queryParams: rest };
    }
    if (filter === '_doc_ids' || filter === '_selector') {
      throw badRequest(`Use \`${filter.slice(1)}\` instead of \`filter: ${filter}\``);
    }
    if (!/^[^/]+\/[^/]+$/.test(filter)) throw badRequest('`filter` must be of the form `designdoc/filtername`');
    return { kind: 'design', name: filter, queryParams };
  }
  return undefined;
}

/** Parses a replication request; `local` resolves bare database names to the node's own URL. */
export function parseReplicationRequest(input: unknown, local?: LocalNode): ReplicationRequest {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw badRequest('Request body must be a JSON object');
  }
  const body = input as JsonObject;
  if (body['source'] === undefined || body['source'] === null) throw badRequest('Missing `source` field');
  if (body['target'] === undefined || body['target'] === null) throw badRequest('Missing `target` field');
  const source = parsePeer(body['source'], 'source', local);
  const target = parsePeer(body['target'], 'target', local);
  const request: ReplicationRequest = {
    source,
    target,
    continuous: bool(body, 'continuous', false),
    createTarget: bool(body, 'create_target', false),
    createTargetParams: createTargetParams(body['create_target_params']),
    filter: parseFilter(body),
    winningRevsOnly: bool(body, 'winning_revs_only', false),
    useCheckpoints: bool(body, 'use_checkpoints', true),
    checkpointIntervalMs: positiveInt(body, 'checkpoint_interval', CHECKPOINT_INTERVAL_MS_DEFAULT),
    workerProcesses: positiveInt(body, 'worker_processes', WORKER_PROCESSES_DEFAULT, WORKER_PROCESSES_MAX),
    workerBatchSize: positiveInt(body, 'worker_batch_size', WORKER_BATCH_SIZE_DEFAULT, WORKER_BATCH_SIZE_MAX),
    httpConnections: positiveInt(body, 'http_connections', HTTP_CONNECTIONS_DEFAULT),
    connectionTimeoutMs: positiveInt(body, 'connection_timeout', CONNECTION_TIMEOUT_MS_DEFAULT),
    retriesPerRequest: nonNegativeInt(body, 'retries_per_request', RETRIES_PER_REQUEST_DEFAULT),
    useBulkGet: bool(body, 'use_bulk_get', true),
  };
  if (body['since_seq'] !== undefined && body['since_seq'] !== null) request.sinceSeq = body['since_seq'];
  return request;
}

function createTargetParams(value: unknown): { [key: string]: string } {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest('`create_target_params` must be a JSON object');
  const out: { [key: string]: string } = {};
  for (const [k, v] of Object.entries(value as JsonObject)) {
    // `q`, `n`, `partitioned`: sent as query parameters of `PUT /db`.
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  }
  return out;
}

/** Reads a `POST /_replicate` body: a start, or a cancel by id or by identical request. */
export function parseReplicateCommand(input: unknown, local?: LocalNode): ReplicateCommand {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw badRequest('Request body must be a JSON object');
  }
  const body = input as JsonObject;
  if (body['cancel'] === true) {
    const id = body['replication_id'] ?? body['id'];
    if (typeof id === 'string' && id !== '') return { kind: 'cancel', replicationId: id, request: null };
    return { kind: 'cancel', replicationId: null, request: parseReplicationRequest(body, local) };
  }
  if (body['cancel'] !== undefined && typeof body['cancel'] !== 'boolean') throw badRequest('`cancel` must be a boolean');
  return { kind: 'start', request: parseReplicationRequest(body, local) };
}
