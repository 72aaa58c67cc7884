// What a request path names, as a tagged union, before any handler runs.
//
// The lounge cannot lean on a generic router for this: CouchDB paths mix database names
// that contain `/` (sent as `%2F`), doc ids that may arrive as `_design/x` or `_design%2Fx`,
// attachment names with slashes, and special `_`-members of a database. One pure function
// decides, and the app dispatches on `kind` through an exhaustive table, so a new kind
// does not compile until it has a handler. Pure.

export type Route =
  | { kind: 'root' }
  | { kind: 'server'; name: string; rest: string[] }
  | { kind: 'db'; db: string }
  | { kind: 'dbSpecial'; db: string; name: string; rest: string[] }
  | { kind: 'shards'; db: string; docId: string | undefined }
  | { kind: 'doc'; db: string; docId: string }
  | { kind: 'local'; db: string; id: string }
  | { kind: 'attachment'; db: string; docId: string; name: string }
  | { kind: 'view'; db: string; ddoc: string; view: string; rest: string[] }
  | { kind: 'designFunction'; db: string; ddoc: string; fn: string; rest: string[] }
  | { kind: 'designInfo'; db: string; ddoc: string };

export type RouteKind = Route['kind'];

/** Databases whose names start with `_` (CouchDB's system databases). */
const SYSTEM_DBS = new Set(['_users', '_replicator', '_global_changes']);
/** Members of a database that are endpoints, not document ids. */
const DB_SPECIALS = new Set([
  '_all_docs', '_design_docs', '_local_docs', '_changes', '_bulk_docs', '_bulk_get', '_revs_diff', '_missing_revs',
  '_find', '_index', '_explain', '_security', '_revs_limit', '_compact', '_view_cleanup', '_ensure_full_commit',
  '_purge', '_purged_infos_limit', '_sync_shards', '_temp_view', '_partition', '_design_docs',
]);
const DESIGN_FUNCTIONS = new Set(['_show', '_list', '_update', '_rewrite', '_search', '_search_info', '_nouveau']);

function decode(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

/** Classifies a raw (still percent-encoded) request path. */
export function parseRoute(rawPath: string): Route {
  const segs = rawPath.split('/').slice(1);
  if (segs.length > 0 && segs[segs.length - 1] === '' && segs.length > 1) segs.pop(); // `/db/` is `/db`
  if (segs.length === 0 || (segs.length === 1 && segs[0] === '')) return { kind: 'root' };
  const first = decode(segs[0] as string);
  const rest = segs.slice(1);
  if (first.startsWith('_') && !SYSTEM_DBS.has(first)) return { kind: 'server', name: first, rest: rest.map(decode) };
  if (first === 'favicon.ico' && rest.length === 0) return { kind: 'server', name: first, rest: [] };
  const db = first;
  if (rest.length === 0) return { kind: 'db', db };
  const second = decode(rest[0] as string);
  const tail = rest.slice(1);

  if (second === '_design' && tail.length > 0) return designRoute(db, decode(tail[0] as string), tail.slice(1));
  if (second.startsWith('_design/')) return designRoute(db, second.slice('_design/'.length), tail);
  if (second === '_local' && tail.length > 0) return { kind: 'local', db, id: tail.map(decode).join('/') };
  if (second.startsWith('_local/')) return { kind: 'local', db, id: second.slice('_local/'.length) };
  if (second === '_shards') return { kind: 'shards', db, docId: tail.length > 0 ? tail.map(decode).join('/') : undefined };
  if (DB_SPECIALS.has(second)) return { kind: 'dbSpecial', db, name: second, rest: tail.map(decode) };
  if (tail.length === 0) return { kind: 'doc', db, docId: second };
  return { kind: 'attachment', db, docId: second, name: tail.map(decode).join('/') };
}

function designRoute(db: string, ddoc: string, tail: string[]): Route {
  if (tail.length === 0) return { kind: 'doc', db, docId: `_design/${ddoc}` };
  const what = decode(tail[0] as string);
  if (what === '_view' && tail.length >= 2) return { kind: 'view', db, ddoc, view: decode(tail[1] as string), rest: tail.slice(2).map(decode) };
  if (what === '_info' && tail.length === 1) return { kind: 'designInfo', db, ddoc };
  if (DESIGN_FUNCTIONS.has(what)) return { kind: 'designFunction', db, ddoc, fn: what, rest: tail.slice(1).map(decode) };
  return { kind: 'attachment', db, docId: `_design/${ddoc}`, name: tail.map(decode).join('/') };
}
