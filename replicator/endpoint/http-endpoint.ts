// `HttpEndpoint`: the `Endpoint` interface over CouchDB's REST API.
//
// It speaks to any CouchDB-API server (Apache CouchDB, pouchdb-server, a
// Chaise node, a lounge). Where peers differ it adapts, as the CouchDB and
// PouchDB replicators do:
// - `_bulk_get` is probed once; a peer without it (404/405/501) is read with
//   `GET /db/doc?open_revs=[...]&revs=true&latest=true` (JSON) instead, a few
//   documents at a time.
// - Filtered feeds use `POST _changes?filter=_doc_ids|_selector` with the list
//   or selector in the body, and `GET _changes?filter=ddoc/name&<query_params>`
//   for design filters.
// - Live feeds are `feed=continuous` with heartbeats (one open response), or
//   repeated `feed=longpoll` requests for peers that stream badly.
// Credentials stay in the `authorization` header; `label` masks them.

import type { ReplicatorMetrics } from '../metrics.js';
import type { IncomingMessage } from 'node:http';
import { PeerError } from '../errors.js';
import { realClock, type Clock, type Random } from '../clock.js';
import { REQUEST_BACKOFF, RETRIES_PER_REQUEST_DEFAULT, type BackoffPolicy } from '../retry/backoff.js';
import { HttpClient, type HttpRequest } from './http-client.js';
import { LineSplitter } from './json-lines.js';
import { parsePeer, peerIdentity, type LocalNode, type PeerSpec } from './peer.js';
import type {
  BulkDocsError,
  BulkGetItem,
  BulkGetOptions,
  BulkGetResult,
  ChangeRow,
  ChangesEvent,
  ChangesFeedRequest,
  ChangesPage,
  ChangesRequest,
  DbInfo,
  Doc,
  Endpoint,
  EndpointIdentity,
  LocalDoc,
  RevsDiffResponse,
} from './endpoint.js';

/** CouchDB's `http_connections` default. */
export const HTTP_CONNECTIONS_DEFAULT = 20;
/** CouchDB's `connection_timeout` default. */
export const CONNECTION_TIMEOUT_MS_DEFAULT = 30_000;
/** PouchDB's live-sync heartbeat; short enough to notice a dead peer within seconds. */
export const HEARTBEAT_MS_DEFAULT = 10_000;
/** PouchDB gives a heartbeat this much slack before it calls a feed dead. */
const HEARTBEAT_SLACK_MS = 5_000;

/** How long a live feed may stay silent: one heartbeat plus slack (at most 5 s, at most one more heartbeat). */
export function feedIdleTimeoutMs(heartbeatMs: number): number {
  return heartbeatMs + Math.min(HEARTBEAT_SLACK_MS, heartbeatMs);
}
/** PouchDB's `MAX_SIMULTANEOUS_REVS`: revisions per `open_revs` request in the `_bulk_get` fallback. */
export const OPEN_REVS_PER_REQUEST_MAX = 50;
/** Concurrent `open_revs` requests in the fallback: enough to hide latency, few enough to spare the peer. */
export const OPEN_REVS_CONCURRENCY = 8;

export interface HttpEndpointOptions {
  connections: number;
  timeoutMs: number;
  retries: number;
  backoff: BackoffPolicy;
  clock: Clock;
  random: Random;
  /** Skip the probe and go straight to `open_revs` (CouchDB's `use_bulk_get: false`). */
  useBulkGet: boolean;
  /** Where requests and answers are counted, if anywhere. */
  metrics?: ReplicatorMetrics | undefined;
}

export const HTTP_ENDPOINT_DEFAULTS: HttpEndpointOptions = {
  connections: HTTP_CONNECTIONS_DEFAULT,
  timeoutMs: CONNECTION_TIMEOUT_MS_DEFAULT,
  retries: RETRIES_PER_REQUEST_DEFAULT,
  backoff: REQUEST_BACKOFF,
  clock: realClock,
  random: Math.random,
  useBulkGet: true,
};

/** `_design/x` keeps its slash (CouchDB accepts both); every other id is one escaped path segment. */
export function encodeDocId(id: string): string {
  if (id.startsWith('_design/')) return '_design/' + encodeURIComponent(id.slice('_design/'.length));
  return encodeURIComponent(id);
}

/** `since` goes out as-is when it is a string (CouchDB 2+/3 seqs), as JSON otherwise. */
export function encodeSeq(seq: unknown): string {
  return typeof seq === 'string' ? seq : JSON.stringify(seq ?? 0);
}

