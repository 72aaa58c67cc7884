// View query parameters: parsing and validation exactly as CouchDB's
// couch_mrview_http:parse_params and couch_mrview_util:validate_args do it, with
// their error texts, so the HTTP layer passes the raw query string map (and the
// POST body) straight through.
//
// Parsing folds over the parameters in order, so a later one overrides an
// earlier one (`key` sets both start and end key). Query-string values are JSON
// text where CouchDB expects JSON (`key`, `keys`, `startkey`, ...); POST body
// members are already decoded and are applied after the query string.

import { badRequest, CouchError, queryParseError } from '../errors/couch-error.js';
import { MAX_ID, MIN_ID, type Bound, type BoundId } from '../index-store/btree.js';
import type { DocReadOptions } from '../index-store/doc-source.js';

/** A parameter value as present: JSON text from the query string, or a decoded body member. */
type Raw = { text: string } | { decoded: unknown };

export type UpdateMode = 'true' | 'false' | 'lazy';

/** CouchDB's #mrargs, after parsing and before the view type is known. */
export interface ViewArgs {
  reduce: boolean | undefined;
  /** Present when key/startkey/start_key was given (the value may be null). */
  startKey: { value: unknown } | undefined;
  endKey: { value: unknown } | undefined;
  keys: unknown[] | undefined;
  startKeyDocId: string | undefined;
  endKeyDocId: string | undefined;
  limit: number | undefined;
  skip: number;
  descending: boolean;
  group: boolean | undefined;
  groupLevel: number | undefined;
  inclusiveEnd: boolean;
  includeDocs: boolean;
  conflicts: boolean | undefined;
  /** `attachments` / `att_encoding_info`: how included docs show their attachments. */
  docOptions: DocReadOptions;
  update: UpdateMode;
  updateSeq: boolean;
  sorted: boolean;
  /** `partition` (or the `/_partition/{p}/` path the server turns into it). */
  partition: string | undefined;
}

/** Args validated against a view: what the query engine runs. */
export interface ViewQuery {
  viewType: 'map' | 'red';
  /** 0 = reduce everything, 'exact' = group=true, n = group_level=n. */
  groupLevel: 0 | 'exact' | number;
  keys: unknown[] | undefined;
  startKey: { value: unknown } | undefined;
  endKey: { value: unknown } | undefined;
  startKeyDocId: BoundId;
  endKeyDocId: BoundId;
  limit: number | undefined;
  skip: number;
  descending: boolean;
  inclusiveEnd: boolean;
  includeDocs: boolean;
  conflicts: boolean;
  docOptions: DocReadOptions;
  update: UpdateMode;
  updateSeq: boolean;
  /** Set for a partition query: only rows of documents `partition:…` are seen. */
  partition: string | undefined;
}

function defaults(): ViewArgs {
  return {
    reduce: undefined,
    startKey: undefined,
    endKey: undefined,
    keys: undefined,
    startKeyDocId: undefined,
    endKeyDocId: undefined,
    limit: undefined,
    skip: 0,
    descending: false,
    group: undefined,
    groupLevel: undefined,
    inclusiveEnd: true,
    includeDocs: false,
    conflicts: undefined,
    docOptions: {},
    update: 'true',
    updateSeq: false,
    sorted: true,
    partition: undefined,
  };
}

/** Erlang `~p` of a parameter value: strings quoted, numbers bare. */
function show(raw: Raw): string {
  if ('text' in raw) return JSON.stringify(raw.text);
  return typeof raw.decoded === 'string' ? `<<${JSON.stringify(raw.decoded)}>>` : JSON.stringify(raw.decoded);
}

function json(raw: Raw): unknown {
  if ('decoded' in raw) return raw.decoded;
  try {
    return JSON.parse(raw.text);
  } catch {
    throw badRequest('invalid UTF-8 JSON');
  }
}

function str(raw: Raw): string {
  if ('text' in raw) return raw.text;
  return typeof raw.decoded === 'string' ? raw.decoded : JSON.stringify(raw.decoded);
}

function parseBoolean(raw: Raw): boolean {
  if ('decoded' in raw && typeof raw.decoded === 'boolean') return raw.decoded;
  const s = 'text' in raw ? raw.text : typeof raw.decoded === 'string' ? raw.decoded : '';
  const lower = s.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw queryParseError(`Invalid boolean parameter: ${show(raw)}`);
}

