// MIME multipart, as CouchDB's own replicator speaks it: it pushes documents with attachments as
// `PUT /db/doc?new_edits=false` with a multipart/related body (the JSON first, with
// `"follows": true` stubs, then one part per attachment), and asks for `open_revs` with
// `Accept: multipart/mixed`. Bodies here are already in memory (bounded by the request limit).

import { randomBytes } from 'node:crypto';
import { CouchError } from '../errors/catalog.js';
import type { AttStub } from '../docs/attachments.js';
import type { Database } from '../storage/database.js';

export interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

export function boundaryOf(contentType: string): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

/**
 * Splits a multipart body as RFC 2046 lays it out: a delimiter is CRLF "--" boundary (the first
 * may open the body without the CRLF), the CRLF before a delimiter belongs to it and not to the
 * part, and a part is its header lines, an empty line, then its body. A part with no headers
 * starts with that empty line. So a body holding CRLFs, blank lines or "--" keeps every byte.
 */
export function parseMultipart(body: Buffer, boundary: string): Part[] {
  const delimiter = Buffer.from('\r\n--' + boundary);
  const parts: Part[] = [];
  // The first delimiter: at the very start (without its CRLF), or after a preamble.
  let pos: number;
  if (body.subarray(0, delimiter.length - 2).equals(delimiter.subarray(2))) pos = delimiter.length - 2;
  else {
    const at = body.indexOf(delimiter);
    if (at < 0) throw new CouchError('bad_request', 'multipart body without its boundary');
    pos = at + delimiter.length;
  }
  for (;;) {
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // the close delimiter, "--"
    // Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) throw new CouchError('bad_request', 'malformed multipart delimiter');
    pos += 2;
    const next = body.indexOf(delimiter, pos);
    if (next < 0) throw new CouchError('bad_request', 'multipart body is truncated');
    const chunk = body.subarray(pos, next);
    let headerText = '';
    let content: Buffer;
    if (chunk[0] === 0x0d && chunk[1] === 0x0a) content = chunk.subarray(2); // no header lines
    else {
      const split = chunk.indexOf('\r\n\r\n');
      if (split < 0) throw new CouchError('bad_request', 'multipart part without the empty line after its headers');
      headerText = chunk.subarray(0, split).toString('latin1');
      content = chunk.subarray(split + 4);
    }
    const headers: Record<string, string> = {};
    for (const line of headerText.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, body: content });
    pos = next + delimiter.length;
  }
  return parts;
}

/**
 * Turns a multipart/related document upload into the JSON document, each `follows: true`
 * attachment given its part's bytes as a Buffer in `data` (which JSON can never produce, so
 * docs/attachments.ts knows them from inline base64: a part marked `"encoding": "gzip"` is
 * stored as it came). Attachments take the following parts in order (matched by filename when
 * the part names one).
 */
export function documentFromMultipart(body: Buffer, contentType: string, parseJson: (b: Buffer) => unknown): unknown {
  const boundary = boundaryOf(contentType);
  if (!boundary) throw new CouchError('bad_request', 'multipart/related without a boundary');
  const parts = parseMultipart(body, boundary);
  const first = parts.shift();
  if (!first) throw new CouchError('bad_request', 'empty multipart body');
  const doc = parseJson(first.body) as Record<string, unknown>;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new CouchError('bad_request', 'Document must be a JSON object');
  const atts = doc._attachments as Record<string, Record<string, unknown>> | undefined;
  if (!atts) return doc;
  const byName = new Map<string, Part>();
  const unnamed: Part[] = [];
  for (const p of parts) {
    const name = /filename="([^"]*)"/.exec(p.headers['content-disposition'] ?? '')?.[1];
    if (name !== undefined) byName.set(decodeURIComponent(name), p);
    else unnamed.push(p);
  }
  for (const [name, att] of Object.entries(atts)) {
    if (att.follows !== true) continue;
    const part = byName.get(name) ?? unnamed.shift();
    if (!part) throw new CouchError('bad_request', `attachment ${name} has follows:true but no part`);
    const { follows: _f, ...rest } = att;
    void _f;
    atts[name] = { ...rest, data: part.body };
  }
  return doc;
}

/** One attachment sent as its own part: its stored bytes (gzip ones as stored, with `Content-Encoding`). */
export interface FollowingAtt {
  name: string;
  contentType: string;
  bytes: Buffer;
  encoding?: 'gzip' | undefined;
}

/** Collects the attachments a multipart answer sends (a `follow` callback of docs/read.ts), with their stored bytes. */
export function followingAtts(db: Database, into: FollowingAtt[]): (name: string, stub: AttStub) => void {
  return (name, stub) => {
    const bytes = db.storedAttachment(stub);
    if (!bytes) throw new CouchError('not_found', `attachment ${name} has no stored data`);
    into.push({ name, contentType: stub.content_type, bytes, encoding: stub.encoding });
  };
}

/** A boundary as couch_uuids:random() makes them: 32 hex digits. */
export function newBoundary(): string {
  return randomBytes(16).toString('hex');
}

