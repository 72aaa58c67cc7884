// Every limit the node enforces, with CouchDB's default where it has one. Each can be changed
// through the config file (`limits` section) or the command line; these are the defaults.

export interface Limits {
  /** Largest request body read into memory (CouchDB: [chttpd] max_http_request_size). */
  maxRequestBytes: number;
  /** Largest JSON document (CouchDB: [couchdb] max_document_size, 8 MB). */
  maxDocumentBytes: number;
  /** Largest single attachment (CouchDB: [couchdb] max_attachment_size). */
  maxAttachmentBytes: number;
  /** Most docs in one `_bulk_docs`/`_bulk_get` (CouchDB: [couchdb] max_bulk_docs_count). */
  maxBulkDocs: number;
  /** A partition holding this many external bytes takes no more growth (CouchDB: [couchdb] max_partition_size, 10 GiB). */
  maxPartitionBytes: number;
  /** Rows a partition query may ask for, and gets without a `limit` (CouchDB: [query_server_config] partition_query_limit). */
  partitionQueryLimit: number;
  /** Deepest JSON nesting accepted; deeper input is refused before it can exhaust the stack. */
  maxJsonDepth: number;
  /** Default and largest `_uuids?count` (CouchDB: [uuids] max_count). */
  maxUuids: number;
  /** `_changes` longpoll/continuous timeout when none is given (CouchDB: changes_timeout). */
  changesTimeoutMs: number;
  /** How long a request may take to arrive in full before the socket is dropped. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection is kept open (longer than common proxies' 60 s). */
  idleTimeoutMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxRequestBytes: 64 * 1024 * 1024,
  maxDocumentBytes: 8_000_000,
  maxAttachmentBytes: 64 * 1024 * 1024,
  maxBulkDocs: 10_000,
  maxPartitionBytes: 10 * 1024 * 1024 * 1024,
  partitionQueryLimit: 2000,
  maxJsonDepth: 500,
  maxUuids: 1000,
  changesTimeoutMs: 60_000,
  requestTimeoutMs: 60_000,
  idleTimeoutMs: 65_000,
};
