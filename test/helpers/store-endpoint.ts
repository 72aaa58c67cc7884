// An in-process replication `Endpoint` over a Chaise `Database`: the replicator talks to the node's
// own store with no HTTP and no sockets, so a seeded simulation can run many replications in
// milliseconds and put its own faulty "network" in between (helpers/faulty-network.ts).
//
// It answers the way the node's HTTP routes do, from the same pure cores: `_changes` rows list
// every leaf (`style=all_docs`, winner first) from the by-sequence index; `_revs_diff` and
// `_bulk_get?revs=true&latest=true` use the rev-tree functions and `renderRevision`, attachments
// inline past `atts_since`; `_bulk_docs` is `Database.write(edits, false)` answering only the
// failed rows; `_local` docs are `0-N` counters. It follows the Endpoint contract
// (replicator/endpoint/endpoint.ts): sequences are echoed unchanged, failures reject with a
// `PeerError` carrying CouchDB's status and error name, and an aborted signal rejects promptly.
// What it leaves out: design-doc, selector and `_view` filters (only `doc_ids`), and validation
// functions (writes go straight to the store), which the simulation does not use.

import {
  PeerError,
  type BulkDocsError,
  type BulkGetItem,
  type BulkGetOptions,
  type BulkGetResult,
  type ChangeRow,
  type ChangesEvent,
  type ChangesFeedRequest,
  type ChangesPage,
  type ChangesRequest,
  type DbInfo,
  type Doc,
  type Endpoint,
  type EndpointIdentity,
  type LocalDoc,
  type RevsDiffResponse,
} from '../../replicator/index.js';
import type { Database, Edit } from '../../server/storage/database.js';
import { parseDoc } from '../../server/docs/parse-doc.js';
import { renderRevision } from '../../server/docs/read.js';
import { latestLeaves, leaves, parseRev, revsDiff } from '../../server/revtree/index.js';

/** Anything shaped like a CouchDB error (CouchError from server/, InvalidRevError, …). */
function couchShaped(err: unknown): err is { status: number; error: string; reason: string } {
  const e = err as { status?: unknown; error?: unknown; reason?: unknown } | null;
  return typeof e === 'object' && e !== null && typeof e.status === 'number' && typeof e.error === 'string' && typeof e.reason === 'string';
}

function seqNumber(seq: unknown): number {
  if (seq === undefined || seq === null || seq === 0 || seq === '0' || seq === '') return 0;
  const n = typeof seq === 'number' ? seq : Number.parseInt(String(seq), 10);
  if (!Number.isSafeInteger(n) || n < 0) throw new PeerError({ status: 400, error: 'bad_request', reason: "Malformed sequence supplied in 'since' parameter.", method: 'GET', url: '_changes' });
  return n;
}

export class StoreEndpoint implements Endpoint {
  readonly label: string;

  constructor(
    readonly db: Database,
    private readonly uuid: string,
  ) {
    this.label = `store:${db.name}`;
  }

  identity(): EndpointIdentity {
    return { kind: 'store', user: null, host: 'in-process', port: null, path: `/${this.db.name}/`, headers: [] };
  }

  /** Runs `fn` as one "request": abort first, and CouchDB-shaped failures as PeerErrors. */
  private async call<T>(method: string, what: string, signal: AbortSignal | undefined, fn: () => T | Promise<T>): Promise<T> {
    if (signal?.aborted) throw signal.reason;
    try {
      return await fn();
    } catch (err) {
      if (err instanceof PeerError || !couchShaped(err)) throw err;
      throw new PeerError({ status: err.status, error: err.error, reason: err.reason, method, url: `${this.label}/${what}` }, { cause: err });
    }
  }

  async serverUuid(): Promise<string | null> {
    return this.uuid;
  }

  dbInfo(signal?: AbortSignal): Promise<DbInfo> {
    return this.call('GET', '', signal, () => ({
      db_name: this.db.name,
      update_seq: this.db.updateSeq,
      doc_count: this.db.counters.docCount,
      doc_del_count: this.db.counters.delCount,
      instance_start_time: '0',
    }));
  }

  async createDb(): Promise<void> {
    // The simulation creates every database up front.
  }

  changes(request: ChangesRequest, signal?: AbortSignal): Promise<ChangesPage> {
    return this.call('GET', '_changes', signal, () => {
      const filter = request.filter;
      if (filter !== undefined && filter.kind !== 'doc_ids') {
        throw new PeerError({ status: 400, error: 'bad_request', reason: `filter ${filter.kind} is not supported in process`, method: 'GET', url: `${this.label}/_changes` });
      }
      const docIds = filter?.kind === 'doc_ids' ? new Set(filter.docIds) : null;
      const since = seqNumber(request.since);
      const results: ChangeRow[] = [];
      // Like the route: `last_seq` is the last row examined (filtered-out rows move it too).
      let last = since;
      if (request.limit !== 0) {
        for (const { seq, id, info } of this.db.changes(since)) {
          last = seq;
          if (docIds && !docIds.has(id)) continue;
          const revs = request.style === 'all_docs' ? leaves(info.tree).map((l) => l.rev) : [info.rev];
          const row: ChangeRow = { seq, id, changes: revs.map((rev) => ({ rev })) };
          if (info.deleted) row.deleted = true;
          results.push(row);
          if (request.limit !== undefined && results.length >= request.limit) break;
        }
      }
      return { results, last_seq: last, pending: this.db.countChangesAfter(last) };
    });
  }

