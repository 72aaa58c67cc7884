// The `Endpoint` interface: everything the replication protocol needs from one
// side of a replication, and nothing more.
//
// The replicator talks to peers only through this interface. `HttpEndpoint`
// implements it over CouchDB's REST API; a test or simulation can implement it
// in-process (no sockets, injected faults) and run the very same pipeline.
//
// Contract for implementers:
// - Sequences (`Seq`) are opaque JSON values. Echo them back unchanged.
// - Methods reject with `PeerError` (see ../errors.ts) carrying the peer's
//   status and CouchDB error name, or status 0 for "no answer". The pipeline
//   decides what is retryable from that; an endpoint may retry transient
//   failures itself first.
// - Every method honours its `AbortSignal`: when it fires, reject promptly.
// - `bulkDocs` always means `new_edits: false` (a replicated write), and it
//   returns only the rows that failed, as CouchDB does.

/** An update sequence: opaque, compared by nobody, echoed back as `since`. */
export type Seq = unknown;

export type JsonObject = { [key: string]: unknown };

/** `_revisions`: the path from a leaf back towards the root, newest first. */
export interface Revisions {
  start: number;
  ids: string[];
}

export interface Attachment {
  content_type?: string;
  digest?: string;
  length?: number;
  revpos?: number;
  stub?: boolean;
  data?: string;
  encoding?: string;
  encoded_length?: number;
  [key: string]: unknown;
}

/** A document as it travels between peers (JSON, attachments inline or as stubs). */
export interface Doc {
  _id: string;
  _rev?: string;
  _deleted?: boolean;
  _revisions?: Revisions;
  _attachments?: { [name: string]: Attachment };
  [key: string]: unknown;
}

export interface ChangeRow {
  seq: Seq;
  id: string;
  changes: { rev: string }[];
  deleted?: boolean;
  doc?: Doc | null;
}

/** One `_changes?feed=normal` answer. `pending` is absent on peers that do not send it. */
export interface ChangesPage {
  results: ChangeRow[];
  last_seq: Seq;
  pending?: number;
}

/** `GET /db`. Only `update_seq` (and `instance_start_time`) are mandatory in the protocol. */
export interface DbInfo {
  update_seq: Seq;
  db_name?: string;
  instance_start_time?: string;
  doc_count?: number;
  [key: string]: unknown;
}

/** How `_changes` is filtered. Mirrors the three ways CouchDB asks (B.3 of the API reference). */
export type ChangesFilter =
  | { kind: 'doc_ids'; docIds: string[] }
  | { kind: 'selector'; selector: JsonObject }
  /** A design-doc filter `ddoc/name`; `queryParams` reach the filter as `req.query`. */
  | { kind: 'design'; name: string; queryParams: { [key: string]: string } }
  /** `filter=_view&view=ddoc/view`. */
  | { kind: 'view'; view: string; queryParams: { [key: string]: string } };

export interface ChangesRequest {
  since: Seq;
  /** Rows per answer; absent means "all". */
  limit?: number;
  filter?: ChangesFilter;
  includeDocs?: boolean;
  /** The replicator always wants `all_docs`: every leaf, conflicts included. */
  style: 'all_docs' | 'main_only';
}

export interface ChangesFeedRequest extends ChangesRequest {
  /** The peer sends a newline at least this often; silence for much longer means a dead connection. */
  heartbeatMs: number;
  /** `continuous` streams one open response; `longpoll` repeats short requests (what PouchDB uses). */
  feed: 'continuous' | 'longpoll';
}

/**
 * What a live feed yields: rows as they arrive, and the feed position whenever
 * the peer reports it (a longpoll answer's or a continuous feed's `last_seq`).
 * A feed that ends was closed by the peer; the caller resumes from the last seq.
 */
export type ChangesEvent = { kind: 'rows'; rows: ChangeRow[] } | { kind: 'last_seq'; lastSeq: Seq };

