// The lounge's own limits on what clients send it. The nodes enforce their own document
// and attachment limits; these only stop the proxy from buffering unbounded input.

/** Largest request body buffered (CouchDB's `max_http_request_size` default is 4 GB; a node's is 64 MB). */
export const REQUEST_BYTES_MAX = 64 * 1024 * 1024;
/** Most `_uuids` in one answer (CouchDB's `[uuids] max_count`). */
export const UUIDS_MAX = 1000;
/** CouchDB's default `_changes` timeout for longpoll and continuous feeds (`changes_timeout`). */
export const CHANGES_TIMEOUT_MS = 60_000;
/** `heartbeat=true` means CouchDB's default heartbeat. */
export const DEFAULT_HEARTBEAT_MS = 60_000;
/** Rows written per chunk when streaming merged answers. */
export const STREAM_CHUNK_CHARS = 64 * 1024;
