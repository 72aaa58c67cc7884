// Reading request bodies within the configured limits. A body over the limit is refused with 413
// before it is fully buffered; malformed JSON is CouchDB's 400 "invalid UTF-8 JSON"; JSON nested
// deeper than the limit is refused before any recursive code could exhaust the stack. A body sent
// with `Content-Encoding: gzip` or `deflate` is decoded as it arrives (content-encoding.ts), and the
// limit applies to its decoded size.

import type { Context } from 'koa';
import { CouchError } from '../errors/catalog.js';
import { BodyError, bodyCoding, readDecoded } from './content-encoding.js';

export interface BodyLimits {
  maxRequestBytes: number;
  maxJsonDepth: number;
}

/**
 * `keepCoding`: hand back a gzip body as it came instead of decoding it (a standalone attachment
 * PUT, which CouchDB stores as it came, compressed).
 */
export function readRaw(ctx: Context, limits: BodyLimits, keepCoding = false): Promise<Buffer> {
  // A `_rewrite` function may give the request a new body (see routes/rewrite.ts).
  const rewritten: unknown = ctx.state.rewrittenBody;
  if (rewritten instanceof Buffer) return Promise.resolve(rewritten);
  const req = ctx.req;
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limits.maxRequestBytes) {
    req.resume();
    return Promise.reject(new CouchError('too_large'));
  }
  // Only a request that names a coding pays for decoding.
  const coding = bodyCoding(req);
  if (coding !== undefined && !(keepCoding && (coding === 'gzip' || coding === 'x-gzip'))) return readDecoded(req, coding, limits.maxRequestBytes).catch(toCouchError);
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  // Plain listeners rather than an async iterator: a small body arrives in one chunk, and an
  // iterator costs a PUT several microseconds of promise and stream bookkeeping.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxRequestBytes) {
        cleanup();
        req.destroy();
        reject(new CouchError('too_large'));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    // A client that goes away before its body ends: nothing will ever be written for it.
    const onClose = () => {
      cleanup();
      reject(new CouchError('bad_request', 'the request body was cut short'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** CouchDB's answers for a body that cannot be decoded (chttpd:maybe_decompress). */
function toCouchError(e: unknown): never {
  if (!(e instanceof BodyError)) throw e;
  const p = e.problem;
  switch (p.kind) {
    case 'too_large':
      throw new CouchError('too_large');
    case 'unsupported':
      throw new CouchError('bad_content_type', `${p.encoding} is not a supported content encoding.`);
    case 'corrupt':
      throw new CouchError('bad_request', p.encoding === 'deflate' ? 'Request body is not properly deflated.' : 'Request body is not properly gzipped.');
    case 'cut_short':
      throw new CouchError('bad_request', 'the request body was cut short');
  }
}

export function requireJsonType(ctx: Context): void {
  const type = (ctx.get('content-type') || '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw new CouchError('bad_content_type');
}

/** Parses JSON, refusing invalid UTF-8, syntax errors, excessive nesting and out-of-range numbers with CouchDB's 400. */
export function parseJson(buf: Buffer, maxDepth: number): unknown {
  const text = buf.toString('utf8');
  if (text.includes('\uFFFD') && !buf.includes(Buffer.from('\uFFFD'))) throw new CouchError('invalid_json');
  let value: unknown;
  try {
    // V8's JSON.parse is iterative, so any nesting parses; what comes after (stringify, the rev
    // hash, the sandbox) recurses, hence the depth check on the parsed value.
    value = JSON.parse(text);
  } catch {
    throw new CouchError('invalid_json');
  }
  const problem = checkValue(value, maxDepth);
  if (problem === 'too_deep') throw new CouchError('bad_request', `JSON nesting deeper than ${maxDepth} levels`);
  // JSON.parse turns numbers beyond a double's range into Infinity, which would be stored as null.
  // CouchDB refuses such input; so do we.
  if (problem === 'non_finite') throw new CouchError('bad_request', 'JSON number out of range');
  return value;
}

/** One walk for both checks; it never recurses deeper than `depthLeft`, so it is stack-safe. */
function checkValue(v: unknown, depthLeft: number): 'too_deep' | 'non_finite' | null {
  if (typeof v === 'number') return Number.isFinite(v) ? null : 'non_finite';
  if (typeof v !== 'object' || v === null) return null;
  if (depthLeft === 0) return 'too_deep';
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = checkValue(v[i], depthLeft - 1);
      if (p !== null) return p;
    }
    return null;
  }
  for (const key in v) {
    const p = checkValue((v as Record<string, unknown>)[key], depthLeft - 1);
    if (p !== null) return p;
  }
  return null;
}

export async function readJson(ctx: Context, limits: BodyLimits): Promise<unknown> {
  const raw = await readRaw(ctx, limits);
  return parseJson(raw, limits.maxJsonDepth);
}