/**
 * couch_httpd_multipart:encode_multipart_stream: the JSON document (its attachments `"follows":
 * true` stubs) as the first part, then one part per attachment with its Content-Disposition,
 * Content-Type, Content-Length and, when sent as stored compressed, Content-Encoding. With no
 * attachment to send CouchDB answers the bare JSON, so callers send JSON then.
 */
export function relatedBody(json: string, atts: FollowingAtt[], boundary: string): { contentType: string; body: Buffer } {
  const chunks: Buffer[] = [Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n`), Buffer.from(json), Buffer.from(`\r\n--${boundary}`)];
  for (const att of atts) {
    let head = `\r\nContent-Disposition: attachment; filename="${att.name}"\r\nContent-Type: ${att.contentType}\r\nContent-Length: ${att.bytes.length}`;
    if (att.encoding) head += `\r\nContent-Encoding: ${att.encoding}`;
    chunks.push(Buffer.from(head + '\r\n\r\n'), att.bytes, Buffer.from(`\r\n--${boundary}`));
  }
  chunks.push(Buffer.from('--'));
  return { contentType: `multipart/related; boundary="${boundary}"`, body: Buffer.concat(chunks) };
}

/**
 * Whether an Accept header lists `type` (or its `major/*`) with a q above 0, as mochiweb's
 * accepts_content_type decides. Unlike mochiweb, a missing Accept or a bare `*\/*` does not count:
 * clients that did not ask for multipart (curl, browsers) keep getting JSON.
 */
export function acceptsType(accept: string, type: string): boolean {
  const major = type.split('/')[0] + '/*';
  for (const entry of accept.split(',')) {
    const [name, ...params] = entry.split(';').map((x) => x.trim().toLowerCase());
    if (name !== type && name !== major) continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

/** An `open_revs` revision in a multipart/mixed answer: its JSON alone, or a nested multipart/related with its attachments. */
export type MixedItem = { ok: string; atts?: FollowingAtt[] } | { missing: string };

/**
 * A multipart/mixed answer to `open_revs` (chttpd_db:send_docs_multipart): one part per
 * revision, a revision with attachments to send as a multipart/related part of its own (all
 * sharing one inner boundary), error parts for missing ones.
 */
export function multipartMixed(items: MixedItem[]): { contentType: string; body: Buffer } {
  const boundary = newBoundary();
  const inner = newBoundary();
  const chunks: Buffer[] = [Buffer.from(`--${boundary}`)];
  for (const item of items) {
    if ('missing' in item) {
      chunks.push(Buffer.from(`\r\nContent-Type: application/json; error="true"\r\n\r\n${JSON.stringify({ missing: item.missing })}`));
    } else if (item.atts && item.atts.length > 0) {
      const related = relatedBody(item.ok, item.atts, inner);
      chunks.push(Buffer.from(`\r\nContent-Type: ${related.contentType}\r\n\r\n`), related.body);
    } else {
      chunks.push(Buffer.from(`\r\nContent-Type: application/json\r\n\r\n${item.ok}`));
    }
    chunks.push(Buffer.from(`\r\n--${boundary}`));
  }
  chunks.push(Buffer.from('--'));
  return { contentType: `multipart/mixed; boundary="${boundary}"`, body: Buffer.concat(chunks) };
}

/** A `_bulk_get` revision with the attachments that follow it, or an error part's JSON. */
export type BulkGetPart = { id: string; rev: string; json: string; atts: FollowingAtt[]; boundary: string } | { error: Record<string, unknown> };

/**
 * A multipart `_bulk_get` answer (chttpd_db:send_docs_multipart_bulk_get): boundaries are
 * `--` + a uuid, every part opens with CRLF + delimiter; a revision without attachments to send
 * is an application/json part, one with them a multipart/related part of its own headed
 * `X-Doc-Id` and `X-Rev-Id`; errors are `application/json; error="true"` parts. The close
 * delimiter comes only when there was a part, as in CouchDB.
 */
export function bulkGetMultipart(parts: BulkGetPart[], type: 'multipart/mixed' | 'multipart/related'): { contentType: string; body: Buffer } {
  const outer = '--' + newBoundary();
  const chunks: Buffer[] = [];
  for (const p of parts) {
    if ('error' in p) {
      chunks.push(Buffer.from(`\r\n--${outer}\r\nContent-Type: application/json; error="true"\r\n\r\n${JSON.stringify(p.error)}`));
    } else if (p.atts.length > 0) {
      chunks.push(Buffer.from(`\r\n--${outer}\r\nX-Doc-Id: ${p.id}\r\nX-Rev-Id: ${p.rev}\r\nContent-Type: multipart/related; boundary=${p.boundary}\r\n\r\n`));
      chunks.push(relatedBody(p.json, p.atts, p.boundary).body);
    } else {
      chunks.push(Buffer.from(`\r\n--${outer}\r\nContent-Type: application/json\r\n\r\n${p.json}`));
    }
  }
  if (parts.length > 0) chunks.push(Buffer.from(`\r\n--${outer}--\r\n`));
  return { contentType: `${type}; boundary="${outer}"`, body: Buffer.concat(chunks) };
}
