// `_all_docs`, `_design_docs` and `_local_docs` through the lounge.
//
// It guarantees CouchDB's answer for the whole database:
// - without `keys`: every range is read (skip=0, limit=skip+limit), rows are merged by the
//   raw UTF-8 byte order of ids (CouchDB orders `_all_docs` by raw id, not collation), the
//   design-doc copies kept on non-home ranges are hidden, and skip/limit apply at the proxy;
//   `total_rows` and `offset` are the sums over ranges without those copies;
// - with `keys`: each key is asked of the range that owns it, and rows come back in the
//   order of the key list (missing ones as `{"key":…,"error":"not_found"}`), skip/limit
//   applied to that list, `offset` null as CouchDB answers;
// - `update_seq=true` gives a since token for the whole database.

import type { Lounge } from '../lounge.js';
import type { Range } from '../placement/ranges.js';
import { badRequest, LoungeError } from '../errors/lounge-error.js';
import { dbPath } from '../upstream/node-client.js';
import { mergeSorted } from '../merge/k-way-merge.js';
import { idOrder, window, type ViewRow } from '../merge/view-rows.js';
import { encodeSince } from '../changes/since-token.js';
import { compareIds } from '../../views/index.js';
import { openEach } from './fan-out.js';
import { leadingId } from '../wire/row-fields.js';

export type AllDocsKind = '_all_docs' | '_design_docs' | '_local_docs';

export interface ListAnswer {
  head: string;
  rows: AsyncIterable<string>;
  tail: () => string;
}

/** Parameters the proxy applies itself rather than passing to the shards. */
const PROXY_PARAMS = new Set(['skip', 'limit', 'keys', 'update_seq']);

/** `skip`/`limit` as CouchDB parses them (couch_mrview_http), with its error texts. */
export function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n)) throw new LoungeError(400, 'query_parse_error', `Invalid value for integer: "${v}"`);
  if (n < 0) throw new LoungeError(400, 'query_parse_error', `Invalid value for positive integer: "${v}"`);
  return n;
}

function jsonParam(q: URLSearchParams, name: string): unknown {
  const v = q.get(name);
  if (v === null) return undefined;
  try {
    return JSON.parse(v);
  } catch {
    throw badRequest(`Invalid JSON for ${name}`);
  }
}

export async function allDocs(lounge: Lounge, db: string, kind: AllDocsKind, q: URLSearchParams, bodyKeys: unknown[] | undefined): Promise<ListAnswer> {
  const keys = bodyKeys ?? (jsonParam(q, 'keys') as unknown[] | undefined);
  if (keys !== undefined && !Array.isArray(keys)) throw badRequest('`keys` member must be an array.');
  const skip = intParam(q, 'skip') ?? 0;
  const limit = intParam(q, 'limit');
  const descending = q.get('descending') === 'true';
  const wantSeq = q.get('update_seq') === 'true';
  const pass: [string, string][] = [...q.entries()].filter(([k]) => !PROXY_PARAMS.has(k));

  if (keys) return keyed(lounge, db, kind, keys, pass, skip, limit);

  const upstream = new URLSearchParams(pass);
  if (limit !== undefined) upstream.set('limit', String(skip + limit));
  if (wantSeq) upstream.set('update_seq', 'true');
  const hideCopies = kind !== '_local_docs';
  const [opened, foreign] = await Promise.all([
    openEach(
      lounge,
      db,
      lounge.map.ranges,
      (range) => ({ method: 'GET', path: `${dbPath(lounge.map.shardName(range, db))}/${kind}?${upstream.toString()}` }),
      ['rows'],
      (range) => (row) => !(hideCopies && typeof row.id === 'string' && lounge.map.isForeignDesignCopy(row.id, range)),
      idOnly,
    ),
    kind === '_local_docs' ? Promise.resolve([] as string[][]) : Promise.all(lounge.map.ranges.map((r) => lounge.designCopies.foreign(db, r))),
  ]);
  let total = 0;
  let offset = 0;
  for (const o of opened) {
    if (typeof o.rows.meta.total_rows === 'number') total += o.rows.meta.total_rows;
    if (typeof o.rows.meta.offset === 'number') offset += o.rows.meta.offset;
  }
  const copies = foreign.flat();
  total -= copies.length;
  const start = (jsonParam(q, 'startkey') ?? jsonParam(q, 'start_key') ?? jsonParam(q, 'startkey_docid')) as unknown;
  if (typeof start === 'string') offset -= copies.filter((id) => (descending ? compareIds(id, start) > 0 : compareIds(id, start) < 0)).length;
  offset = Math.max(0, Math.min(total, offset + skip));

  let seqPart = '';
  if (wantSeq) {
    const entries = await Promise.all(
      opened.map(async (o) => ({ range: o.range.name, node: o.rows.node, seq: o.rows.meta.update_seq ?? 0, uuid: await lounge.instances.get(o.rows.node, lounge.map.shardName(o.range, db)) })),
    );
    seqPart = `"update_seq":${JSON.stringify(encodeSince(entries))},`;
  }
  const merged = mergeSorted(opened.map((o) => o.rows), idOrder(descending));
  async function* texts(): AsyncGenerator<string> {
    for await (const r of window(merged, skip, limit)) yield r.item.text;
  }
  return { head: `{"total_rows":${total},"offset":${offset},${seqPart}"rows":[`, rows: texts(), tail: () => ']}' };
}

