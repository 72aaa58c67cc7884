// Attachment metadata as CouchDB shows it in stubs, and the helpers that turn incoming
// `_attachments` entries (inline base64, multipart parts, stubs) into stored metadata plus bytes
// to keep. Bytes are stored once per digest per database, so identical attachments cost nothing extra.
//
// Stored as CouchDB stores them (couch_db:with_stream/3): an attachment of a compressible type
// (CouchDB's default `[attachments] compressible_types`) is kept gzip-compressed at CouchDB's
// `compression_level` 8, whatever its size, and its digest is the md5 of those stored bytes. The
// gzip is pako's, a port of stock zlib, because it produces zlib's bytes exactly (Node's bundled
// zlib is Chromium's fork, whose match finder emits different bytes for the same input); so the
// same bytes get the same digest as in CouchDB however they arrive: inline base64, a standalone
// PUT, a multipart part or a replicated write. Everything else is stored as it came.

import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import pako from 'pako';
import { CouchError } from '../errors/catalog.js';
import { DEFAULT_LIMITS } from '../limits.js';

export interface AttStub {
  content_type: string;
  revpos: number;
  digest: string;
  /** The attachment's own length (identity). */
  length: number;
  stub: true;
  /** Stored gzip-compressed; absent when stored as it came. Shown with `att_encoding_info=true`. */
  encoding?: 'gzip';
  /** The stored (compressed) length, with `encoding`. */
  encoded_length?: number;
}

export type AttMap = Record<string, AttStub>;

/**
 * An incoming attachment after parsing: new bytes (`bytes` as stored, `length` the identity
 * length), or a reference to one we must already have.
 */
export type AttInput =
  | { kind: 'data'; name: string; contentType: string; bytes: Buffer; digest: string; length: number; encoding: AttEncoding; revpos?: number }
  | { kind: 'stub'; name: string; digest?: string; contentType?: string; length?: number; revpos?: number };

export type AttEncoding = 'identity' | 'gzip';

/** A stored revision's attachments as edit input that carries each one forward by its stub. */
export function stubInputs(atts: AttMap | undefined): AttInput[] {
  return Object.entries(atts ?? {}).map(([name, a]) => ({
    kind: 'stub',
    name,
    digest: a.digest,
    contentType: a.content_type,
    length: a.length,
    revpos: a.revpos,
  }));
}

export function md5Digest(bytes: Buffer): string {
  return 'md5-' + createHash('md5').update(bytes).digest('base64');
}

/** CouchDB's default `[attachments] compressible_types` ("text/*, application/javascript, application/json, application/xml"). */
const COMPRESSIBLE = /^\s*(text\/.*|application\/(javascript|json|xml))(\s*;.*?)?\s*$/i;
/** CouchDB's default `[attachments] compression_level`. */
const COMPRESSION_LEVEL = 8;

export function isCompressible(contentType: string): boolean {
  return COMPRESSIBLE.test(contentType);
}

/** Bytes as stored: what `storedForm` makes of an attachment, and the digest of those bytes. */
export interface StoredForm {
  bytes: Buffer;
  encoding: AttEncoding;
  digest: string;
  /** The identity length. */
  length: number;
}

/** How CouchDB stores an attachment that arrives as plain (identity) bytes. */
export function storedForm(identity: Buffer, contentType: string): StoredForm {
  if (!isCompressible(contentType)) return { bytes: identity, encoding: 'identity', digest: md5Digest(identity), length: identity.length };
  const gz = gzipLikeZlib(identity);
  return { bytes: gz, encoding: 'gzip', digest: md5Digest(gz), length: identity.length };
}

