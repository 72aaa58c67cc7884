// HTTP to the nodes: one keep-alive agent per node, the service credential on every
// request, a time limit to the answer's headers, and every outcome reported to the node's
// circuit breaker.
//
// It guarantees: a request either resolves with the node's answer (any status; the body
// not yet read, as a stream) or rejects with an UpstreamError whose `status` is 0 (no
// answer: refused, reset, timed out, aborted). Answers with status ≥ 500 and status-0
// failures count against the node's health; 4xx answers do not. Bodies the caller does not
// read must be `discard()`ed so the socket returns to the pool.

import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import type { LoungeConfig } from '../config/lounge-config.js';
import type { NodeHealth } from '../health/node-health.js';

/** Sockets kept per node: enough for 32 concurrent clients fanning out, bounded so a flood cannot exhaust fds. */
const SOCKETS_PER_NODE_MAX = 128;
const FREE_SOCKETS_PER_NODE_MAX = 32;
/** An upstream error body larger than this is cut: only `error`/`reason` matter. */
const ERROR_BODY_BYTES_MAX = 64 * 1024;

export interface UpstreamRequest {
  method: string;
  /** Path and query, already encoded, starting with `/`. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string | Readable;
  /** Time allowed until the answer's headers arrive; defaults to the config's requestMs. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  constructor(
    readonly node: string,
    /** The node's status, or 0 when it gave no answer. */
    readonly status: number,
    readonly error: string,
    readonly reason: string,
    /** The node's complete error body, when it sent one. */
    readonly body?: Record<string, unknown>,
  ) {
    super(`${node}: ${status} ${error}: ${reason}`);
  }
  /** True for failures worth retrying on another replica. */
  get retryable(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}

export class UpstreamResponse {
  constructor(
    readonly node: string,
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    readonly stream: IncomingMessage,
  ) {}

  async buffer(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of this.stream) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  async text(): Promise<string> {
    return (await this.buffer()).toString('utf8');
  }

  async json<T = unknown>(): Promise<T> {
    return JSON.parse(await this.text()) as T;
  }

  /** Drops the body so the connection can be reused. */
  discard(): void {
    this.stream.resume();
  }

  /** Reads an error answer into an UpstreamError carrying the node's own error and reason. */
  async toError(): Promise<UpstreamError> {
    let body: Record<string, unknown> | undefined;
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of this.stream) {
        size += (c as Buffer).length;
        if (size <= ERROR_BODY_BYTES_MAX) chunks.push(c as Buffer);
      }
      const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      // not JSON: keep the status only
    }
    const error = typeof body?.error === 'string' ? body.error : 'upstream_error';
    let reason = typeof body?.reason === 'string' ? body.reason : `node answered ${this.status}`;
    // CouchDB 1.x and pouchdb-server say "no_db_file" where CouchDB 2+ says "Database does not exist.".
    if (this.status === 404 && reason === 'no_db_file') {
      reason = 'Database does not exist.';
      body = { ...body, reason };
    }
    return new UpstreamError(this.node, this.status, error, reason, body);
  }
}

export class NodeClient {
  private readonly agents = new Map<string, http.Agent>();
  /** Parsed once: a URL parse per request showed up in profiles of single-document GETs. */
  private readonly bases = new Map<string, URL>();
  private readonly auth: string | undefined;

  constructor(
    private readonly cfg: Pick<LoungeConfig, 'nodes' | 'service' | 'timeouts'>,
    private readonly health: NodeHealth,
  ) {
    this.auth = cfg.service ? 'Basic ' + Buffer.from(`${cfg.service.name}:${cfg.service.password}`).toString('base64') : undefined;
    for (const [id, node] of Object.entries(cfg.nodes)) this.addNode(id, node.url);
  }

  /** Starts talking to a node (one added at run time). */
  addNode(id: string, url: string): void {
    const opts = { keepAlive: true, maxSockets: SOCKETS_PER_NODE_MAX, maxFreeSockets: FREE_SOCKETS_PER_NODE_MAX };
    this.agents.get(id)?.destroy();
    this.agents.set(id, url.startsWith('https:') ? new https.Agent(opts) : new http.Agent(opts));
    this.bases.set(id, new URL(url));
  }

