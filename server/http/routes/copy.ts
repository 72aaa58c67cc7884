// `COPY /{db}/{docid}` (design and `_local` docs too): writes the source document's body and
// attachments under the id the `Destination` header names, after chttpd_db's COPY clause and
// chttpd_util:parse_copy_destination_header/1. The source revision comes from `?rev=` or
// `If-Match`; `Destination: newid?rev=N-x` names the target revision the copy replaces, and without
// it an existing target is a 409 conflict, as for any edit. The copy is an ordinary edit of the
// target (write guards and validate_doc_update run), so nothing new is stored for attachments: the
// target's stubs point at the bytes the source already has.

import type Router from '@koa/router';
import type { Context } from 'koa';
import { CouchError } from '../../errors/catalog.js';
import { docKind, validateDocId } from '../../docs/doc-id.js';
import { stubInputs, type AttInput } from '../../docs/attachments.js';
import type { ParsedDoc } from '../../docs/parse-doc.js';
import { findRev, parseRev } from '../../revtree/index.js';
import type { Database, EditResult } from '../../storage/database.js';
import { send } from '../respond.js';
import type { Services } from '../services.js';
import { writeDocs } from '../write.js';
import { checkDocWrite, location, openDb, requestRev, throwEditError } from './documents.js';

export function registerCopy(router: Router, s: Services): void {
  const copy = (path: string, idOf: (ctx: Context) => string) => router.register(path, ['COPY'], (ctx) => copyDoc(ctx, s, idOf(ctx)));
  copy('/:db/_local/:id', (ctx) => '_local/' + (ctx.params.id as string));
  copy('/:db/_design/:ddoc', (ctx) => '_design/' + (ctx.params.ddoc as string));
  copy('/:db/:docid', (ctx) => ctx.params.docid as string);
}

/** The parsed `Destination` header: the target id and, when given, the target revision to replace. */
export function parseDestination(header: string | undefined): { id: string; rev?: string } {
  if (header === undefined || header === '') throw new CouchError('bad_request', 'Destination header is mandatory for COPY.');
  if (/^https?:\/\//.test(header)) throw new CouchError('bad_request', 'Destination URL must be relative.');
  const q = header.indexOf('?');
  if (q === -1) return { id: unquote(header) };
  // CouchDB takes whatever follows the first '=' as the revision, whatever the parameter's name.
  const query = header.slice(q + 1);
  const eq = query.indexOf('=');
  const rev = eq === -1 ? '' : query.slice(eq + 1);
  if (parseRev(rev) === null) throw new CouchError('invalid_rev');
  return { id: unquote(header.slice(0, q)), rev };
}

/**
 * mochiweb_util:unquote/1: `+` is a space and `%XX` a byte. Node hands header values over as
 * latin-1, one char per byte, so the bytes are rebuilt and read as UTF-8.
 */
function unquote(value: string): string {
  const bytes = Buffer.from(value.replace(/\+/g, ' '), 'latin1');
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === 0x25 /* % */ && i + 2 < bytes.length && /^[0-9a-fA-F]{2}$/.test(bytes.toString('latin1', i + 1, i + 3))) {
      out.push(parseInt(bytes.toString('latin1', i + 1, i + 3), 16));
      i += 2;
    } else out.push(b);
  }
  return Buffer.from(out).toString('utf8');
}

interface Source {
  json: string;
  deleted: boolean;
  attachments: AttInput[];
}

async function copyDoc(ctx: Context, s: Services, sourceId: string): Promise<void> {
  const db = openDb(s, ctx);
  const sourceRev = requestRev(ctx, undefined);
  const dest = parseDestination(ctx.get('destination') || undefined);
  const source = readSource(db, sourceId, sourceRev);
  const targetId = validateDocId(dest.id);
  const doc: ParsedDoc = { deleted: source.deleted, json: source.json, body: JSON.parse(source.json) as Record<string, unknown> };
  if (dest.rev !== undefined) doc.rev = dest.rev;
  if (docKind(targetId) === 'local') {
    const rev = await db.putLocal(targetId, doc);
    ctx.set('Location', location(ctx, db.name, targetId));
    return send(ctx, 201, { ok: true, id: targetId, rev });
  }
  checkDocWrite(db, ctx, targetId);
  if (source.attachments.length > 0) doc.attachments = source.attachments;
  const [r] = await writeDocs(s, ctx, db, [{ id: targetId, doc }], true);
  throwEditError(r as EditResult);
  const rev = (r as { rev: string }).rev;
  ctx.set('Location', location(ctx, db.name, targetId));
  ctx.set('ETag', `"${rev}"`);
  send(ctx, 201, { ok: true, id: targetId, rev });
}

/** The source revision's body and attachment stubs, or CouchDB's 404 (couch_doc_open). */
function readSource(db: Database, id: string, rev: string | undefined): Source {
  if (docKind(id) === 'local') {
    const local = db.localDoc(id);
    if (!local || (rev !== undefined && rev !== `0-${local.rev}`)) throw new CouchError('not_found', 'missing');
    return { json: local.json, deleted: false, attachments: [] };
  }
  const info = db.docInfo(id);
  if (!info) throw new CouchError('not_found', 'missing');
  let wanted = rev;
  if (wanted === undefined) {
    if (info.deleted) throw new CouchError('not_found', 'deleted');
    wanted = info.rev;
  }
  const parsed = parseRev(wanted);
  if (!parsed) throw new CouchError('invalid_rev');
  const node = findRev(info.tree, parsed);
  const body = node?.available ? db.body(id, wanted, info) : undefined;
  if (!node || !body) throw new CouchError('not_found', 'missing');
  return { json: body.json, deleted: node.deleted, attachments: stubInputs(body.atts) };
}
