// The error type every views/ failure that reaches a client is thrown as.
//
// The server's outer middleware turns any object with a numeric `status` and
// string `error` and `reason` into CouchDB's `{"error","reason"}` body with that
// status, so the names and texts here are CouchDB's own (couch_mrview_http.erl,
// couch_mrview_util.erl, mango_error.erl, chttpd.erl) and clients that match on
// them keep working. `extra` carries additional body fields some errors have
// (e.g. builtin_reduce_error's `caused_by`).

export class CouchError extends Error {
  readonly status: number;
  readonly error: string;
  readonly reason: string;
  readonly extra: Record<string, unknown> | undefined;

  constructor(status: number, error: string, reason: string, extra?: Record<string, unknown>) {
    super(`${error}: ${reason}`);
    this.name = 'CouchError';
    this.status = status;
    this.error = error;
    this.reason = reason;
    this.extra = extra;
  }

  /** The JSON body CouchDB would send for this error. */
  toJSON(): Record<string, unknown> {
    return { error: this.error, reason: this.reason, ...this.extra };
  }
}

export function isCouchError(e: unknown): e is CouchError {
  return e instanceof CouchError;
}

/** 400 query_parse_error: a bad view query parameter (couch_mrview_http / _util). */
export function queryParseError(reason: string): CouchError {
  return new CouchError(400, 'query_parse_error', reason);
}

export function badRequest(reason: string): CouchError {
  return new CouchError(400, 'bad_request', reason);
}

export function notFound(reason: string): CouchError {
  return new CouchError(404, 'not_found', reason);
}

/** 500 os_process_error: design-doc code timed out, ran out of memory or crashed. */
export function osProcessError(reason: string): CouchError {
  return new CouchError(500, 'os_process_error', reason);
}
