// Request bodies sent with `Content-Encoding: gzip` (couchbackup compresses every body it sends)
// or `deflate`. CouchDB's chttpd gunzips a JSON body before parsing it; here every body is decoded
// as it streams in, and the size limit counts the *decoded* bytes, so a small gzip bomb is refused
// with 413 once it has inflated past the limit instead of filling memory.

import type { IncomingMessage } from 'node:http';
import { createGunzip, createInflate, type Gunzip, type Inflate } from 'node:zlib';

/** Why a body could not be read; the callers map these to their own error types. */
export type BodyProblem =
  | { kind: 'too_large' }
  | { kind: 'unsupported'; encoding: string }
  | { kind: 'corrupt'; encoding: string }
  | { kind: 'cut_short' };

export class BodyError extends Error {
  constructor(readonly problem: BodyProblem) {
    super(problem.kind);
  }
}

/** Output bytes zlib hands over at a time: memory held while inflating stays near this. */
const INFLATE_CHUNK_BYTES = 64 * 1024;

/**
 * The coding a request's `Content-Encoding` names, lower-cased; undefined for none or
 * `identity` (nothing to decode). Only the header's presence is checked on the hot path.
 */
export function bodyCoding(req: IncomingMessage): string | undefined {
  const h = req.headers['content-encoding'];
  if (h === undefined) return undefined;
  const coding = h.trim().toLowerCase();
  return coding === '' || coding === 'identity' ? undefined : coding;
}

/** Whether this coding can be decoded (`gzip`, its alias `x-gzip`, `deflate`). */
export function isSupportedCoding(coding: string): boolean {
  return coding === 'gzip' || coding === 'x-gzip' || coding === 'deflate';
}

/**
 * Reads and decodes a compressed body. Rejects with a BodyError: `unsupported` for an unknown
 * coding (before reading anything), `corrupt` when the bytes do not decode, `too_large` once the
 * decoded (or the raw) size passes `maxBytes`.
 */
export function readDecoded(req: IncomingMessage, coding: string, maxBytes: number): Promise<Buffer> {
  if (!isSupportedCoding(coding)) {
    const e = new BodyError({ kind: 'unsupported', encoding: coding });
    return drain(req, maxBytes).then(() => Promise.reject(e));
  }
  const inflater: Gunzip | Inflate = coding === 'deflate' ? createInflate({ chunkSize: INFLATE_CHUNK_BYTES }) : createGunzip({ chunkSize: INFLATE_CHUNK_BYTES });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let decoded = 0;
    let raw = 0;
    let done = false;
    const finish = (e: BodyError | null, body?: Buffer) => {
      if (done) return;
      done = true;
      req.off('data', onRaw);
      req.off('end', onRawEnd);
      req.off('error', onReqError);
      req.off('close', onClose);
      inflater.off('data', onDecoded);
      inflater.off('end', onDecodedEnd);
      inflater.off('error', onInflateError);
      if (e) {
        inflater.destroy();
        chunks.length = 0;
        reject(e);
      } else resolve(body as Buffer);
    };
    const onRaw = (chunk: Buffer) => {
      raw += chunk.length;
      if (raw > maxBytes) {
        // The compressed body alone is over the limit: stop reading it at all.
        req.destroy();
        return finish(new BodyError({ kind: 'too_large' }));
      }
      // Back-pressure: a fast sender waits while a slow inflate catches up.
      if (!inflater.write(chunk)) {
        req.pause();
        inflater.once('drain', () => req.resume());
      }
    };
    const onRawEnd = () => inflater.end();
    const onReqError = () => finish(new BodyError({ kind: 'cut_short' }));
    const onClose = () => {
      if (!req.complete) finish(new BodyError({ kind: 'cut_short' }));
    };
    // A refusal waits for the rest of the compressed body (already known to be within the limit)
    // to be drained unread: answering before the client has finished sending would make Node
    // close the connection under it, and the client would see a reset instead of the answer.
    const refuseAfterDrain = (e: BodyError) => {
      req.off('data', onRaw);
      req.off('end', onRawEnd);
      inflater.off('data', onDecoded);
      chunks.length = 0;
      void drain(req, maxBytes - raw).then(() => finish(e));
    };
    const onDecoded = (chunk: Buffer) => {
      decoded += chunk.length;
      // A bomb: refused once it has inflated past the limit, however much more it holds.
      if (decoded > maxBytes) return refuseAfterDrain(new BodyError({ kind: 'too_large' }));
      chunks.push(chunk);
    };
    const onDecodedEnd = () => finish(null, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, decoded));
    const onInflateError = () => refuseAfterDrain(new BodyError({ kind: 'corrupt', encoding: coding }));
    inflater.on('data', onDecoded);
    inflater.on('end', onDecodedEnd);
    inflater.on('error', onInflateError);
    req.on('data', onRaw);
    req.on('end', onRawEnd);
    req.on('error', onReqError);
    req.on('close', onClose);
    if (req.readableEnded) inflater.end();
  });
}

/**
 * Reads and drops the rest of a request body, so an error can be answered on a connection the
 * client has finished writing to. Past `budget` more bytes the request is destroyed instead.
 */
function drain(req: IncomingMessage, budget: number): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let left = budget;
    const onData = (chunk: Buffer) => {
      left -= chunk.length;
      if (left < 0) {
        done();
        req.destroy();
      }
    };
    const done = () => {
      req.off('data', onData);
      req.off('end', done);
      req.off('close', done);
      req.off('error', done);
      resolve();
    };
    req.on('data', onData);
    req.on('end', done);
    req.on('close', done);
    req.on('error', done);
    req.resume();
  });
}
