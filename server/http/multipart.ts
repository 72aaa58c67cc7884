// MIME multipart, as CouchDB's own replicator speaks it: it pushes documents with attachments as
// `PUT /db/doc?new_edits=false` with a multipart/related body (the JSON first, with
// `"follows": true` stubs, then one part per attachment), and asks for `open_revs` with
// `Accept: multipart/mixed`. Bodies here are already in memory (bounded by the request limit).

import { CouchError } from '../errors/catalog.js';

export interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

export function boundaryOf(contentType: string): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

export function parseMultipart(body: Buffer, boundary: string): Part[] {
  const delimiter = Buffer.from('--' + boundary);
  const parts: Part[] = [];
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new CouchError('bad_request', 'multipart body without its boundary');
  for (;;) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // closing "--"
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    const next = body.indexOf(delimiter, pos);
    if (next < 0) throw new CouchError('bad_request', 'multipart body is truncated');
    let end = next;
    if (body[end - 2] === 0x0d && body[end - 1] === 0x0a) end -= 2;
    const chunk = body.subarray(pos, end);
    const split = chunk.indexOf('\r\n\r\n');
    const headerText = split < 0 ? '' : chunk.subarray(0, split).toString('latin1');
    const headers: Record<string, string> = {};
    for (const line of headerText.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, body: split < 0 ? chunk : chunk.subarray(split + 4) });
    pos = next;
  }
  return parts;
}

/**
 * Turns a multipart/related document upload into the JSON document with inline base64 data, so
 * the ordinary write path handles it. Attachments with `follows: true` take the following parts in
 * order (matched by filename when the part names one).
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
    const { follows: _f, length: _l, ...rest } = att;
    void _f;
    void _l;
    atts[name] = { ...rest, data: part.body.toString('base64') };
  }
  return doc;
}

/** A multipart/mixed answer to `open_revs`: one JSON part per revision, error parts for missing ones. */
export function multipartMixed(items: ({ ok: string } | { missing: string })[]): { contentType: string; body: Buffer } {
  const boundary = 'chaise' + Math.random().toString(16).slice(2);
  const chunks: Buffer[] = [];
  for (const item of items) {
    const isOk = 'ok' in item;
    const json = isOk ? item.ok : JSON.stringify({ missing: item.missing });
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/json${isOk ? '' : '; error="true"'}\r\n\r\n${json}\r\n`));
  }
  chunks.push(Buffer.from(`--${boundary}--`));
  return { contentType: `multipart/mixed; boundary="${boundary}"`, body: Buffer.concat(chunks) };
}
