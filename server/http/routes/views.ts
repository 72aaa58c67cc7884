// Design-document endpoints served by the view engine: view queries, `_info`, view compaction
// and cleanup, and Mango (`_find`, `_explain`, `_index`). The engine parses the CouchDB query
// parameters and builds the response bodies; this file only reaches the database and replies.

import type Router from '@koa/router';
import type { Context } from 'koa';
import type { DesignDoc } from '../../../views/index.js';
import { CouchError } from '../../errors/catalog.js';
import { requireDbAdmin } from '../../auth/access.js';
import { designDoc, designDocs, queryDesign, queryDesignDocs } from '../../design/design-docs.js';
import { docSource } from '../../design/doc-source.js';
import { parseDoc } from '../../docs/parse-doc.js';
import type { Database, EditResult } from '../../storage/database.js';
import { readJson, requireJsonType } from '../body.js';
import { notModifiedIfCurrent, send, sendParts } from '../respond.js';
import type { Services } from '../services.js';
import { writeDocs } from '../write.js';
import { openDb, queryEtag, throwEditError } from './documents.js';

/** Rows above which a view answer streams instead of being built as one string. */
const STREAM_ROWS_MIN = 1000;

function queryMap(ctx: Context): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.query)) if (v !== undefined) out[k] = Array.isArray(v) ? (v[v.length - 1] as string) : v;
  return out;
}

/** The design document as the view engine indexes it (partitioned by default in a partitioned db), or 404. */
function requireDesign(db: Database, name: string): DesignDoc {
  const ddoc = designDoc(db, name);
  if (!ddoc) throw new CouchError('not_found', 'missing');
  return queryDesign(db, ddoc);
}

/** Saves what a Mango index change asks for, as the caller (a db admin). */
async function applyIndexChange(s: Services, ctx: Context, db: Database, change: { save: DesignDoc | null; remove: DesignDoc | null }): Promise<void> {
  const target = change.save ?? change.remove;
  if (!target) return;
  const body: Record<string, unknown> = { ...target };
  if (change.remove) body._deleted = true;
  const doc = parseDoc(body);
  const [r] = await writeDocs(s, ctx, db, [{ id: target._id, doc }], true);
  throwEditError(r as EditResult);
}

/** `update_seq=true`: the index's seq as the database's opaque sequence string. */
function opaqueSeq<T extends { update_seq?: number | string }>(db: Database, result: T): T {
  if (typeof result.update_seq === 'number') result.update_seq = db.seq.format(result.update_seq);
  return result;
}

/**
 * A view query: `/{db}/_design/{d}/_view/{v}`, or with `partition` `/{db}/_partition/{p}/_design/…`
 * (the partition travels as the `partition` parameter, as chttpd passes it on).
 */
export async function queryViewRoute(s: Services, ctx: Context, body: unknown, partition?: string): Promise<void> {
  const db = openDb(s, ctx);
  const ddoc = requireDesign(db, ctx.params.ddoc as string);
  const query = queryMap(ctx);
  if (partition !== undefined) query.partition = partition;
  // An answer that waits for the index is current while the database is unchanged; one read from
  // the index as it stands (stale/update=false|lazy) is not tied to the database, so it gets no ETag.
  if (query.stale === undefined && (query.update === undefined || query.update === 'true')) {
    s.diskMonitor.checkViewIndexing();
    if (notModifiedIfCurrent(ctx, queryEtag(db, `_view/${ddoc._id}/${ctx.params.view as string}`, query, body))) return;
  }
  const result = opaqueSeq(db, await s.views.queryView(docSource(db), ddoc, ctx.params.view as string, query, body));
  if (result.rows.length < STREAM_ROWS_MIN) return send(ctx, 200, result);
  const { rows, ...head } = result;
  const headText = JSON.stringify(head).slice(0, -1) + (Object.keys(head).length > 0 ? ',' : '') + '"rows":[\n';
  sendParts(ctx, 200, headText, rows.map((r) => JSON.stringify(r)), ',\n', '\n]}');
}