function parseInt(raw: Raw): number {
  if ('decoded' in raw && typeof raw.decoded === 'number' && Number.isInteger(raw.decoded)) return raw.decoded;
  const s = 'text' in raw ? raw.text : null;
  if (s !== null && /^[+-]?\d+$/.test(s)) return Number(s);
  throw queryParseError(`Invalid value for integer: ${show(raw)}`);
}

function parsePosInt(raw: Raw): number {
  const n = parseInt(raw);
  if (n < 0) throw queryParseError(`Invalid value for positive integer: ${show(raw)}`);
  return n;
}

function applyParam(args: ViewArgs, name: string, raw: Raw): void {
  const text = 'text' in raw ? raw.text : raw.decoded;
  switch (name) {
    case '':
      return;
    case 'reduce':
      args.reduce = parseBoolean(raw);
      return;
    case 'key': {
      const k = json(raw);
      args.startKey = { value: k };
      args.endKey = { value: k };
      return;
    }
    case 'keys':
      args.keys = json(raw) as unknown[];
      return;
    case 'startkey':
    case 'start_key':
      args.startKey = { value: json(raw) };
      return;
    case 'endkey':
    case 'end_key':
      args.endKey = { value: json(raw) };
      return;
    case 'startkey_docid':
    case 'start_key_doc_id':
      args.startKeyDocId = str(raw);
      return;
    case 'endkey_docid':
    case 'end_key_doc_id':
      args.endKeyDocId = str(raw);
      return;
    case 'limit':
      args.limit = parsePosInt(raw);
      return;
    case 'stale':
      if (text === 'ok') args.update = 'false';
      else if (text === 'update_after') args.update = 'lazy';
      else throw queryParseError('Invalid value for `stale`.');
      return;
    case 'stable':
      if (text !== 'true' && text !== 'false' && text !== true && text !== false) {
        throw queryParseError('Invalid value for `stable`.');
      }
      return;
    case 'update':
      if (text === 'true' || text === true) args.update = 'true';
      else if (text === 'false' || text === false) args.update = 'false';
      else if (text === 'lazy') args.update = 'lazy';
      else throw queryParseError('Invalid value for `update`.');
      return;
    case 'descending':
      args.descending = parseBoolean(raw);
      return;
    case 'skip':
      args.skip = parsePosInt(raw);
      return;
    case 'group':
      args.group = parseBoolean(raw);
      return;
    case 'group_level':
      args.groupLevel = parsePosInt(raw);
      return;
    case 'inclusive_end':
      args.inclusiveEnd = parseBoolean(raw);
      return;
    case 'include_docs':
      args.includeDocs = parseBoolean(raw);
      return;
    case 'attachments':
      args.docOptions = { ...args.docOptions, attachments: parseBoolean(raw) };
      return;
    case 'att_encoding_info':
      args.docOptions = { ...args.docOptions, attEncodingInfo: parseBoolean(raw) };
      return;
    case 'update_seq':
      args.updateSeq = parseBoolean(raw);
      return;
    case 'conflicts':
      args.conflicts = parseBoolean(raw);
      return;
    case 'sorted':
      args.sorted = parseBoolean(raw);
      return;
    case 'partition':
      args.partition = validatePartition(str(raw));
      return;
    default:
      // callback and unknown parameters are accepted and ignored, as CouchDB does.
      return;
  }
}

/** couch_partition:validate_partition, with its texts. */
function validatePartition(p: string): string {
  const bad = (reason: string) => new CouchError(400, 'illegal_partition', reason);
  if (p === '') throw bad('Partition must not be empty');
  if (p.startsWith('_')) throw bad('Partition must not start with an underscore');
  if (p.includes(':')) throw bad('Partition must not contain a colon');
  return p;
}

/**
 * Parse a view request: the query string map and, for POST, the JSON body
 * (whose members, including `keys`, are applied after the query string).
 */
