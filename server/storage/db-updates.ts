// The node's database events for `GET /_db_updates`: which databases were created, updated or
// deleted, in order. CouchDB 3 keeps them as documents `"<type>:<db name>"` in its `_global_changes`
// database and serves that database's changes feed, so a client sees each (type, database) pair
// once, at its latest occurrence; events are gathered for `max_event_delay` (25 ms) and written
// together. This log does the same without a database: one sequence number per pair, persisted in
// the node's `meta` store so `since` survives restarts.
//
// Sources: the catalog's created/deleted events, and each Database's commit notification for
// "updated" (a Database is subscribed to when it is created or, for databases that already exist,
// when this log starts: Catalog caches every Database it opens, so that is the instance writes use).
// Guarantees: an event is visible to readers and feeds at most `EVENT_DELAY_MS` after it happened;
// sequence numbers only grow; at shutdown (`close`) pending events are written before the store
// closes.

import type { Catalog } from './catalog.js';
import type { Key } from './environment.js';

export type DbUpdateType = 'created' | 'updated' | 'deleted';

export interface DbUpdate {
  dbName: string;
  type: DbUpdateType;
  seq: number;
}

/** CouchDB's `[global_changes] max_event_delay`: events are batched this long before they are recorded. */
export const EVENT_DELAY_MS = 25;

const SEQ_KEY: Key = ['_node', 'db_updates_seq'];
const eventKey = (pair: string): Key => ['_node', 'db_updates', pair];

export class DbUpdates {
  /** "type:db" → its latest sequence. Kept in sequence order (a pair moves to the end when it recurs). */
  private readonly latest = new Map<string, number>();
  private seq: number;
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly subscriptions = new Map<string, () => void>();
  private readonly stopCatalog: () => void;
  private closed = false;

  constructor(private readonly catalog: Catalog) {
    const { meta } = catalog.env.stores;
    const stored = meta.get(SEQ_KEY) as number | undefined;
    const loaded: [string, number][] = [];
    for (const { key, value } of meta.getRange({ start: ['_node', 'db_updates'], end: ['_node', 'db_updates', '\uffff'] })) {
      if (key.length === 3 && typeof key[2] === 'string') loaded.push([key[2], value as number]);
    }
    for (const [pair, seq] of loaded.sort((a, b) => a[1] - b[1])) this.latest.set(pair, seq);
    this.seq = stored ?? 0;
    const names = catalog.names();
    // The first time a node keeps this log, the databases it already has count as created.
    if (stored === undefined) for (const name of names) this.record('created', name);
    for (const name of names) this.subscribe(name);
    this.stopCatalog = catalog.onDbEvent((name, kind) => {
      this.record(kind, name);
      if (kind === 'created') this.subscribe(name);
      else this.unsubscribe(name);
    });
  }

  /** The latest sequence handed out. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Events after `since`, oldest first (`descending` reverses), each pair once at its latest. */
  since(since: number, descending = false): DbUpdate[] {
    const out: DbUpdate[] = [];
    for (const [pair, seq] of this.latest) {
      if (seq <= since) continue;
      const colon = pair.indexOf(':');
      out.push({ type: pair.slice(0, colon) as DbUpdateType, dbName: pair.slice(colon + 1), seq });
    }
    return descending ? out.reverse() : out;
  }

  /** Called after every batch of new events is recorded; returns the unsubscribe function. */
  onEvent(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Records what is pending and stops listening (call before the store closes). */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.stopCatalog();
    for (const stop of this.subscriptions.values()) stop();
    this.subscriptions.clear();
  }

  private subscribe(name: string): void {
    if (this.subscriptions.has(name)) return;
    const db = this.catalog.get(name);
    if (!db) return;
    // A deleted database wakes its listeners once more (so its feeds end): that is not an update.
    this.subscriptions.set(name, db.onChange(() => !db.dropped && this.record('updated', name)));
  }

  private unsubscribe(name: string): void {
    this.subscriptions.get(name)?.();
    this.subscriptions.delete(name);
  }

  private record(type: DbUpdateType, name: string): void {
    if (this.closed) return;
    this.pending.add(`${type}:${name}`);
    this.timer ??= setTimeout(() => this.flush(), EVENT_DELAY_MS);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const batch: [string, number][] = [];
    for (const pair of this.pending) {
      this.latest.delete(pair);
      this.latest.set(pair, ++this.seq);
      batch.push([pair, this.seq]);
    }
    this.pending.clear();
    const { root, stores } = this.catalog.env;
    const last = this.seq;
    void root
      .transaction(() => {
        for (const [pair, seq] of batch) stores.meta.put(eventKey(pair), seq);
        stores.meta.put(SEQ_KEY, last);
      })
      .catch((e: unknown) => console.error('recording database events failed', e));
    for (const l of [...this.listeners]) l();
  }
}
