// The bench's HTTP client: node:http over a keep-alive Agent, made cheap enough that on a 2-core
// machine the server, not the client, sets the pace; and for the PUT and GET rate workloads, the
// leaner keep-alive pool of keep-alive-pool.ts.
//
// What keeps it cheap: sockets are reused (maxSockets = the workload's concurrency), bodies are
// Buffers serialized before the clock starts, and big responses are never JSON.parse-d: callers
// either count tokens as chunks arrive (`requestCounting`) or keep the (small) body. Every request
// has a time limit, so a hung server fails the workload instead of hanging the bench.

import http from 'node:http';
import { TokenCounter } from './token-count.js';
import { KeepAlivePool } from './keep-alive-pool.js';

/** A request that has not finished in this long is failed (a full `_all_docs` of 100k docs takes ~5 s on the slowest peer). */
export const requestTimeoutMs = 120_000;

/** Non-2xx bodies are kept up to this many bytes, to say why a workload failed. */
const errorBodyBytesMax = 300;

export interface HttpResponse {
  status: number;
  body: Buffer;
}

export interface CountingResponse {
  status: number;
  /** Bytes in the body. */
  bytes: number;
  /** Occurrences of each requested token, in the order given. */
  counts: number[];
  /** The first and last bytes of the body (for checks such as `"last_seq"`, and error messages). */
  head: string;
  tail: string;
}

export class HttpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

export class HttpClient {
  readonly origin: string;
  private readonly host: string;
  private readonly port: number;
  /** Path prefix of the base URL without its trailing slash ('' for a server at the root). */
  private readonly prefix: string;
  private readonly auth: string | undefined;
  private readonly agent: http.Agent;
  private readonly concurrency: number;
  private pool: KeepAlivePool | undefined;

  /** `baseUrl` may carry credentials (`http://name:pass@127.0.0.1:5984/`); they become Basic auth. */
  constructor(baseUrl: string, concurrency: number) {
    const url = new URL(baseUrl);
    if (url.protocol !== 'http:') throw new Error(`only http: URLs are supported, got ${url.protocol}`);
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.port = url.port === '' ? 80 : Number(url.port);
    this.prefix = url.pathname.replace(/\/+$/, '');
    this.origin = `${url.protocol}//${url.host}${this.prefix}`;
    this.auth =
      url.username === ''
        ? undefined
        : 'Basic ' +
          Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
    this.agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
    this.concurrency = concurrency;
  }

  /**
   * Like `request`, over the lean keep-alive pool (keep-alive-pool.ts): for the workloads that
   * count small requests per second, where node:http's own CPU would set the pace.
   */
  requestLean(method: string, path: string, body?: Buffer): Promise<HttpResponse> {
    this.pool ??= new KeepAlivePool(this.host, this.port, this.auth === undefined ? '' : `Authorization: ${this.auth}\r\n`, this.concurrency, requestTimeoutMs);
    return this.pool.request(method, this.prefix + path, body);
  }

  /**
   * Sends a request and buffers the whole response body. For small responses. `timeoutMs` is for
   * the few requests that legitimately take minutes (a view build, a one-shot replication).
   */
  request(method: string, path: string, body?: Buffer, timeoutMs = requestTimeoutMs): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const req = http.request(this.options(method, path, body), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      this.send(req, body, method, path, reject, timeoutMs);
    });
  }

  /**
   * Sends a request and counts `tokens` in the response as it streams, keeping only its ends.
   * `lenient` parses answers Node's strict parser refuses (pouchdb-server's `_list` sends both
   * Content-Length and Transfer-Encoding).
   */
  requestCounting(method: string, path: string, tokens: readonly string[], body?: Buffer, lenient = false): Promise<CountingResponse> {
    return new Promise((resolve, reject) => {
      const req = http.request({ ...this.options(method, path, body), ...(lenient ? { insecureHTTPParser: true } : {}) }, (res) => {
        const counter = new TokenCounter(tokens);
        let bytes = 0;
        let head: Buffer = Buffer.alloc(0);
        let tail: Buffer = Buffer.alloc(0);
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          counter.push(c);
          if (head.length < errorBodyBytesMax) head = Buffer.concat([head, c.subarray(0, errorBodyBytesMax - head.length)]);
          tail = c.length >= errorBodyBytesMax ? c.subarray(c.length - errorBodyBytesMax) : Buffer.concat([tail, c]).subarray(-errorBodyBytesMax);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            bytes,
            counts: counter.result(),
            head: head.toString('utf8'),
            tail: tail.toString('utf8'),
          }),
        );
        res.on('error', reject);
      });
      this.send(req, body, method, path, reject);
    });
  }

  /** Sends a request and parses its JSON answer; for the few small control requests. */
  async json(method: string, path: string, body?: unknown, timeoutMs = requestTimeoutMs): Promise<{ status: number; body: unknown }> {
    const res = await this.request(method, path, body === undefined ? undefined : Buffer.from(JSON.stringify(body)), timeoutMs);
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new HttpError(`${method} ${path}: ${res.status} with a body that is not JSON: ${snippet(res.body)}`);
    }
    return { status: res.status, body: parsed };
  }

  /** Closes idle keep-alive sockets so the process can exit. */
  close(): void {
    this.agent.destroy();
    this.pool?.close();
  }

  private options(method: string, path: string, body: Buffer | undefined): http.RequestOptions {
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = body.length;
    }
    if (this.auth !== undefined) headers.authorization = this.auth;
    return { host: this.host, port: this.port, method, path: this.prefix + path, headers, agent: this.agent };
  }

  private send(
    req: http.ClientRequest,
    body: Buffer | undefined,
    method: string,
    path: string,
    reject: (e: Error) => void,
    timeoutMs = requestTimeoutMs,
  ): void {
    req.setTimeout(timeoutMs, () => req.destroy(new HttpError(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(e instanceof HttpError ? e : new HttpError(`${method} ${path}: ${e.message}`)));
    req.end(body);
  }
}

/** A short printable piece of a body, for failure reasons. */
export function snippet(body: Buffer | string, max = 160): string {
  const s = (typeof body === 'string' ? body : body.subarray(0, max * 4).toString('utf8')).replace(/\s+/g, ' ').trim();
  return s.length > max ? s.slice(0, max) + '…' : s;
}

export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}
