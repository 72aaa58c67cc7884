// The HTTP transport under `HttpEndpoint`: keep-alive connections, timeouts,
// retries with backoff, and CouchDB error bodies turned into `PeerError`s.
//
// Built on `node:http`/`node:https` with a private keep-alive agent per
// endpoint, so that `close()` really closes every socket (no process kept
// alive by a pooled connection) and the pool size is the replication's
// `http_connections`. Transient failures (no answer, 408, 429, 5xx) are retried
// up to `retries` times with exponential backoff; 4xx answers are returned to
// the caller at once, since the protocol forbids retrying 401/403/409/412
// blindly. Credentials travel only in headers and never appear in errors.

import http from 'node:http';
import https from 'node:https';
import { debuglog } from 'node:util';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { PeerError } from '../errors.js';
import { backoffDelayMs, isRetryableStatus, type BackoffPolicy } from '../retry/backoff.js';
import type { Clock, Random } from '../clock.js';
import type { ReplicatorMetrics } from '../metrics.js';

const log = debuglog('chaise:replicator');

export interface HttpClientOptions {
  /** Sockets per peer (CouchDB's `http_connections`). */
  connections: number;
  /** A request with no bytes moving for this long is abandoned (CouchDB's `connection_timeout`). */
  timeoutMs: number;
  /** Extra attempts for transient failures (CouchDB's `retries_per_request`). */
  retries: number;
  backoff: BackoffPolicy;
  clock: Clock;
  random: Random;
  /** Where requests and answers are counted, if anywhere. */
  metrics?: ReplicatorMetrics | undefined;
}

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: { [name: string]: string };
  /** A JSON text; sent with `Content-Type: application/json`. */
  body?: string;
  signal?: AbortSignal | undefined;
  /** Override the idle timeout (long-lived feeds). */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Bodies above this are not what any replication request should answer; refusing them bounds memory. */
export const RESPONSE_BYTES_MAX = 1024 * 1024 * 1024;

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/** Parses a CouchDB error body; tolerates anything else. */
export function errorFields(status: number, body: Buffer): { error: string; reason: string } {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { error?: unknown; reason?: unknown };
    if (parsed && typeof parsed === 'object') {
      const error = typeof parsed.error === 'string' ? parsed.error : `http_${status}`;
      const reason = typeof parsed.reason === 'string' ? parsed.reason : (http.STATUS_CODES[status] ?? '');
      return { error, reason };
    }
  } catch {
    // not JSON: fall through
  }
  return { error: `http_${status}`, reason: http.STATUS_CODES[status] ?? '' };
}

export class HttpClient {
  private readonly agent: http.Agent;
  private readonly secureAgent: https.Agent;
  private closed = false;

  constructor(
    private readonly baseHeaders: { [name: string]: string },
    private readonly options: HttpClientOptions,
  ) {
    const agentOptions = { keepAlive: true, maxSockets: options.connections, scheduling: 'lifo' as const };
    this.agent = new http.Agent(agentOptions);
    this.secureAgent = new https.Agent(agentOptions);
  }

  /**
   * One attempt. Resolves with any HTTP answer (even 5xx); rejects with a
   * status-0 PeerError when there is no answer, or with the signal's reason.
   */
  async once(req: HttpRequest): Promise<HttpResponse> {
    const res = await this.open(req);
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > RESPONSE_BYTES_MAX) {
          res.destroy(new Error(`response larger than ${RESPONSE_BYTES_MAX} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (err) => reject(this.noAnswer(req, err)));
      res.on('aborted', () => reject(this.noAnswer(req, new Error('response aborted'))));
    });
  }

  /**
   * Opens a request and resolves with the live response once its headers
   * arrived, whatever the status. The caller consumes (or destroys) the body.
   */
  open(req: HttpRequest): Promise<IncomingMessage> {
    if (this.closed) return Promise.reject(new PeerError({ status: 0, error: 'closed', reason: 'endpoint closed', method: req.method, url: req.url.href }));
    const signal = req.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const secure = req.url.protocol === 'https:';
    const headers: { [name: string]: string } = { accept: 'application/json', ...this.baseHeaders, ...(req.headers ?? {}) };
    let payload: Buffer | undefined;
    if (req.body !== undefined) {
      payload = Buffer.from(req.body, 'utf8');
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const metrics = this.options.metrics;
    if (metrics) metrics.requests++;
    return new Promise((resolve, reject) => {
      const request = (secure ? https : http).request(req.url, {
        method: req.method,
        headers,
        agent: secure ? this.secureAgent : this.agent,
      });
      let settled = false;
      const onAbort = (): void => {
        request.destroy();
        if (!settled) {
          settled = true;
          reject(signal?.reason);
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      request.on('close', () => signal?.removeEventListener('abort', onAbort));
      request.setTimeout(req.timeoutMs ?? this.options.timeoutMs, () => {
        request.destroy(new Error(`no data for ${req.timeoutMs ?? this.options.timeoutMs} ms`));
      });
      request.on('error', (err) => {
        if (settled) return;
        settled = true;
        if (metrics && !signal?.aborted) metrics.responsesFailure++;
        reject(signal?.aborted ? signal.reason : this.noAnswer(req, err));
      });
      request.on('response', (res) => {
        if (settled) {
          res.destroy();
          return;
        }
        settled = true;
        if (metrics) {
          const status = res.statusCode ?? 0;
          if (status >= 500 || status === 408 || status === 429) metrics.responsesFailure++;
          else metrics.responsesSuccess++;
        }
        resolve(res);
      });
      request.end(payload);
    });
  }

  /**
   * A request retried through transient failures. Resolves with the first
   * non-transient answer (2xx, 3xx or a 4xx the caller must judge); rejects
   * with a PeerError when retries run out.
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      let failure: PeerError;
      try {
        const res = await this.once(req);
        if (!isRetryableStatus(res.status)) return res;
        failure = this.answerError(req, res);
      } catch (err) {
        if (!(err instanceof PeerError) || req.signal?.aborted) throw err;
        failure = err;
      }
      if (attempt >= this.options.retries || this.closed) throw failure;
      const waitMs = backoffDelayMs(attempt, this.options.backoff, this.options.random);
      log('%s %s: %s; retry %d in %d ms', req.method, req.url.href, failure.reason, attempt + 1, waitMs);
      await this.options.clock.sleep(waitMs, req.signal);
    }
  }

  /** `request`, then JSON: rejects with a PeerError for any status >= 400. */
  async json<T>(req: HttpRequest): Promise<{ status: number; body: T }> {
    const res = await this.request(req);
    if (res.status >= 400) throw this.answerError(req, res);
    try {
      return { status: res.status, body: JSON.parse(res.body.toString('utf8')) as T };
    } catch (err) {
      throw new PeerError({ status: 0, error: 'bad_response', reason: `invalid JSON from peer: ${describe(err)}`, method: req.method, url: req.url.href }, { cause: err });
    }
  }

  answerError(req: HttpRequest, res: { status: number; body: Buffer }): PeerError {
    const { error, reason } = errorFields(res.status, res.body);
    return new PeerError({ status: res.status, error, reason, method: req.method, url: req.url.href });
  }

  private noAnswer(req: HttpRequest, err: unknown): PeerError {
    return new PeerError({ status: 0, error: 'no_response', reason: describe(err), method: req.method, url: req.url.href }, { cause: err });
  }

  close(): void {
    this.closed = true;
    this.agent.destroy();
    this.secureAgent.destroy();
  }
}
