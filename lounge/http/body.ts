// Reading request bodies: bounded in size, JSON parsed with CouchDB's error for bad input. A body
// sent with `Content-Encoding: gzip` (couchbackup gzips every body) or `deflate` is decoded as it
// streams in, the size bound counting decoded bytes, as a node does (server/http/content-encoding.ts);
// what is forwarded to nodes is the decoded body, without the header.

import type { Context } from 'koa';
import { createGunzip, createInflate } from 'node:zlib';
import { badContentType, LoungeError } from '../errors/lounge-error.js';
import { REQUEST_BYTES_MAX } from './limits.js';

const tooLarge = () => new LoungeError(413, 'too_large', 'the request entity is too large');

export async function readRaw(ctx: Context): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > REQUEST_BYTES_MAX) {
    ctx.req.resume();
    throw tooLarge();
  }
  const coding = (ctx.req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  let source: AsyncIterable<Buffer> = ctx.req;
  if (coding !== 'identity' && coding !== '') {
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== 'deflate') {
      ctx.req.resume();
      throw new LoungeError(415, 'bad_content_type', `${coding} is not a supported content encoding.`);
    }
    const inflater = coding === 'deflate' ? createInflate() : createGunzip();
    ctx.req.pipe(inflater);
    source = inflater;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of source) {
      size += chunk.length;
      if (size > REQUEST_BYTES_MAX) {
        ctx.req.destroy();
        throw tooLarge();
      }
      chunks.push(chunk);
    }
  } catch (e) {
    if (e instanceof LoungeError) throw e;
    if (source !== ctx.req) throw new LoungeError(400, 'bad_request', 'Request body is not properly gzipped.');
    throw e;
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
