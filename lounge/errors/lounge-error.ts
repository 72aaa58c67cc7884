// The lounge's error type and its small catalog.
//
// Everything the proxy refuses on its own account (a malformed since token, no replica of
// a range reachable, an unknown endpoint) is thrown as a LoungeError: an Error with
// CouchDB's numeric `status`, string `error` and string `reason`. The outer middleware turns
// any such object into `{"error","reason"}` with that status, exactly as a node does.
// Errors a node answered are not re-worded here: they are passed through as the node sent
// them (see upstream/node-client.ts, UpstreamError).

import { CouchError } from '../../views/index.js';

/** The views part's CouchDB-shaped error, named for the proxy so logs say where it came from. */
export class LoungeError extends CouchError {
  constructor(status: number, error: string, reason: string, extra?: Record<string, unknown>) {
    super(status, error, reason, extra);
    this.name = 'LoungeError';
  }
}

/** Anything shaped like a CouchDB error (ours, views', or a node's answer). */
export function isCouchShaped(e: unknown): e is { status: number; error: string; reason: string; extra?: Record<string, unknown> } {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  return typeof o.status === 'number' && typeof o.error === 'string' && typeof o.reason === 'string';
}

export const badRequest = (reason: string) => new LoungeError(400, 'bad_request', reason);
export const notFound = (reason = 'missing') => new LoungeError(404, 'not_found', reason);
export const methodNotAllowed = (allowed: string) => new LoungeError(405, 'method_not_allowed', `Only ${allowed} allowed`);
export const unauthorized = (reason = 'You are not authorized to access this db.') => new LoungeError(401, 'unauthorized', reason);
export const forbidden = (reason = 'You are not allowed to access this db.') => new LoungeError(403, 'forbidden', reason);
export const badContentType = () => new LoungeError(415, 'bad_content_type', 'Content-Type must be application/json');
export const dbNotFound = () => new LoungeError(404, 'not_found', 'Database does not exist.');
export const fileExists = () => new LoungeError(412, 'file_exists', 'The database could not be created, the file already exists.');

/** CouchDB's exact words for an undecodable `since` (fabric_view_changes.erl). */
export const malformedSince = () => new LoungeError(400, 'bad_request', "Malformed sequence supplied in 'since' parameter.");

/** No replica of a range answered: the request cannot be served (CouchDB: 503 unavailable). */
export const unavailable = (what: string) => new LoungeError(503, 'unavailable', `no replica of ${what} is reachable`);
