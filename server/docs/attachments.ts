// Attachment metadata as CouchDB shows it in stubs, and the helpers that turn incoming
// `_attachments` entries (inline base64, stubs) into stored metadata plus bytes to keep.
// Bytes are stored once per digest per database, so identical attachments cost nothing extra.

import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { CouchError } from '../errors/catalog.js';

export interface AttStub {
  content_type: string;
  revpos: number;
  digest: string;
  length: number;
  stub: true;
}

export type AttMap = Record<string, AttStub>;

/** An incoming attachment after parsing: new bytes, or a reference to one we must already have. */
export type AttInput =
  | { kind: 'data'; name: string; contentType: string; bytes: Buffer; digest: string; revpos?: number }
  | { kind: 'stub'; name: string; digest?: string; contentType?: string; length?: number; revpos?: number };

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

/** CouchDB's default `[attachments] compressible_types`. */
const COMPRESSIBLE = /^(text\/.*|application\/(javascript|json|xml))(\s*;.*)?$/i;
/** CouchDB's default `[attachments] compression_level`. */
const COMPRESSION_LEVEL = 8;

/**
 * The digest CouchDB shows for an attachment: it gzips compressible types (level 8) and takes the
 * md5 of the stored, encoded bytes; other types are digested as they are. Matching it keeps our
 * stubs identical to CouchDB's for the same bytes (see the fixture "doc with stub").
 */
export function attachmentDigest(bytes: Buffer, contentType: string): string {
  return md5Digest(COMPRESSIBLE.test(contentType) ? gzipSync(bytes, { level: COMPRESSION_LEVEL }) : bytes);
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
    const input: AttInput = { kind: 'data', name, contentType, bytes, digest: attachmentDigest(bytes, contentType) };
    // A replicated write keeps the generation the attachment came from.
    if (typeof att.revpos === 'number' && Number.isInteger(att.revpos) && att.revpos > 0) input.revpos = att.revpos;
    out.push(input);
  }
  return out;
}
