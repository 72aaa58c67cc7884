// Errors of the replicator, in the shape CouchDB's HTTP layer speaks.
//
// Two kinds exist, and the difference matters:
// - `ReplicationError` is what crosses into the node's HTTP layer: a numeric
//   `status`, CouchDB's `error` name and a human `reason`. The server's outer
//   middleware turns it into `{"error","reason"}` with that status.
// - `PeerError` is what a *peer* said (or failed to say) to us. Its status is
//   the peer's, not ours: a 401 from a remote source must not become a 401 from
//   this node, or a browser would prompt its user for the wrong password. The
//   replication layer translates PeerErrors into ReplicationErrors at its edge.
//
// Reasons never carry credentials: every URL placed in a message is redacted.

/** An error with CouchDB's `{status, error, reason}` shape, safe to show to an HTTP client. */
export class ReplicationError extends Error {
  readonly status: number;
  readonly error: string;
  readonly reason: string;

  constructor(status: number, error: string, reason: string, options?: { cause?: unknown }) {
    super(`${error}: ${reason}`, options);
    this.name = 'ReplicationError';
    this.status = status;
    this.error = error;
    this.reason = reason;
  }
}

/**
 * A failed exchange with a peer. `status` 0 means no HTTP answer at all
 * (refused, reset, timed out, malformed); otherwise it is the peer's status.
 */
export class PeerError extends Error {
  readonly status: number;
  readonly error: string;
  readonly reason: string;
  readonly method: string;
  /** The request URL with credentials redacted. */
  readonly url: string;

  constructor(
    fields: { status: number; error: string; reason: string; method: string; url: string },
    options?: { cause?: unknown },
  ) {
    super(`${fields.method} ${fields.url} failed: ${fields.status || 'no response'} ${fields.error}: ${fields.reason}`, options);
    this.name = 'PeerError';
    this.status = fields.status;
    this.error = fields.error;
    this.reason = fields.reason;
    this.method = fields.method;
    this.url = fields.url;
  }
}

/** Thrown (as `AbortSignal` reasons, too) when a replication is stopped on purpose. */
export class ReplicationStopped extends Error {
  constructor() {
    super('replication stopped');
    this.name = 'ReplicationStopped';
  }
}

export function badRequest(reason: string): ReplicationError {
  return new ReplicationError(400, 'bad_request', reason);
}

/** CouchDB: `{"error":"db_not_found","reason":"could not open http://host/db/"}`. */
export function dbNotFound(label: string): ReplicationError {
  return new ReplicationError(404, 'db_not_found', `could not open ${label}`);
}

export function isPeerError(err: unknown): err is PeerError {
  return err instanceof PeerError;
}

/**
 * Turns anything a replication threw into the error the HTTP layer should
 * show. Peer failures become a 500 naming the peer request, the way CouchDB's
 * `replication_start_error/1` reports `http_request_failed`.
 */
export function toReplicationError(err: unknown): ReplicationError {
  if (err instanceof ReplicationError) return err;
  if (err instanceof PeerError) {
    if (err.status === 401 || err.status === 403) {
      return new ReplicationError(500, 'unauthorized', `unauthorized to access ${err.url}: ${err.reason}`, { cause: err });
    }
    const what = err.status === 0 ? err.reason : `${err.status} ${err.error}: ${err.reason}`;
    return new ReplicationError(500, 'http_request_failed', `${err.method} ${err.url} failed: ${what}`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ReplicationError(500, 'unknown_error', message, { cause: err });
}