  /** Stops talking to a node that left the cluster (its sockets are closed). */
  removeNode(id: string): void {
    this.agents.get(id)?.destroy();
    this.agents.delete(id);
    this.bases.delete(id);
  }

  /** The service credential as Basic auth, for replications the lounge runs between nodes. */
  serviceAuth(): { basic: { username: string; password: string } } | undefined {
    const svc = this.cfg.service;
    return svc ? { basic: { username: svc.name, password: svc.password } } : undefined;
  }

  url(node: string): string {
    const base = this.bases.get(node);
    if (!base) throw new Error(`unknown node ${node}`);
    return base.origin;
  }

  isUp(node: string): boolean {
    return this.health.isUp(node);
  }

  /** Sends one request to a node. See the file header for the contract. */
  request(node: string, req: UpstreamRequest): Promise<UpstreamResponse> {
    const base = this.bases.get(node);
    if (!base) return Promise.reject(new UpstreamError(node, 0, 'unavailable', `node ${node} is not part of the cluster`));
    const agent = this.agents.get(node) as http.Agent;
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    if (this.auth) headers.authorization = this.auth;
    const body = typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
    if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
    const timeoutMs = req.timeoutMs ?? this.cfg.timeouts.requestMs;
    const lib = base.protocol === 'https:' ? https : http;

    return new Promise<UpstreamResponse>((resolve, reject) => {
      let settled = false;
      const fail = (msg: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.health.failure(node, msg);
        reject(new UpstreamError(node, 0, 'unavailable', `node ${node} did not answer: ${msg}`));
      };
      const r = lib.request(
        { protocol: base.protocol, hostname: base.hostname, port: base.port, method: req.method, path: req.path, headers, agent },
        (res) => {
          if (settled) {
            res.resume();
            return;
          }
          settled = true;
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          if (status >= 500) this.health.failure(node, `status ${status}`);
          else this.health.success(node);
          resolve(new UpstreamResponse(node, status, res.headers, res));
        },
      );
      const timer = setTimeout(() => {
        fail(`no answer within ${timeoutMs} ms`);
        r.destroy();
      }, timeoutMs);
      r.on('error', (e: NodeJS.ErrnoException) => {
        if (req.signal?.aborted) {
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            reject(new UpstreamError(node, 0, 'aborted', 'request aborted'));
          }
          return;
        }
        fail(e.code ?? e.message);
      });
      if (req.signal) {
        const signal = req.signal;
        if (signal.aborted) {
          r.destroy();
        } else {
          // Released when the exchange ends, so a long-lived signal (a continuous feed's)
          // does not collect one listener per request it ever made.
          const onAbort = () => r.destroy();
          signal.addEventListener('abort', onAbort, { once: true });
          r.once('close', () => signal.removeEventListener('abort', onAbort));
        }
      }
      if (body instanceof Readable) body.pipe(r);
      else r.end(body);
    });
  }

  /** A request whose answer is read whole as JSON; non-2xx answers reject with UpstreamError. */
  async json<T = unknown>(node: string, req: UpstreamRequest): Promise<{ status: number; body: T; headers: IncomingHttpHeaders }> {
    const res = await this.request(node, req);
    if (res.status >= 400) throw await res.toError();
    return { status: res.status, body: await res.json<T>(), headers: res.headers };
  }

  /**
   * `GET /_up` with a short limit; true when the node answers 200. A node without `/_up`
   * (404: CouchDB 1.x, pouchdb-server) is asked `GET /` instead.
   */
  async probe(node: string, timeoutMs: number): Promise<boolean> {
    const res = await this.request(node, { method: 'GET', path: '/_up', timeoutMs });
    res.discard();
    if (res.status !== 404) return res.status === 200;
    const root = await this.request(node, { method: 'GET', path: '/', timeoutMs });
    root.discard();
    return root.status === 200;
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
  }
}

/** Encodes a node database name for a URL path (`shards/…/db` → `shards%2F…%2Fdb`). */
export function dbPath(name: string): string {
  return '/' + encodeURIComponent(name);
}

/** Encodes a document id for a URL path; `_design/` and `_local/` keep their slash, as CouchDB expects. */
export function docPath(id: string): string {
  for (const prefix of ['_design/', '_local/']) {
    if (id.startsWith(prefix)) return prefix + encodeURIComponent(id.slice(prefix.length));
  }
  return encodeURIComponent(id);
}
