// The batch endpoints: `_bulk_docs` (writes, see writes/doc-writer.ts), and the reads the
// replication protocol makes in bulk — `_bulk_get`, `_revs_diff`, `_missing_revs` — split
// by range, each range asked once (one replica, with failover), and put back together in
// request order.

import type { Req } from '../app.js';
import type { Route } from '../route-path.js';
import type { Range } from '../../placement/ranges.js';
import { badRequest, methodNotAllowed } from '../../errors/lounge-error.js';
import { isDbAdmin } from '../../auth/access.js';
import { dbPath } from '../../upstream/node-client.js';
import { readJsonObject, requireJsonType } from '../body.js';
import { send } from '../respond.js';
import { prepareUserDoc } from './users.js';

type Special = Req<Extract<Route, { kind: 'dbSpecial' }>>;

/** Most docs in one `_bulk_docs`/`_bulk_get` (CouchDB's `max_bulk_docs_count`). */
const BULK_DOCS_MAX = 10_000;

export async function bulkDocs(req: Special): Promise<void> {
  const { ctx, lounge, route, user } = req;
  if (ctx.method !== 'POST') throw methodNotAllowed('POST');
  requireJsonType(ctx);
  const body = await readJsonObject(ctx);
  if (Array.isArray(body.docs) && body.docs.length > BULK_DOCS_MAX) throw badRequest(`too many docs: at most ${BULK_DOCS_MAX} per request`);
  let denied: { i: number; row: unknown }[] = [];
  if (Array.isArray(body.docs)) {
    // Design docs need a db admin: the nodes only see the lounge's service credential.
    const sec = body.docs.some((d) => typeof (d as { _id?: unknown })?._id === 'string' && String((d as { _id: string })._id).startsWith('_design/'))
      ? await lounge.security.get(route.db)
      : {};
    const keep: unknown[] = [];
    body.docs.forEach((d, i) => {
      const id = (d as { _id?: unknown })?._id;
      if (typeof id === 'string' && id.startsWith('_design/') && !isDbAdmin(user, sec)) {
        denied.push({ i, row: { id, error: 'unauthorized', reason: 'You are not a db or server admin.' } });
      } else keep.push(route.db === '_users' ? prepareUserDoc(d) : d);
    });
    body.docs = keep;
  }
  const { status, rows } = await lounge.writer.bulk(route.db, body);
  for (const d of body.docs as { _id?: unknown }[]) if (typeof d._id === 'string' && d._id.startsWith('_design/')) lounge.designWritten(route.db, d._id);
  if (denied.length > 0) {
    const out = [...rows];
    denied = denied.sort((a, b) => a.i - b.i);
    // With new_edits=true every doc has a row, so a refused doc goes back to its place;
    // a replicated batch lists only failures.
    for (const d of denied) {
      if (body.new_edits === false) out.push(d.row);
      else out.splice(d.i, 0, d.row);
    }
    send(ctx, status, out);
    return;
  }
  send(ctx, status, rows);
}

export async function bulkGet(req: Special): Promise<void> {
  const { ctx, lounge, route } = req;
  if (ctx.method !== 'POST') throw methodNotAllowed('POST');
  requireJsonType(ctx);
  const body = await readJsonObject(ctx);
  const docs = body.docs;
  if (!Array.isArray(docs)) throw badRequest('Missing JSON list of \'docs\'.');
  if (docs.length > BULK_DOCS_MAX) throw badRequest(`too many docs: at most ${BULK_DOCS_MAX} per request`);
  const groups = new Map<string, { range: Range; docs: unknown[]; at: number[] }>();
  const results: unknown[] = new Array(docs.length);
  docs.forEach((d, i) => {
    const id = (d as { id?: unknown })?.id;
    if (typeof id !== 'string') {
      results[i] = { id: id ?? null, docs: [{ error: { id: id ?? null, rev: null, error: 'bad_request', reason: 'document id missed' } }] };
      return;
    }
    const range = lounge.map.rangeOf(id, route.db);
    let g = groups.get(range.name);
    if (!g) groups.set(range.name, (g = { range, docs: [], at: [] }));
    g.docs.push(d);
    g.at.push(i);
  });
  const search = ctx.querystring ? `?${ctx.querystring}` : '';
  await Promise.all(
    [...groups.values()].map(async (g) => {
      const { body: answer } = await lounge.reader.json<{ results: unknown[] }>(route.db, g.range, () => ({
        method: 'POST',
        path: `${dbPath(lounge.map.shardName(g.range, route.db))}/_bulk_get${search}`,
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ docs: g.docs }),
      }));
      answer.results.forEach((r, j) => {
        const i = g.at[j];
        if (i !== undefined) results[i] = r;
      });
    }),
  );
  send(ctx, 200, { results });
}

export async function revsDiff(req: Special, name: '_revs_diff' | '_missing_revs'): Promise<void> {
  const { ctx, lounge, route } = req;
  if (ctx.method !== 'POST') throw methodNotAllowed('POST');
  requireJsonType(ctx);
  const body = await readJsonObject(ctx);
  const groups = new Map<string, { range: Range; part: Record<string, unknown> }>();
  for (const [id, revs] of Object.entries(body)) {
    const range = lounge.map.rangeOf(id, route.db);
    let g = groups.get(range.name);
    if (!g) groups.set(range.name, (g = { range, part: {} }));
    g.part[id] = revs;
  }
  const merged: Record<string, unknown> = {};
  await Promise.all(
    [...groups.values()].map(async (g) => {
      const { body: answer } = await lounge.reader.json<Record<string, unknown>>(route.db, g.range, () => ({
        method: 'POST',
        path: `${dbPath(lounge.map.shardName(g.range, route.db))}/${name}`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(g.part),
      }));
      const part = name === '_missing_revs' ? ((answer.missing_revs ?? {}) as Record<string, unknown>) : answer;
      Object.assign(merged, part);
    }),
  );
  // Keep the request's id order, as a single node answers.
  const ordered: Record<string, unknown> = {};
  for (const id of Object.keys(body)) if (id in merged) ordered[id] = merged[id];
  send(ctx, 200, name === '_missing_revs' ? { missing_revs: ordered } : ordered);
}
