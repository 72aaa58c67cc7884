// Reading request bodies within the configured limits. A body over the limit is refused with 413
// before it is fully buffered; malformed JSON is CouchDB's 400 "invalid UTF-8 JSON"; JSON nested
// deeper than the limit is refused before JSON.parse could exhaust the stack.

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

/** Parses JSON, refusing invalid UTF-8, syntax errors and excessive nesting with CouchDB's 400. */
export function parseJson(buf: Buffer, maxDepth: number): unknown {
  const text = buf.toString('utf8');
  if (text.includes('\uFFFD') && !buf.includes(Buffer.from('\uFFFD'))) throw new CouchError('invalid_json');
  if (text.length > 2 * maxDepth && exceedsDepth(text, maxDepth)) throw new CouchError('bad_request', `JSON nesting deeper than ${maxDepth} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CouchError('invalid_json');
  }
  // JSON.parse turns numbers beyond a double's range into Infinity, which would be stored as null.
  // CouchDB refuses such input; so do we. The cheap test runs first; the walk only when it fires.
  if (MAYBE_HUGE_NUMBER.test(text) && hasNonFinite(value)) throw new CouchError('bad_request', 'JSON number out of range');
  return value;
}

const MAYBE_HUGE_NUMBER = /[eE]\+?[0-9]{3,}|[0-9]{309,}/;

function hasNonFinite(v: unknown): boolean {
  if (typeof v === 'number') return !Number.isFinite(v);
  if (Array.isArray(v)) return v.some(hasNonFinite);
  if (typeof v === 'object' && v !== null) return Object.values(v).some(hasNonFinite);
  return false;
}

function exceedsDepth(text: string, max: number): boolean {
  // Cheap pre-scan: count bracket depth outside strings.
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

export async function readJson(ctx: Context, limits: BodyLimits): Promise<unknown> {
  const raw = await readRaw(ctx, limits);
  return parseJson(raw, limits.maxJsonDepth);
}