/** The merge of `_all_docs` needs only ids: rows (maybe carrying whole docs) are not parsed. */
function idOnly(text: string): ViewRow['row'] {
  const id = leadingId(text);
  return id !== undefined ? { id, key: id } : (JSON.parse(text) as ViewRow['row']);
}

async function keyed(lounge: Lounge, db: string, kind: AllDocsKind, keys: unknown[], pass: [string, string][], skip: number, limit: number | undefined): Promise<ListAnswer> {
  const groups = new Map<string, { range: Range; keys: string[]; at: number[] }>();
  keys.forEach((k, i) => {
    if (typeof k !== 'string') return;
    const range = lounge.map.rangeOf(k, db);
    let g = groups.get(range.name);
    if (!g) groups.set(range.name, (g = { range, keys: [], at: [] }));
    g.keys.push(k);
    g.at.push(i);
  });
  const out: string[] = keys.map((k) => JSON.stringify({ key: k, error: 'not_found' }));
  const upstream = new URLSearchParams(pass).toString();
  let total = 0;
  // Ranges without a key are still asked for their size (total_rows), with an empty key list.
  const ranges = lounge.map.ranges;
  const [answers, foreign] = await Promise.all([
    Promise.all(
      ranges.map(async (range) => {
        const g = groups.get(range.name);
        const { body } = await lounge.reader.json<{ total_rows?: number; rows: unknown[] }>(db, range, () => ({
          method: 'POST',
          path: `${dbPath(lounge.map.shardName(range, db))}/${kind}${upstream ? `?${upstream}` : ''}`,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ keys: g?.keys ?? [] }),
        }));
        return { g, body };
      }),
    ),
    kind === '_local_docs' ? Promise.resolve([] as string[][]) : Promise.all(ranges.map((r) => lounge.designCopies.foreign(db, r))),
  ]);
  // CouchDB sends `doc` only with include_docs; some nodes (pouchdb-server) add `"doc":null` to deleted rows.
  const withDocs = pass.some(([k, v]) => k === 'include_docs' && v === 'true');
  for (const { g, body } of answers) {
    if (typeof body.total_rows === 'number') total += body.total_rows;
    if (!g) continue;
    body.rows.forEach((row, j) => {
      const i = g.at[j];
      if (i === undefined) return;
      if (!withDocs && row !== null && typeof row === 'object' && 'doc' in row) {
        const { doc: _doc, ...rest } = row as Record<string, unknown>;
        out[i] = JSON.stringify(rest);
      } else out[i] = JSON.stringify(row);
    });
  }
  total -= foreign.flat().length;
  const rows = out.slice(skip, limit === undefined ? undefined : skip + limit);
  async function* texts(): AsyncGenerator<string> {
    yield* rows;
  }
  return { head: `{"total_rows":${total},"offset":null,"rows":[`, rows: texts(), tail: () => ']}' };
}

export type { ViewRow };
