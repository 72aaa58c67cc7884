// Reading request bodies within the configured limits. A body over the limit is refused with 413
// before it is fully buffered; malformed JSON is CouchDB's 400 "invalid UTF-8 JSON"; JSON nested
// deeper than the limit is refused before any recursive code could exhaust the stack.

import type { Context } from 'koa';
import { CouchError } from '../errors/catalog.js';

export interface BodyLimits {
  maxRequestBytes: number;
  maxJsonDepth: number;
}

export async function readRaw(ctx: Context, limits: BodyLimits): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > limits.maxRequestBytes) {
    ctx.req.resume();
    throw new CouchError('too_large');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limits.maxRequestBytes) {
      ctx.req.destroy();
      throw new CouchError('too_large');
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
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
