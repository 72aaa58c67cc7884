// The koa-shaped side of show, update and list functions, for the node and the lounge alike:
// the request's facts for CouchDB's `req` object, the external answer on a response (status,
// safe headers, JSON or data), and a list run streamed as it goes. The context is any object
// shaped like a koa context (structural: no HTTP framework is imported here).

import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { parseExternal, safeHeader } from './external.js';
import type { ListIo, ListOutput, RenderResponse } from '../sandbox/design-sandbox.js';
import type { RequestFacts } from './request-object.js';

/** The parts of a koa context a request's facts come from. */
export interface RequestSource {
  method: string;
  path: string;
  url: string;
  querystring: string;
  req: { rawHeaders: string[]; socket?: { remoteAddress?: string | undefined } | undefined };
  state: Record<string, unknown>;
  get(field: string): string;
}

/** What the request says, for `requestObject` (`state.requestedPath`: the path before a rewrite). */
export function requestFacts(ctx: RequestSource, body: string | undefined, extraHeaders?: Record<string, string>): RequestFacts {
  return {
    method: ctx.method,
    path: ctx.path,
    url: ctx.url,
    querystring: ctx.querystring,
    rawHeaders: ctx.req.rawHeaders,
    extraHeaders,
    contentType: ctx.get('content-type'),
    cookieHeader: ctx.get('cookie') || '',
    body,
    peer: ctx.req.socket?.remoteAddress,
    requestedPath: ctx.state.requestedPath as string[] | undefined,
  };
}

/** The parts of a koa context these functions set. */
export interface AnswerTarget {
  status: number;
  body: unknown;
  set(field: string, value: string): void;
  res: { readonly writableFinished: boolean; on(event: 'close', listener: () => void): unknown };
}

/** What a show or update function answered, as the HTTP answer (chttpd_external:send_external_response). */
export function sendExternal(target: Omit<AnswerTarget, 'res'>, resp: RenderResponse, extraHeaders: [string, string][] = []): void {
  const ext = parseExternal(resp, extraHeaders);
  target.status = ext.code;
  for (const [h, v] of ext.headers) if (safeHeader(h, v)) target.set(h, v);
  if (ext.hasJson) {
    target.set('Cache-Control', 'must-revalidate');
    target.body = JSON.stringify(ext.json ?? null) + '\n';
  } else {
    target.body = ext.data;
  }
}

export interface ListRun {
  /** Runs the list function with this row source (the sandbox's `list`). */
  run(io: ListIo): Promise<ListOutput>;
  /** Up to `maxRows` more rows of the view (fewer at its end). */
  rows(maxRows: number): unknown[] | Promise<unknown[]>;
  /** Called once the list has ended, however it ended (closes the cursor, frees the sandbox). */
  done(): void;
}

/**
 * Streams a list. The response starts at the list's first output, with the head it has set by
 * then (CouchDB's send_non_empty_chunk), so `start()` after `getRow()` still decides the status
 * and headers; a list that sends nothing answers an empty 200. Resolves as soon as the answer
 * has started (the rest streams) or the list has failed before any output (it rejects then,
 * and the caller answers the error); an error after the head ends the body with the error as
 * CouchDB's send_chunked_error does. A client that goes away stops the list at its next row.
 */
export async function streamList(target: AnswerTarget, list: ListRun): Promise<void> {
  const out = new PassThrough();
  let head: RenderResponse = {};
  let started = false;
  let gone = false;
  const markGone = () => {
    if (!target.res.writableFinished) gone = true;
  };
  out.on('close', markGone);
  target.res.on('close', markGone);
  let headStarted: () => void = () => undefined;
  const headReady = new Promise<void>((resolve) => (headStarted = resolve));
  const begin = (code?: number) => {
    started = true;
    const ext = parseExternal(head);
    target.status = code ?? ext.code;
    if (code === undefined) for (const [h, v] of ext.headers) if (safeHeader(h, v)) target.set(h, v);
    target.body = out;
    headStarted();
  };
  const write = async (chunk: string) => {
    if (chunk === '' || gone) return;
    if (!started) begin();
    if (!out.write(chunk)) await Promise.race([once(out, 'drain'), once(out, 'close')]);
  };
  const io: ListIo = {
    pull: async (o: ListOutput, maxRows: number): Promise<unknown[] | 'stop'> => {
      if (o.start !== undefined) head = o.start;
      await write(o.chunks.join(''));
      if (gone) return 'stop';
      return maxRows > 0 ? list.rows(maxRows) : [];
    },
  };
  const run = list
    .run(io)
    .then(async (last) => {
      if (last.start !== undefined) head = last.start;
      await write(last.chunks.join(''));
      if (!started) begin(200);
      out.end();
    })
    .catch((e: unknown) => {
      if (!started) throw e;
      const err = e as { error?: string; reason?: string };
      if (!gone) out.end(JSON.stringify({ error: err.error ?? 'unknown_error', reason: err.reason ?? String(e) }) + '\n');
    })
    .finally(() => list.done());
  await Promise.race([headReady, run]);
}
