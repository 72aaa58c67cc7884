// Documents, attachments and `_local` docs. Reads go to one replica of the owning range
// (with failover) and are passed through byte for byte (JSON, multipart, attachment bytes);
// writes go through writes/doc-writer.ts (leader, then copies); `_local` docs through
// local/local-docs.ts.

import type { Handler, Req } from '../app.js';
import type { Route } from '../route-path.js';
import { badRequest, LoungeError, methodNotAllowed } from '../../errors/lounge-error.js';
import { dbPath, docPath } from '../../upstream/node-client.js';
import { newDocId, type DocWrite } from '../../writes/doc-writer.js';
import { isJsonType, parseJson, readRaw, requireJsonType } from '../body.js';
import { passThrough, send, sendBuffered } from '../respond.js';
import { parseR } from '../../reads/quorum-read.js';
import { prepareUserDoc } from './users.js';

/** Request headers a node needs to answer a document request the way the client asked. */
const FORWARDED = ['accept', 'content-type', 'if-none-match', 'if-match', 'accept-encoding', 'range', 'destination'];

function forwardHeaders(req: Req): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of FORWARDED) {
    const v = req.ctx.get(h);
    if (v) out[h] = v;
  }
  return out;
}

function location(req: Req, db: string, id: string, att?: string): string {
  return `${req.ctx.protocol}://${req.ctx.host}/${encodeURIComponent(db)}/${docPath(id)}${att !== undefined ? '/' + att.split('/').map(encodeURIComponent).join('/') : ''}`;
}

/**
 * Streams a read of `sub` (below the shard) from one replica of the doc's range; a document
 * GET asks `r` replicas (reads/quorum-read.ts) unless `?r=1`, a `rev`/`open_revs` read, or a
 * multipart answer was asked for.
 */
async function readThrough(req: Req, db: string, docId: string, sub: string, doc = false): Promise<void> {
  const { ctx, lounge } = req;
  const range = lounge.map.rangeOf(docId, db);
  const search = ctx.querystring ? `?${ctx.querystring}` : '';
  if (doc && ctx.method === 'GET') {
    const q = new URLSearchParams(ctx.querystring);
    const r = parseR(q.get('r'), lounge.config.n, lounge.config.r);
    if (r > 1 && !q.has('rev') && !q.has('open_revs') && !(ctx.get('accept') || '').includes('multipart')) {
      sendBuffered(ctx, await lounge.quorum.read(db, docId, range, search, forwardHeaders(req), r));
      return;
    }
  }
  const res = await lounge.reader.request(db, range, () => ({
    method: ctx.method === 'HEAD' ? 'HEAD' : 'GET',
    path: `${dbPath(lounge.map.shardName(range, db))}/${sub}${search}`,
    headers: forwardHeaders(req),
  }));
  await passThrough(ctx, res);
}

function revFrom(req: Req, body: Record<string, unknown> | undefined): string | undefined {
  const q = new URLSearchParams(req.ctx.querystring);
  if (body && typeof body._rev === 'string') return body._rev;
  const r = q.get('rev');
  if (r) return r;
  const m = req.ctx.get('if-match');
  return m ? m.replace(/^"|"$/g, '') : undefined;
}

async function write(req: Req, db: string, docId: string, method: string, att: string | undefined, raw: Buffer | undefined): Promise<void> {
  const { ctx, lounge } = req;
  let body = raw;
  let json: Record<string, unknown> | undefined;
  if (raw && att === undefined && isJsonType(ctx)) {
    const parsed = parseJson(raw);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      json = parsed as Record<string, unknown>;
      if (db === '_users') {
        json = prepareUserDoc(json) as Record<string, unknown>;
        body = Buffer.from(JSON.stringify(json));
      }
    }
  }
  const q = new URLSearchParams(ctx.querystring);
  const w: DocWrite = {
    db,
    docId,
    method,
    subPath: att === undefined ? docPath(docId) : `${docPath(docId)}/${att.split('/').map(encodeURIComponent).join('/')}`,
    search: ctx.querystring ? `?${ctx.querystring}` : '',
    headers: forwardHeaders(req),
    body,
    json,
    parentRev: revFrom(req, json),
    attachment: att !== undefined,
    replicated: q.get('new_edits') === 'false',
  };
  const out = await lounge.writer.write(w);
  if (docId.startsWith('_design/')) lounge.designWritten(db, docId);
  if (out.etag) ctx.set('ETag', out.etag);
  if (method === 'PUT' || method === 'POST') ctx.set('Location', location(req, db, docId, att));
  send(ctx, out.status, out.body);
}