export interface RevsDiffEntry {
  missing: string[];
  possible_ancestors?: string[];
}
export type RevsDiffResponse = { [docId: string]: RevsDiffEntry };

export interface BulkGetItem {
  id: string;
  rev: string;
  /** Revisions the target already has; attachments not newer than these may come back as stubs. */
  atts_since?: string[];
}

export interface BulkGetOptions {
  /** Inline attachment bodies (newer than `atts_since`) as base64. */
  attachments: boolean;
}

/** One revision answered by `_bulk_get` (always with `revs=true&latest=true`). */
export type BulkGetResult =
  | { ok: Doc }
  | { error: { id: string; rev: string; error: string; reason: string } };

/** A failed row of `_bulk_docs` with `new_edits: false`. */
export interface BulkDocsError {
  id: string;
  rev?: string;
  error: string;
  reason: string;
}

export interface LocalDoc {
  _id: string;
  _rev?: string;
  [key: string]: unknown;
}

/**
 * What identifies an endpoint inside a replication id: where it is and as whom,
 * never with what password. See protocol/replication-id.ts.
 */
export interface EndpointIdentity {
  /** `remote` for HTTP peers; in-process endpoints pick any stable tag. */
  kind: string;
  user: string | null;
  host: string;
  /** `null` when the port is the scheme's default (80, 443, and CouchDB's 5984). */
  port: number | null;
  path: string;
  /** Extra headers sent to the peer, lowercased and sorted, `authorization` excluded. */
  headers: [string, string][];
}

export interface Endpoint {
  /** The database URL with credentials masked, for status reports and logs. */
  readonly label: string;
  identity(): EndpointIdentity;

  /** `GET /` → `uuid`, or null when the peer has none. */
  serverUuid(signal?: AbortSignal): Promise<string | null>;
  /** `GET /db`. A missing database rejects with a 404 PeerError. */
  dbInfo(signal?: AbortSignal): Promise<DbInfo>;
  /** `PUT /db`. Resolves when the database exists afterwards (412 counts as success). */
  createDb(params: { [key: string]: string }, signal?: AbortSignal): Promise<void>;

  /** One `feed=normal` answer. */
  changes(request: ChangesRequest, signal?: AbortSignal): Promise<ChangesPage>;
  /** A live feed; ends only when the peer closes it, or throws when the connection dies. */
  changesFeed(request: ChangesFeedRequest, signal?: AbortSignal): AsyncIterable<ChangesEvent>;

  revsDiff(revs: { [docId: string]: string[] }, signal?: AbortSignal): Promise<RevsDiffResponse>;
  /** `_bulk_get?revs=true&latest=true`, one result per requested revision (or more, with `latest`). */
  bulkGet(items: BulkGetItem[], options: BulkGetOptions, signal?: AbortSignal): Promise<BulkGetResult[]>;
  /** `_bulk_docs` with `new_edits: false`; returns the failed rows only. */
  bulkDocs(docs: Doc[], signal?: AbortSignal): Promise<BulkDocsError[]>;

  /** A normal document (the replicator reads design docs for filter code), or null if missing/deleted. */
  getDoc(id: string, signal?: AbortSignal): Promise<Doc | null>;
  /** Raw bytes of one attachment of one revision. */
  getAttachment(docId: string, name: string, rev: string, signal?: AbortSignal): Promise<Buffer>;

  /** `GET /db/_local/{id}` (id without the `_local/` prefix); null when absent. */
  getLocal(id: string, signal?: AbortSignal): Promise<LocalDoc | null>;
  /** `PUT /db/_local/{id}`; resolves with the new `_rev`. A stale `_rev` rejects with 409. */
  putLocal(doc: LocalDoc, signal?: AbortSignal): Promise<string>;

  /** `POST /db/_ensure_full_commit`; a no-op on modern peers, kept for old ones. */
  ensureFullCommit(signal?: AbortSignal): Promise<void>;

  /** Releases sockets and timers. The endpoint is unusable afterwards. */
  close(): Promise<void>;
}
