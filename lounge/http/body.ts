// Reading request bodies: bounded in size, JSON parsed with CouchDB's error for bad input.

import type { Context } from 'koa';
import { badContentType, LoungeError } from '../errors/lounge-error.js';
import { REQUEST_BYTES_MAX } from './limits.js';

export async function readRaw(ctx: Context): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > REQUEST_BYTES_MAX) {
    ctx.req.resume();
    throw new LoungeError(413, 'too_large', 'the request entity is too large');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > REQUEST_BYTES_MAX) {
      ctx.req.destroy();
      throw new LoungeError(413, 'too_large', 'the request entity is too large');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function isJsonType(ctx: Context): boolean {
  return (ctx.get('content-type') || '').split(';')[0]?.trim().toLowerCase() === 'application/json';
}

export function requireJsonType(ctx: Context): void {
  if (!isJsonType(ctx)) throw badContentType();
}

export function parseJson(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    throw new LoungeError(400, 'bad_request', 'invalid UTF-8 JSON');
  }
}

export async function readJson(ctx: Context): Promise<unknown> {
  return parseJson(await readRaw(ctx));
}

export async function readJsonObject(ctx: Context): Promise<Record<string, unknown>> {
  const v = await readJson(ctx);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new LoungeError(400, 'bad_request', 'Request body must be a JSON object');
  return v as Record<string, unknown>;
}