/** Stock zlib's gzip at CouchDB's level (windowBits 15 + 16, memLevel 8, default strategy). */
export function gzipLikeZlib(bytes: Uint8Array): Buffer {
  const out = pako.gzip(bytes, { level: COMPRESSION_LEVEL });
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * An attachment that arrives already gzipped (a multipart part with `"encoding": "gzip"`, as
 * CouchDB's replicator pushes them, or a standalone PUT with `Content-Encoding: gzip`): stored as
 * it is. It is decompressed once, bounded by `maxBytes` (a gzip bomb is 413, not an out-of-memory
 * error), so that bytes that are not gzip are refused now rather than failing every later read,
 * and its `length` is its real decompressed length.
 */
export function encodedForm(gz: Buffer, name: string, maxBytes: number = DEFAULT_LIMITS.maxAttachmentBytes): StoredForm {
  let identityLength: number;
  try {
    identityLength = gunzipSync(gz, { maxOutputLength: maxBytes }).length;
  } catch (e) {
    if (e instanceof RangeError || (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new CouchError('attachment_too_large', name);
    throw new CouchError('bad_request', `Attachment ${name} is not valid gzip data`);
  }
  return { bytes: gz, encoding: 'gzip', digest: md5Digest(gz), length: identityLength };
}

/** The attachment's own bytes from its stored form. */
export function identityBytes(stored: Buffer, stub: AttStub): Buffer {
  return stub.encoding === 'gzip' ? gunzipSync(stored) : stored;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function validateAttachmentName(name: string): void {
  if (name.startsWith('_')) throw new CouchError('bad_request', "Attachment name '" + name + "' starts with prohibited character '_'");
  if (name === '' || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new CouchError('bad_request', 'Attachment name must be non-empty and contain no control characters');
  }
}

/** A content type is echoed in a response header later, so it must be a plain header value. */
export function validateContentType(type: string, name: string): void {
  if (type.length > 255 || /[^\x20-\x7e]/.test(type)) throw new CouchError('bad_request', `Invalid content_type for attachment ${name}`);
}

/** Parses the `_attachments` member of an incoming document. */
export function parseAttachments(value: unknown): AttInput[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CouchError('doc_validation', 'Bad special document member: _attachments');
  }
  const out: AttInput[] = [];
  for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
    validateAttachmentName(name);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new CouchError('bad_request', `Invalid attachment ${name}`);
    }
    const att = raw as Record<string, unknown>;
    if (att.stub === true) {
      const stub: AttInput = { kind: 'stub', name };
      if (typeof att.digest === 'string') stub.digest = att.digest;
      if (typeof att.content_type === 'string') stub.contentType = att.content_type;
      if (typeof att.length === 'number') stub.length = att.length;
      if (typeof att.revpos === 'number') stub.revpos = att.revpos;
      out.push(stub);
      continue;
    }
    if (Buffer.isBuffer(att.data)) {
      // A multipart part (http/multipart.ts); JSON never yields a Buffer. CouchDB stores a part
      // marked `"encoding": "gzip"` as it came, and compresses an identity part like any data.
      const contentType = typeof att.content_type === 'string' ? att.content_type : 'application/octet-stream';
      validateContentType(contentType, name);
      const form = att.encoding === 'gzip' ? encodedForm(att.data, name) : storedForm(att.data, contentType);
      const input: AttInput = { kind: 'data', name, contentType, ...form };
      if (typeof att.revpos === 'number' && Number.isInteger(att.revpos) && att.revpos > 0) input.revpos = att.revpos;
      out.push(input);
      continue;
    }
    if (typeof att.data !== 'string') {
      if (att.follows === true) throw new CouchError('bad_request', `Attachment ${name} has follows:true outside a multipart request`);
      throw new CouchError('bad_request', `Invalid attachment data for ${name}`);
    }
    const data = att.data.replace(/\s/g, '');
    if (!BASE64.test(data) || data.length % 4 === 1) {
      throw new CouchError('bad_request', `Invalid attachment data for ${name}`);
    }
    const bytes = Buffer.from(data, 'base64');
    const contentType = typeof att.content_type === 'string' ? att.content_type : 'application/octet-stream';
    validateContentType(contentType, name);
    // Inline data is always the attachment's own bytes (couch_att:inline_from_json ignores `encoding`).
    const input: AttInput = { kind: 'data', name, contentType, ...storedForm(bytes, contentType) };
    // A replicated write keeps the generation the attachment came from.
    if (typeof att.revpos === 'number' && Number.isInteger(att.revpos) && att.revpos > 0) input.revpos = att.revpos;
    out.push(input);
  }
  return out;
}
