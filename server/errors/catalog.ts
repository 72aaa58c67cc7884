// One catalog of every error the node answers with, after CouchDB's chttpd:error_info/1.
// Code throws `CouchError`s by name; the outermost koa middleware turns them into CouchDB's
// `{"error", "reason"}` body with the status from this table. Anything else is a logged 500.

export const ERRORS = {
  bad_request: { status: 400, reason: 'Bad request.' },
  invalid_json: { status: 400, error: 'bad_request', reason: 'invalid UTF-8 JSON' },
  query_parse_error: { status: 400, reason: 'Invalid query parameter.' },
  illegal_docid: { status: 400, reason: 'Only reserved document ids may start with underscore.' },
  illegal_partition: { status: 400, reason: 'Invalid partition.' },
  illegal_database_name: { status: 400, reason: 'Invalid database name.' },
  invalid_design_doc: { status: 400, reason: 'Invalid design document.' },
  doc_validation: { status: 400, reason: 'Invalid document.' },
  invalid_rev: { status: 400, error: 'bad_request', reason: 'Invalid rev format' },
  content_md5_mismatch: { status: 400, reason: 'Possible message corruption.' },
  unauthorized: { status: 401, reason: 'You are not authorized to access this db.' },
  forbidden: { status: 403, reason: 'You are not allowed to access this db.' },
  partition_overflow: { status: 403, reason: 'Partition limit exceeded.' },
  not_found: { status: 404, reason: 'missing' },
  db_not_found: { status: 404, error: 'not_found', reason: 'Database does not exist.' },
  method_not_allowed: { status: 405, reason: 'Method not allowed.' },
  not_acceptable: { status: 406, reason: 'Not acceptable.' },
  conflict: { status: 409, reason: 'Document update conflict.' },
  gone: { status: 410, reason: 'Gone.' },
  file_exists: { status: 412, reason: 'The database could not be created, the file already exists.' },
  missing_stub: { status: 412, reason: 'Invalid attachment stub.' },
  precondition_failed: { status: 412, reason: 'Precondition failed.' },
  too_large: { status: 413, reason: 'the request entity is too large' },
  insufficient_storage: { status: 507, reason: 'Insufficient storage' },
  document_too_large: { status: 413, reason: 'Document too large.' },
  attachment_too_large: { status: 413, reason: 'Attachment too large.' },
  too_long: { status: 414, reason: 'the request uri is too long' },
  bad_content_type: { status: 415, reason: 'Content-Type must be application/json' },
  requested_range_not_satisfiable: { status: 416, reason: 'Requested range not satisfiable' },
  expectation_failed: { status: 417, reason: 'Expectation failed.' },
  unknown_error: { status: 500, reason: 'Internal server error.' },
  service_unavailable: { status: 503, error: 'service_unavailable', reason: 'Service unavailable.' },
} as const satisfies Record<string, { status: number; error?: string; reason: string }>;

export type ErrorName = keyof typeof ERRORS;

export class CouchError extends Error {
  readonly status: number;
  readonly error: string;
  readonly reason: string;

  constructor(name: ErrorName, reason?: string) {
    const entry: { status: number; error?: string; reason: string } = ERRORS[name];
    super(reason ?? entry.reason);
    this.status = entry.status;
    this.error = entry.error ?? name;
    this.reason = reason ?? entry.reason;
  }
}

/** Any thrown value shaped like a CouchDB error (ours, or one from views/ or replicator/). */
export interface CouchShaped {
  status: number;
  error: string;
  reason: string;
}

export function isCouchShaped(e: unknown): e is CouchShaped {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  return typeof o.status === 'number' && typeof o.error === 'string' && typeof o.reason === 'string';
}