export function registerViews(router: Router, s: Services): void {
  const engine = s.views;

  const view = (ctx: Context, body: unknown) => queryViewRoute(s, ctx, body);
  // Several queries of one view in one request (CouchDB 2.2+): each member of `queries` is a set
  // of query parameters over the URL's. All are answered, in order, or the request fails.
  const multiQuery = async (ctx: Context, queries: unknown) => {
    if (!Array.isArray(queries)) throw new CouchError('bad_request', '`queries` member must be an array.');
    const db = openDb(s, ctx);
    const ddoc = requireDesign(db, ctx.params.ddoc as string);
    const results: unknown[] = [];
    for (const q of queries) results.push(opaqueSeq(db, await engine.queryView(docSource(db), ddoc, ctx.params.view as string, queryMap(ctx), q, true)));
    send(ctx, 200, { results });
  };
  router.get('/:db/_design/:ddoc/_view/:view', (ctx) => view(ctx, undefined));
  router.post('/:db/_design/:ddoc/_view/:view', async (ctx) => {
    requireJsonType(ctx);
    const body = await readJson(ctx, s.limits);
    const members = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    if (members.queries === undefined) return view(ctx, body);
    if (members.keys !== undefined) throw new CouchError('bad_request', '`keys` and `queries` are mutually exclusive');
    await multiQuery(ctx, members.queries);
  });
  router.post('/:db/_design/:ddoc/_view/:view/queries', async (ctx) => {
    requireJsonType(ctx);
    const body = await readJson(ctx, s.limits);
    const queries = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).queries : undefined;
    if (queries === undefined) throw new CouchError('bad_request', 'Request body must contain a `queries` member.');
    await multiQuery(ctx, queries);
  });

  router.get('/:db/_design/:ddoc/_info', (ctx) => {
    const db = openDb(s, ctx);
    send(ctx, 200, engine.info(docSource(db), requireDesign(db, ctx.params.ddoc as string)));
  });

  router.post('/:db/_compact/:ddoc', (ctx) => {
    const db = openDb(s, ctx);
    requireDbAdmin(db.security, ctx.state.user);
    requireJsonType(ctx);
    const ddoc = requireDesign(db, ctx.params.ddoc as string);
    void engine.compact(docSource(db), ddoc).catch((e: unknown) => console.error('view compaction failed', e));
    send(ctx, 202, { ok: true });
  });

  router.post('/:db/_view_cleanup', async (ctx) => {
    const db = openDb(s, ctx);
    requireDbAdmin(db.security, ctx.state.user);
    requireJsonType(ctx);
    await engine.cleanup(db.record.uuid, queryDesignDocs(db));
    send(ctx, 202, { ok: true });
  });

  router.post('/:db/_find', async (ctx) => {
    const db = openDb(s, ctx);
    requireJsonType(ctx);
    const body = await readJson(ctx, s.limits);
    send(ctx, 200, await engine.find(docSource(db), queryDesignDocs(db), body, { dbPartitioned: db.partitioned }));
  });

  router.post('/:db/_explain', async (ctx) => {
    const db = openDb(s, ctx);
    requireJsonType(ctx);
    const body = await readJson(ctx, s.limits);
    send(ctx, 200, engine.explain(db.name, queryDesignDocs(db), body, { dbPartitioned: db.partitioned }));
  });

  router.get('/:db/_index', (ctx) => send(ctx, 200, engine.listIndexes(queryDesignDocs(openDb(s, ctx)))));
  router.post('/:db/_index', async (ctx) => {
    const db = openDb(s, ctx);
    requireDbAdmin(db.security, ctx.state.user);
    requireJsonType(ctx);
    const change = engine.createIndex(designDocs(db), await readJson(ctx, s.limits), db.partitioned);
    await applyIndexChange(s, ctx, db, change);
    send(ctx, 200, change.response);
  });
  const dropIndex = async (ctx: Context, ddocName: string) => {
    const db = openDb(s, ctx);
    requireDbAdmin(db.security, ctx.state.user);
    const change = engine.deleteIndex(designDocs(db), ddocName, ctx.params.type as string, ctx.params.name as string);
    await applyIndexChange(s, ctx, db, change);
    send(ctx, 200, change.response);
  };
  router.delete('/:db/_index/_design/:ddoc/:type/:name', (ctx) => dropIndex(ctx, ctx.params.ddoc as string));
  router.delete('/:db/_index/:ddoc/:type/:name', (ctx) => dropIndex(ctx, ctx.params.ddoc as string));
}