/** `COPY /db/src` with a `Destination` header: read the source, write it as the destination. */
async function copyDoc(req: Req, db: string, srcId: string): Promise<void> {
  const { ctx, lounge } = req;
  const dest = ctx.get('destination');
  if (!dest) throw badRequest('Destination header is mandatory for COPY.');
  const [destIdRaw, destQuery] = dest.split('?', 2) as [string, string | undefined];
  const destId = decodeURIComponent(destIdRaw);
  const destRev = destQuery ? new URLSearchParams(destQuery).get('rev') : null;
  const range = lounge.map.rangeOf(srcId, db);
  const search = new URLSearchParams(ctx.querystring);
  search.set('attachments', 'true');
  const { body } = await lounge.reader.json<Record<string, unknown>>(db, range, () => ({
    method: 'GET',
    path: `${dbPath(lounge.map.shardName(range, db))}/${docPath(srcId)}?${search.toString()}`,
  }));
  const doc: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (k !== '_id' && k !== '_rev' && k !== '_revisions') doc[k] = v;
  if (destRev) doc._rev = destRev;
  const atts = doc._attachments as Record<string, Record<string, unknown>> | undefined;
  if (atts) for (const a of Object.values(atts)) for (const k of ['revpos', 'digest', 'length', 'stub']) delete a[k];
  const raw = Buffer.from(JSON.stringify(doc));
  const out = await lounge.writer.write({
    db,
    docId: destId,
    method: 'PUT',
    subPath: docPath(destId),
    search: '',
    headers: { 'content-type': 'application/json' },
    body: raw,
    json: doc,
    parentRev: destRev ?? undefined,
    attachment: false,
    replicated: false,
  });
  if (out.etag) ctx.set('ETag', out.etag);
  ctx.set('Location', location(req, db, destId));
  send(ctx, out.status, out.body);
}

export const docHandler: Handler<'doc'> = async (req) => {
  const { ctx, route } = req;
  switch (ctx.method) {
    case 'GET':
    case 'HEAD':
      return readThrough(req, route.db, route.docId, docPath(route.docId), true);
    case 'PUT':
      return write(req, route.db, route.docId, 'PUT', undefined, await readRaw(ctx));
    case 'DELETE':
      return write(req, route.db, route.docId, 'DELETE', undefined, undefined);
    case 'COPY':
      return copyDoc(req, route.db, route.docId);
    case 'POST':
      if (route.docId.startsWith('_design/')) throw methodNotAllowed('DELETE,GET,HEAD,PUT,COPY');
      throw methodNotAllowed('DELETE,GET,HEAD,POST,PUT,COPY');
    default:
      throw methodNotAllowed('DELETE,GET,HEAD,POST,PUT,COPY');
  }
};

/** `POST /db`: a new document; the lounge picks the id if the body has none. */
export async function postDoc(req: Req<Extract<Route, { kind: 'db' }>>): Promise<void> {
  const { ctx, route } = req;
  requireJsonType(ctx);
  const raw = await readRaw(ctx);
  const parsed = parseJson(raw);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new LoungeError(400, 'bad_request', 'Document must be a JSON object');
  const doc = parsed as Record<string, unknown>;
  if (doc._id !== undefined && typeof doc._id !== 'string') throw new LoungeError(400, 'illegal_docid', 'Document id must be a string');
  const id = (doc._id as string | undefined) ?? newDocId();
  if (id.startsWith('_local/')) {
    const answer = await req.lounge.locals.write(route.db, id.slice('_local/'.length), 'PUT', '', { 'content-type': 'application/json' }, raw);
    send(ctx, 201, answer.body);
    return;
  }
  const body = doc._id === undefined ? Buffer.from(JSON.stringify({ _id: id, ...doc })) : raw;
  return write(req, route.db, id, 'PUT', undefined, body);
}

export const attachmentHandler: Handler<'attachment'> = async (req) => {
  const { ctx, route } = req;
  const sub = `${docPath(route.docId)}/${route.name.split('/').map(encodeURIComponent).join('/')}`;
  switch (ctx.method) {
    case 'GET':
    case 'HEAD':
      return readThrough(req, route.db, route.docId, sub);
    case 'PUT':
      return write(req, route.db, route.docId, 'PUT', route.name, await readRaw(ctx));
    case 'DELETE':
      return write(req, route.db, route.docId, 'DELETE', route.name, undefined);
    default:
      throw methodNotAllowed('DELETE,GET,HEAD,PUT');
  }
};

export const localHandler: Handler<'local'> = async ({ ctx, lounge, route }) => {
  const search = ctx.querystring ? `?${ctx.querystring}` : '';
  switch (ctx.method) {
    case 'GET':
    case 'HEAD': {
      const a = await lounge.locals.get(route.db, route.id, search);
      send(ctx, a.status, a.body);
      return;
    }
    case 'PUT':
    case 'DELETE': {
      const raw = ctx.method === 'PUT' ? await readRaw(ctx) : undefined;
      if (raw) parseJson(raw);
      const headers: Record<string, string> = { 'content-type': ctx.get('content-type') || 'application/json' };
      const a = await lounge.locals.write(route.db, route.id, ctx.method, search, headers, raw);
      if (ctx.method === 'PUT') ctx.set('Location', `${ctx.protocol}://${ctx.host}/${encodeURIComponent(route.db)}/${encodeURIComponent('_local/' + route.id)}`);
      send(ctx, a.status, a.body);
      return;
    }
    default:
      throw methodNotAllowed('DELETE,GET,HEAD,PUT,COPY');
  }
};