export function parseViewArgs(query: Record<string, string>, body?: unknown, bodyWins = false): ViewArgs {
  const args = defaults();
  // couch_mrview_http:parse_body_and_query: the body's members first, then the URL's parameters
  // over them, so a parameter given in both takes the URL's value. A member of `queries` is the
  // other way round (chttpd_view:multi_query_view): the URL's first, the member's over them.
  if (bodyWins) for (const [k, v] of Object.entries(query)) applyParam(args, k, { text: v });
  if (body !== undefined && body !== null) {
    if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('Request body must be a JSON object');
    const props = body as Record<string, unknown>;
    if ('keys' in props && !Array.isArray(props['keys'])) throw badRequest('`keys` member must be an array.');
    for (const [k, v] of Object.entries(props)) applyParam(args, k, { decoded: v });
  }
  if (!bodyWins) for (const [k, v] of Object.entries(query)) applyParam(args, k, { text: v });
  return args;
}

function erlEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ea = Object.entries(a);
  const eb = Object.entries(b);
  return ea.length === eb.length && ea.every(([k, v], i) => eb[i]?.[0] === k && erlEqual(v, eb[i]?.[1]));
}

/**
 * couch_mrview_util:validate_args for a view with or without a reduce function.
 * `cmpBounds` is the view's row order (for the "No rows can match" check).
 */
export function validateViewArgs(
  args: ViewArgs,
  viewHasReduce: boolean,
  cmpBounds: (a: Bound, b: Bound) => number,
): ViewQuery {
  let { keys, startKey, endKey } = args;
  // CouchDB 3.3.1+: a single-element `keys` is a plain `key` lookup.
  if (Array.isArray(keys) && keys.length === 1 && startKey === undefined && endKey === undefined) {
    startKey = { value: keys[0] };
    endKey = { value: keys[0] };
    keys = undefined;
  }
  const viewType: 'map' | 'red' = args.reduce === false || !viewHasReduce ? 'map' : 'red';

  let groupLevel: 0 | 'exact' | number;
  if (args.group === undefined && args.groupLevel === undefined) groupLevel = 0;
  else if (args.group === false && args.groupLevel === undefined) groupLevel = 0;
  else if (args.group === false && (args.groupLevel ?? 0) > 0) {
    throw queryParseError("Can't specify group=false and group_level>0 at the same time");
  } else if (args.group === true && args.groupLevel === undefined) groupLevel = 'exact';
  else groupLevel = args.groupLevel ?? 0;

  if (!viewHasReduce && args.reduce === true) throw queryParseError('Reduce is invalid for map-only views.');
  if (viewType === 'red' && groupLevel !== 'exact' && Array.isArray(keys)) {
    throw queryParseError('Multi-key fetchs for reduce views must use `group=true`');
  }
  if (keys !== undefined && !Array.isArray(keys)) throw queryParseError('`keys` must be an array of strings.');
  if (Array.isArray(keys) && keys.length > 0 && (startKey !== undefined || endKey !== undefined)) {
    throw queryParseError('`keys` is incompatible with `key`, `start_key` and `end_key`');
  }
  if (viewType === 'map' && groupLevel !== 0) throw queryParseError('Invalid use of grouping on a map view.');
  if (viewType === 'red' && args.includeDocs) throw queryParseError('`include_docs` is invalid for reduce');
  if (viewType === 'red' && args.conflicts !== undefined) {
    throw queryParseError('`conflicts` is invalid for reduce views.');
  }

  const startKeyDocId: BoundId = args.startKeyDocId ?? (args.descending ? MAX_ID : MIN_ID);
  const endKeyDocId: BoundId = args.endKeyDocId ?? (args.descending ? MIN_ID : MAX_ID);

  // check_range: a start after the end (in walking order) can match nothing.
  if (keys === undefined && startKey !== undefined && endKey !== undefined && !erlEqual(startKey.value, endKey.value)) {
    const less = cmpBounds({ key: startKey.value, id: startKeyDocId }, { key: endKey.value, id: endKeyDocId }) < 0;
    if (!args.descending && !less) {
      throw queryParseError(
        'No rows can match your key range, reverse your start_key and end_key or set descending=true',
      );
    }
    if (args.descending && less) {
      throw queryParseError(
        'No rows can match your key range, reverse your start_key and end_key or set descending=false',
      );
    }
  }

  return {
    viewType,
    groupLevel,
    keys,
    startKey,
    endKey,
    startKeyDocId,
    endKeyDocId,
    limit: args.limit,
    skip: args.skip,
    descending: args.descending,
    inclusiveEnd: args.inclusiveEnd,
    includeDocs: args.includeDocs,
    conflicts: args.conflicts === true,
    docOptions: args.docOptions,
    update: args.update,
    updateSeq: args.updateSeq,
    partition: args.partition,
  };
}