  /** A longpoll loop over the store's change notifications (the simulation runs one-shot only). */
  async *changesFeed(request: ChangesFeedRequest, signal?: AbortSignal): AsyncGenerator<ChangesEvent> {
    let since = request.since;
    for (;;) {
      const page = await this.changes({ ...request, since }, signal);
      if (page.results.length > 0) yield { kind: 'rows', rows: page.results };
      yield { kind: 'last_seq', lastSeq: page.last_seq };
      since = page.last_seq;
      if (page.results.length > 0) continue;
      await new Promise<void>((resolve, reject) => {
        const stop = this.db.onChange(() => done(resolve));
        const onAbort = (): void => done(() => reject(signal?.reason));
        const done = (then: () => void): void => {
          stop();
          signal?.removeEventListener('abort', onAbort);
          then();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  revsDiff(revs: { [docId: string]: string[] }, signal?: AbortSignal): Promise<RevsDiffResponse> {
    return this.call('POST', '_revs_diff', signal, () => {
      const out: RevsDiffResponse = {};
      for (const [id, list] of Object.entries(revs)) {
        const diff = revsDiff(this.db.docInfo(id)?.tree ?? [], list);
        if (diff.missing.length === 0) continue;
        out[id] = diff.possibleAncestors.length > 0 ? { missing: diff.missing, possible_ancestors: diff.possibleAncestors } : { missing: diff.missing };
      }
      return out;
    });
  }

  bulkGet(items: BulkGetItem[], options: BulkGetOptions, signal?: AbortSignal): Promise<BulkGetResult[]> {
    return this.call('POST', '_bulk_get', signal, () => {
      const out: BulkGetResult[] = [];
      for (const item of items) {
        const missing = (rev: string): BulkGetResult => ({ error: { id: item.id, rev, error: 'not_found', reason: 'missing' } });
        const info = this.db.docInfo(item.id);
        const parsed = parseRev(item.rev);
        if (!info || !parsed) {
          out.push(missing(item.rev));
          continue;
        }
        // `latest=true`: a revision that is no longer a leaf answers with the leaves that descend from it.
        const found = latestLeaves(info.tree, parsed);
        const revs = found.length > 0 ? found.map((l) => l.rev) : [item.rev];
        for (const rev of revs) {
          const text = renderRevision(this.db, item.id, info, rev, {
            revs: true,
            attachments: options.attachments,
            ...(item.atts_since ? { attsSince: item.atts_since } : {}),
          });
          out.push(text === undefined ? missing(rev) : { ok: JSON.parse(text) as Doc });
        }
      }
      return out;
    });
  }

  bulkDocs(docs: Doc[], signal?: AbortSignal): Promise<BulkDocsError[]> {
    return this.call('POST', '_bulk_docs', signal, async () => {
      // Parse everything first: a malformed member fails the whole request, as in CouchDB.
      const edits: Edit[] = docs.map((doc) => {
        const parsed = parseDoc(doc);
        if (parsed.id === undefined || (parsed.rev === undefined && parsed.revisions === undefined)) {
          throw new PeerError({ status: 400, error: 'bad_request', reason: 'When `new_edits: false`, the document needs `_rev` or `_revisions` specified', method: 'POST', url: `${this.label}/_bulk_docs` });
        }
        return { id: parsed.id, doc: parsed };
      });
      const results = await this.db.write(edits, false);
      const errors: BulkDocsError[] = [];
      for (const r of results) if (r !== null && 'error' in r) errors.push({ id: r.id, ...(r.rev !== undefined ? { rev: r.rev } : {}), error: r.error, reason: r.reason });
      return errors;
    });
  }

  getDoc(id: string, signal?: AbortSignal): Promise<Doc | null> {
    return this.call('GET', id, signal, () => {
      const info = this.db.docInfo(id);
      if (!info || info.deleted) return null;
      const text = renderRevision(this.db, id, info, info.rev, {});
      return text === undefined ? null : (JSON.parse(text) as Doc);
    });
  }

  getAttachment(docId: string, name: string, rev: string, signal?: AbortSignal): Promise<Buffer> {
    return this.call('GET', `${docId}/${name}`, signal, () => {
      const stub = this.db.body(docId, rev)?.atts?.[name];
      const data = stub ? this.db.attachmentData(stub) : undefined;
      if (!data) throw new PeerError({ status: 404, error: 'not_found', reason: 'Document is missing attachment', method: 'GET', url: `${this.label}/${docId}/${name}` });
      return Buffer.from(data);
    });
  }

  getLocal(id: string, signal?: AbortSignal): Promise<LocalDoc | null> {
    return this.call('GET', `_local/${id}`, signal, () => {
      const record = this.db.localDoc(`_local/${id}`);
      if (!record) return null;
      return { _id: `_local/${id}`, _rev: `0-${record.rev}`, ...(JSON.parse(record.json) as object) };
    });
  }

  putLocal(doc: LocalDoc, signal?: AbortSignal): Promise<string> {
    return this.call('PUT', doc._id, signal, () => {
      const id = doc._id.startsWith('_local/') ? doc._id : `_local/${doc._id}`;
      return this.db.putLocal(id, parseDoc(doc));
    });
  }

  async ensureFullCommit(): Promise<void> {
    // Every write is durable before it is answered.
  }

  async close(): Promise<void> {
    // Nothing to release: no sockets, no timers.
  }
}
