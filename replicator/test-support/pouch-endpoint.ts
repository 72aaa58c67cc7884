// Test support: an in-process `Endpoint` over a PouchDB database (memory adapter).
//
// It proves the Endpoint interface can be implemented without sockets (what
// the seeded simulation will do over Chaise's own store), and it gives tests
// a real, independent CouchDB-semantics peer with features pouchdb-server's
// HTTP layer lacks (pouchdb-server crashes on `filter=_selector`). Revision
// trees, winners, conflicts, attachments and selectors are PouchDB's own.

import { createRequire } from 'node:module';
import { PeerError } from '../errors.js';
import type {
  BulkDocsError,
  BulkGetItem,
  BulkGetOptions,
  BulkGetResult,
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
} from '../endpoint/endpoint.js';

const require = createRequire(import.meta.url);

// pouchdb ships no types; this is the little we use.
/* eslint-disable @typescript-eslint/no-explicit-any */
export type PouchDb = any;

let PouchDBClass: any = null;

/** A fresh in-memory PouchDB database. */
export function memoryPouch(name: string): PouchDb {
  if (!PouchDBClass) {
    PouchDBClass = require('pouchdb');
    PouchDBClass.plugin(require('pouchdb-adapter-memory'));
  }
  return new PouchDBClass(name, { adapter: 'memory' });
}

function peerError(err: any, method: string, what: string): PeerError {
  return new PeerError({
    status: typeof err?.status === 'number' ? err.status : 500,
    error: typeof err?.name === 'string' ? err.name : 'error',
    reason: typeof err?.reason === 'string' ? err.reason : String(err?.message ?? err),
    method,
    url: what,
  });
}

export class PouchEndpoint implements Endpoint {
  readonly label: string;

  constructor(
    readonly db: PouchDb,
    readonly name: string,
    private readonly uuid = `pouch-${name}`,
  ) {
    this.label = `pouch:${name}`;
  }

  identity(): EndpointIdentity {
    return { kind: 'pouch', user: null, host: 'memory', port: null, path: `/${this.name}/`, headers: [] };
  }

  async serverUuid(): Promise<string | null> {
    return this.uuid;
  }

  async dbInfo(): Promise<DbInfo> {
    const info = await this.db.info();
    return { ...info, instance_start_time: '0' };
  }

  async createDb(): Promise<void> {}

  private changesOptions(request: ChangesRequest): any {
    const opts: any = { since: request.since, style: request.style, include_docs: request.includeDocs === true };
    if (request.limit !== undefined) opts.limit = request.limit;
    const f = request.filter;
    if (f?.kind === 'doc_ids') opts.doc_ids = f.docIds;
    if (f?.kind === 'selector') opts.selector = f.selector;
    if (f?.kind === 'design') {
      opts.filter = f.name;
      opts.query_params = f.queryParams;
    }
    if (f?.kind === 'view') {
      opts.filter = '_view';
      opts.view = f.view;
    }
    return opts;
  }

  async changes(request: ChangesRequest): Promise<ChangesPage> {
    try {
      const res = await this.db.changes(this.changesOptions(request));
      return { results: res.results, last_seq: res.last_seq };
    } catch (err) {
      throw peerError(err, 'GET', `${this.label}/_changes`);
    }
  }

  async *changesFeed(request: ChangesFeedRequest, signal?: AbortSignal): AsyncGenerator<ChangesEvent> {
    // A longpoll loop over the local changes feed: wait for a change, then read.
    let since = request.since;
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const page = await this.changes({ ...request, since });
      if (page.results.length > 0) {
        yield { kind: 'rows', rows: page.results };
        yield { kind: 'last_seq', lastSeq: page.last_seq };
        since = page.last_seq;
        continue;
      }
      await new Promise<void>((resolve, reject) => {
        const feed = this.db.changes({ since, live: true, limit: 1 });
        const done = (): void => {
          signal?.removeEventListener('abort', onAbort);
          feed.cancel();
        };
        const onAbort = (): void => {
          done();
          reject(signal?.reason);
        };
        feed.on('change', () => {
          done();
          resolve();
        });
        feed.on('error', (err: unknown) => {
          done();
          reject(err);
        });
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  async revsDiff(revs: { [docId: string]: string[] }): Promise<RevsDiffResponse> {
    return this.db.revsDiff(revs);
  }

  async bulkGet(items: BulkGetItem[], options: BulkGetOptions): Promise<BulkGetResult[]> {
    const res = await this.db.bulkGet({ docs: items.map(({ id, rev }) => ({ id, rev })), revs: true, latest: true, attachments: options.attachments });
    const out: BulkGetResult[] = [];
    for (const result of res.results) for (const doc of result.docs) out.push(doc);
    return out;
  }

  async bulkDocs(docs: Doc[]): Promise<BulkDocsError[]> {
    try {
      const res = await this.db.bulkDocs(docs, { new_edits: false });
      return (res as any[]).filter((r) => r && r.error).map((r) => ({ id: r.id, error: r.name ?? String(r.error), reason: r.reason ?? r.message ?? '' }));
    } catch (err) {
      throw peerError(err, 'POST', `${this.label}/_bulk_docs`);
    }
  }

  async getDoc(id: string): Promise<Doc | null> {
    try {
      return await this.db.get(id);
    } catch (err: any) {
      if (err?.status === 404) return null;
      throw peerError(err, 'GET', `${this.label}/${id}`);
    }
  }

  async getAttachment(docId: string, name: string, rev: string): Promise<Buffer> {
    const blob = await this.db.getAttachment(docId, name, { rev });
    return Buffer.isBuffer(blob) ? blob : Buffer.from(blob);
  }

  async getLocal(id: string): Promise<LocalDoc | null> {
    try {
      return await this.db.get(`_local/${id}`);
    } catch (err: any) {
      if (err?.status === 404) return null;
      throw peerError(err, 'GET', `${this.label}/_local/${id}`);
    }
  }

  async putLocal(doc: LocalDoc): Promise<string> {
    try {
      const res = await this.db.put(doc);
      return res.rev;
    } catch (err) {
      throw peerError(err, 'PUT', `${this.label}/${doc._id}`);
    }
  }

  async ensureFullCommit(): Promise<void> {}

  async close(): Promise<void> {}
}
