// Resource limits for design-document code. Every number here bounds what one
// hostile or buggy design document can cost the node.

/**
 * Heap limit per isolate (one isolate per design document). CouchDB gives its
 * JS processes no memory cap at all; 128 MB holds a batch of large documents
 * with room to spare, and isolated-vm disposes the isolate when it is exceeded.
 */
export const ISOLATE_MEMORY_LIMIT_MB = 128;

/**
 * Wall-clock limit for one call into an isolate (a whole batch of docs). CouchDB's
 * `os_process_timeout` is 5 s per call; a batch is bounded in size below, so a
 * healthy map finishes a batch in milliseconds and only a runaway loop hits this.
 */
export const CALL_TIMEOUT_MS = 5_000;

/** Docs per map call: large enough to amortize the ~0.1 ms crossing, small enough to stay far below the timeout. */
export const MAP_BATCH_DOCS_MAX = 500;

/**
 * Map batches queued on an isolate at once. Two keeps the isolate busy while the
 * host prepares the next batch; more would only hold more JSON in memory.
 */
export const MAP_BATCHES_IN_FLIGHT = 2;

/**
 * Bytes of document JSON per map call. It keeps a batch of huge docs from exhausting the isolate
 * heap, and keeps each batch string under V8's large-object size (128 KB): measured, 175 KB
 * batches cost the host about three times as much time per doc to build and copy into the
 * isolate as 90 KB ones, and a view build got ~5 % faster.
 */
export const MAP_BATCH_BYTES_MAX = 96 * 1024;

/** Isolates kept alive at once (LRU); each costs a few MB even when idle. */
export const ISOLATES_MAX = 32;

/** Log lines kept per call from user `log()`; the rest are dropped so a chatty map cannot flood the host. */
export const LOG_LINES_MAX = 100;

/** Characters kept per log line. */
export const LOG_LINE_CHARS_MAX = 2_000;

/**
 * CouchDB's `reduce_limit`: a JS reduction longer than this many characters that
 * is also more than half the size of its input is replaced by a
 * `reduce_overflow_error`, because a non-reducing reduce makes every stored
 * partial reduction grow with the data.
 */
export const REDUCE_LIMIT_CHARS = 4_096;

/**
 * Rows a running `_list` gets per crossing into the host: it starts at LIST_ROWS_FIRST and doubles
 * while the list handles a batch quickly (under a sixteenth of the call timeout), up to
 * LIST_ROWS_MAX; it halves when a batch takes over a quarter of the timeout. The timeout applies
 * between crossings (CouchDB's is per row), so a slow but honest list is never stopped for
 * being handed many rows at once.
 */
export const LIST_ROWS_FIRST = 16;
export const LIST_ROWS_MAX = 1_000;

/**
 * Idle `_list` isolates kept for reuse, over all design docs. A list runs in an isolate no other
 * call shares; starting one (and freezing its intrinsics) costs tens of milliseconds, which
 * dominated small lists, so a few are kept warm.
 */
export const LIST_ISOLATES_IDLE_MAX = 4;
