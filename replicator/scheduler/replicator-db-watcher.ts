// Watches one `_replicator` database over HTTP and reports its documents.
//
// It is a plain CouchDB client of the node's own URL, so it works against any
// server (a Chaise node, or pouchdb-server in tests) and needs no hook into
// the storage engine. On start it creates the database if asked, reads every
// document (`_changes?include_docs=true` from 0, so a restarted node picks its
// jobs up again), then follows the live feed. A deleted document is reported
// as null. If the database disappears (404) the watcher reports it gone and
// waits for it to come back. Design documents are skipped, as in CouchDB.

import { debuglog } from 'node:util';
import { PeerError } from '../errors.js';
import type { Clock, Random } from '../clock.js';
import type { ChangeRow, Doc, Seq } from '../endpoint/endpoint.js';
import type { HttpEndpoint } from '../endpoint/http-endpoint.js';
import { backoffDelayMs, type BackoffPolicy } from '../retry/backoff.js';

const log = debuglog('chaise:replicator');

/** Replicator documents read per `_changes` page while catching up. */
export const REPLICATOR_DB_PAGE_SIZE = 500;
/** Pause before reopening a feed the node closed on its own. */
export const FEED_REOPEN_PAUSE_MS = 250;
/** Retry pace when the node or the database is unavailable. */
export const WATCHER_RETRY_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 30_000 };

export interface WatcherOptions {
  clock: Clock;
  random: Random;
  heartbeatMs: number;
  feed: 'continuous' | 'longpoll';
  createIfMissing: boolean;
}

export class ReplicatorDbWatcher {
  private readonly controller = new AbortController();
  private loop: Promise<void> | null = null;
  private markReady: () => void = () => undefined;
  /** Resolves once every existing document has been reported (or the watcher closed). */
  readonly ready: Promise<void>;

  constructor(
    readonly database: string,
    private readonly endpoint: HttpEndpoint,
    private readonly onDoc: (docId: string, doc: Doc | null) => void,
    private readonly onGone: () => void,
    private readonly options: WatcherOptions,
  ) {
    this.ready = new Promise((resolve) => {
      this.markReady = resolve;
    });
  }

  start(): void {
    this.loop ??= this.run();
  }

  private handle(rows: ChangeRow[]): void {
    for (const row of rows) {
      if (row.id.startsWith('_design/')) continue;
      if (row.deleted || !row.doc) this.onDoc(row.id, null);
      else this.onDoc(row.id, row.doc);
    }
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    const { clock, random } = this.options;
    let since: Seq = 0;
    let failures = 0;
    while (!signal.aborted) {
      try {
        await this.ensureDb(signal);
        for (;;) {
          const page = await this.endpoint.changes({ since, limit: REPLICATOR_DB_PAGE_SIZE, style: 'main_only', includeDocs: true }, signal);
          this.handle(page.results);
          since = page.last_seq;
          if (page.results.length < REPLICATOR_DB_PAGE_SIZE) break;
        }
        this.markReady();
        failures = 0;
        const feed = this.endpoint.changesFeed({ since, style: 'main_only', includeDocs: true, heartbeatMs: this.options.heartbeatMs, feed: this.options.feed }, signal);
        for await (const event of feed) {
          if (event.kind === 'rows') {
            this.handle(event.rows);
            const last = event.rows[event.rows.length - 1];
            if (last) since = last.seq;
          } else {
            since = event.lastSeq;
          }
        }
        // The node closed the feed (a timeout, a restart): reopen after a breath.
        await clock.sleep(FEED_REOPEN_PAUSE_MS, signal);
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof PeerError && err.status === 404) {
          log('replicator database %s is gone', this.database);
          this.onGone();
          since = 0;
        } else {
          log('watching %s failed: %s', this.database, err instanceof Error ? err.message : String(err));
        }
        failures++;
        try {
          await clock.sleep(backoffDelayMs(failures - 1, WATCHER_RETRY_BACKOFF, random), signal);
        } catch {
          break;
        }
      }
    }
    this.markReady();
  }

  private async ensureDb(signal: AbortSignal): Promise<void> {
    try {
      await this.endpoint.dbInfo(signal);
    } catch (err) {
      if (err instanceof PeerError && err.status === 404 && this.options.createIfMissing) {
        await this.endpoint.createDb({}, signal);
        return;
      }
      throw err;
    }
  }

  /** Stops watching; idempotent. */
  async close(): Promise<void> {
    this.controller.abort();
    this.markReady();
    await this.loop;
    await this.endpoint.close();
  }
}