function isChangesEnd(line: { [key: string]: unknown }): boolean {
  return 'last_seq' in line && !('id' in line);
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

export class HttpEndpoint implements Endpoint {
  readonly label: string;
  readonly peer: PeerSpec;
  private readonly client: HttpClient;
  private readonly options: HttpEndpointOptions;
  /** null until the first `_bulk_get` tells us. */
  private bulkGetSupported: boolean | null;

  constructor(peer: PeerSpec, options: Partial<HttpEndpointOptions> = {}) {
    this.peer = peer;
    this.label = peer.label;
    this.options = { ...HTTP_ENDPOINT_DEFAULTS, ...options };
    this.bulkGetSupported = this.options.useBulkGet ? null : false;
    this.client = new HttpClient(peer.headers, this.options);
  }

  /** Parses a `source`/`target` value (string or object) and connects lazily. */
  static from(input: unknown, what = 'endpoint', local?: LocalNode, options: Partial<HttpEndpointOptions> = {}): HttpEndpoint {
    return new HttpEndpoint(parsePeer(input, what, local), options);
  }

  identity(): EndpointIdentity {
    return peerIdentity(this.peer);
  }

  /** A URL under the database (`rel` must not start with `/`). */
  dbUrl(rel = ''): URL {
    return new URL(rel, this.peer.url);
  }

  private req(method: string, url: URL, signal: AbortSignal | undefined, body?: string): HttpRequest {
    const req: HttpRequest = { method, url, signal };
    if (body !== undefined) req.body = body;
    return req;
  }

  async serverUuid(signal?: AbortSignal): Promise<string | null> {
    const { body } = await this.client.json<{ uuid?: unknown }>(this.req('GET', new URL('../', this.peer.url), signal));
    return typeof body.uuid === 'string' ? body.uuid : null;
  }

  async dbInfo(signal?: AbortSignal): Promise<DbInfo> {
    const { body } = await this.client.json<DbInfo>(this.req('GET', this.dbUrl(), signal));
    return body;
  }

  async createDb(params: { [key: string]: string }, signal?: AbortSignal): Promise<void> {
    const url = this.dbUrl();
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const req = this.req('PUT', url, signal);
    const res = await this.client.request(req);
    if (res.status === 412 || res.status < 300) return;
    throw this.client.answerError(req, res);
  }

  private changesHttp(request: ChangesRequest, feed: string, extra: { [k: string]: string }, signal?: AbortSignal): HttpRequest {
    const url = this.dbUrl('_changes');
    const q = url.searchParams;
    q.set('feed', feed);
    q.set('style', request.style);
    q.set('since', encodeSeq(request.since));
    if (request.limit !== undefined) q.set('limit', String(request.limit));
    if (request.includeDocs) q.set('include_docs', 'true');
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    let body: string | undefined;
    const filter = request.filter;
    if (filter) {
      switch (filter.kind) {
        case 'doc_ids':
          q.set('filter', '_doc_ids');
          body = JSON.stringify({ doc_ids: filter.docIds });
          break;
        case 'selector':
          q.set('filter', '_selector');
          body = JSON.stringify({ selector: filter.selector });
          break;
        case 'design':
          for (const [k, v] of Object.entries(filter.queryParams)) q.set(k, v);
          q.set('filter', filter.name);
          break;
        case 'view':
          for (const [k, v] of Object.entries(filter.queryParams)) q.set(k, v);
          q.set('filter', '_view');
          q.set('view', filter.view);
          break;
      }
    }
    return this.req(body === undefined ? 'GET' : 'POST', url, signal, body);
  }

  async changes(request: ChangesRequest, signal?: AbortSignal): Promise<ChangesPage> {
    const { body } = await this.client.json<ChangesPage>(this.changesHttp(request, 'normal', {}, signal));
    if (!body || !Array.isArray(body.results)) {
      throw new PeerError({ status: 0, error: 'bad_response', reason: '_changes answer without results', method: 'GET', url: this.dbUrl('_changes').href });
    }
    return body;
  }

  changesFeed(request: ChangesFeedRequest, signal?: AbortSignal): AsyncIterable<ChangesEvent> {
    return request.feed === 'longpoll' ? this.longpollFeed(request, signal) : this.continuousFeed(request, signal);
  }

  private async *longpollFeed(request: ChangesFeedRequest, signal?: AbortSignal): AsyncGenerator<ChangesEvent> {
    let since = request.since;
    for (;;) {
      const req = this.changesHttp({ ...request, since }, 'longpoll', { heartbeat: String(request.heartbeatMs) }, signal);
      req.timeoutMs = feedIdleTimeoutMs(request.heartbeatMs);
      const { body } = await this.client.json<ChangesPage>(req);
      if (body.results.length > 0) yield { kind: 'rows', rows: body.results };
      yield { kind: 'last_seq', lastSeq: body.last_seq };
      since = body.last_seq;
    }
  }

  private async *continuousFeed(request: ChangesFeedRequest, signal?: AbortSignal): AsyncGenerator<ChangesEvent> {
    const req = this.changesHttp(request, 'continuous', { heartbeat: String(request.heartbeatMs) }, signal);
    // The socket idle timeout doubles as the heartbeat watchdog.
    req.timeoutMs = feedIdleTimeoutMs(request.heartbeatMs);
    const res: IncomingMessage = await this.client.open(req);
    if ((res.statusCode ?? 0) >= 400) {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      throw this.client.answerError(req, { status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
    }
    const splitter = new LineSplitter();
    const onAbort = (): void => {
      res.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const chunk of res) {
        const rows: ChangeRow[] = [];
        for (const line of splitter.push(chunk as Buffer)) {
          if (line.trim() === '') continue; // heartbeat
          const parsed = JSON.parse(line) as { [key: string]: unknown };
          if (isChangesEnd(parsed)) {
            if (rows.length > 0) yield { kind: 'rows', rows };
            yield { kind: 'last_seq', lastSeq: parsed['last_seq'] };
            return;
          }
          rows.push(parsed as unknown as ChangeRow);
        }
        if (rows.length > 0) yield { kind: 'rows', rows };
      }
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof PeerError) throw err;
      throw new PeerError({ status: 0, error: 'feed_broken', reason: err instanceof Error ? err.message : String(err), method: req.method, url: req.url.href }, { cause: err });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      res.destroy();
    }
  }

  async revsDiff(revs: { [docId: string]: string[] }, signal?: AbortSignal): Promise<RevsDiffResponse> {
    const { body } = await this.client.json<RevsDiffResponse>(this.req('POST', this.dbUrl('_revs_diff'), signal, JSON.stringify(revs)));
    return body;
  }

  async bulkGet(items: BulkGetItem[], options: BulkGetOptions, signal?: AbortSignal): Promise<BulkGetResult[]> {
    if (items.length === 0) return [];
    if (this.bulkGetSupported !== false) {
      const url = this.dbUrl('_bulk_get');
      url.searchParams.set('revs', 'true');
      url.searchParams.set('latest', 'true');
      if (options.attachments) url.searchParams.set('attachments', 'true');
      const req = this.req('POST', url, signal, JSON.stringify({ docs: items }));
      const res = await this.client.request(req);
      if (res.status < 300) {
        this.bulkGetSupported = true;
        let body: { results?: { id: string; docs?: BulkGetResult[] }[] };
        try {
          body = JSON.parse(res.body.toString('utf8')) as typeof body;
        } catch (err) {
          throw new PeerError({ status: 0, error: 'bad_response', reason: 'invalid JSON from _bulk_get', method: 'POST', url: url.href }, { cause: err });
        }
        if (!Array.isArray(body.results)) {
          throw new PeerError({ status: 0, error: 'bad_response', reason: '_bulk_get answer without results', method: 'POST', url: url.href });
        }
        const out: BulkGetResult[] = [];
        for (const result of body.results) for (const doc of result.docs ?? []) out.push(doc);
        return out;
      }
      if (res.status === 404 || res.status === 405 || res.status === 501) {
        // The peer has no `_bulk_get`; it will not grow one mid-replication.
        this.bulkGetSupported = false;
      } else if (res.status !== 400) {
        throw this.client.answerError(req, res);
      }
      // CouchDB's replicator also falls back on a 400 (e.g. a proxy rejecting the body).
    }
    return this.openRevs(items, options, signal);
  }

  /** The `_bulk_get` fallback: `GET /db/doc?open_revs=[...]`, JSON answers. */
  private async openRevs(items: BulkGetItem[], options: BulkGetOptions, signal?: AbortSignal): Promise<BulkGetResult[]> {
    const byId = new Map<string, { revs: string[]; attsSince: Set<string> }>();
    for (const item of items) {
      let entry = byId.get(item.id);
      if (!entry) byId.set(item.id, (entry = { revs: [], attsSince: new Set() }));
      entry.revs.push(item.rev);
      for (const rev of item.atts_since ?? []) entry.attsSince.add(rev);
    }
    const requests: { id: string; revs: string[]; attsSince: string[] }[] = [];
    for (const [id, entry] of byId) {
      for (let i = 0; i < entry.revs.length; i += OPEN_REVS_PER_REQUEST_MAX) {
        requests.push({ id, revs: entry.revs.slice(i, i + OPEN_REVS_PER_REQUEST_MAX), attsSince: [...entry.attsSince] });
      }
    }
    const answers = await mapLimit(requests, Math.min(OPEN_REVS_CONCURRENCY, this.options.connections), async (r) => {
      const url = this.dbUrl(encodeDocId(r.id));
      url.searchParams.set('revs', 'true');
      url.searchParams.set('latest', 'true');
      url.searchParams.set('open_revs', JSON.stringify(r.revs));
      if (options.attachments) {
        url.searchParams.set('attachments', 'true');
        if (r.attsSince.length > 0) url.searchParams.set('atts_since', JSON.stringify(r.attsSince));
      }
      const req = this.req('GET', url, signal);
      const res = await this.client.request(req);
      const out: BulkGetResult[] = [];
      if (res.status === 404) {
        for (const rev of r.revs) out.push({ error: { id: r.id, rev, error: 'not_found', reason: 'missing' } });
        return out;
      }
      if (res.status >= 400) throw this.client.answerError(req, res);
      const body = JSON.parse(res.body.toString('utf8')) as ({ ok: Doc } | { missing: string })[];
      for (const entry of body) {
        if ('ok' in entry) out.push({ ok: entry.ok });
        else out.push({ error: { id: r.id, rev: entry.missing, error: 'not_found', reason: 'missing' } });
      }
      return out;
    });
    return answers.flat();
  }

  async bulkDocs(docs: Doc[], signal?: AbortSignal): Promise<BulkDocsError[]> {
    if (docs.length === 0) return [];
    const body = `{"new_edits":false,"docs":${JSON.stringify(docs)}}`;
    const { body: rows } = await this.client.json<unknown>(this.req('POST', this.dbUrl('_bulk_docs'), signal, body));
    if (!Array.isArray(rows)) return [];
    const errors: BulkDocsError[] = [];
    for (const row of rows as { [k: string]: unknown }[]) {
      if (row && typeof row['error'] === 'string') {
        const e: BulkDocsError = { id: String(row['id']), error: row['error'], reason: typeof row['reason'] === 'string' ? row['reason'] : '' };
        if (typeof row['rev'] === 'string') e.rev = row['rev'];
        errors.push(e);
      }
    }
    return errors;
  }

  async getDoc(id: string, signal?: AbortSignal): Promise<Doc | null> {
    const req = this.req('GET', this.dbUrl(encodeDocId(id)), signal);
    const res = await this.client.request(req);
    if (res.status === 404) return null;
    if (res.status >= 400) throw this.client.answerError(req, res);
    return JSON.parse(res.body.toString('utf8')) as Doc;
  }

  /** `PUT /db/doc` (used by the scheduler to record terminal states in `_replicator` docs). */
  async putDoc(doc: Doc, signal?: AbortSignal): Promise<string> {
    const { body } = await this.client.json<{ rev: string }>(this.req('PUT', this.dbUrl(encodeDocId(doc._id)), signal, JSON.stringify(doc)));
    return body.rev;
  }

  async getAttachment(docId: string, name: string, rev: string, signal?: AbortSignal): Promise<Buffer> {
    const path = `${encodeDocId(docId)}/${name.split('/').map(encodeURIComponent).join('/')}`;
    const url = this.dbUrl(path);
    url.searchParams.set('rev', rev);
    const req: HttpRequest = { method: 'GET', url, signal, headers: { accept: '*/*' } };
    const res = await this.client.request(req);
    if (res.status >= 400) throw this.client.answerError(req, res);
    return res.body;
  }

  async getLocal(id: string, signal?: AbortSignal): Promise<LocalDoc | null> {
    const req = this.req('GET', this.dbUrl(`_local/${encodeURIComponent(id)}`), signal);
    const res = await this.client.request(req);
    if (res.status === 404) return null;
    if (res.status >= 400) throw this.client.answerError(req, res);
    return JSON.parse(res.body.toString('utf8')) as LocalDoc;
  }

  async putLocal(doc: LocalDoc, signal?: AbortSignal): Promise<string> {
    const id = doc._id.startsWith('_local/') ? doc._id.slice('_local/'.length) : doc._id;
    const { body } = await this.client.json<{ rev: string }>(this.req('PUT', this.dbUrl(`_local/${encodeURIComponent(id)}`), signal, JSON.stringify(doc)));
    return body.rev;
  }

  async ensureFullCommit(signal?: AbortSignal): Promise<void> {
    const req = this.req('POST', this.dbUrl('_ensure_full_commit'), signal, '{}');
    const res = await this.client.request(req);
    // A peer without the endpoint commits on its own; only real failures matter.
    if (res.status >= 400 && res.status !== 404 && res.status !== 405) throw this.client.answerError(req, res);
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
