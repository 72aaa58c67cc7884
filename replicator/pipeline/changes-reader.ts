// Reads the source's `_changes` and cuts it into batches for the workers.
//
// Catching up, it pages through `feed=normal&limit=<batch size>` (each page is
// one batch, fetched while workers copy the previous ones). A one-shot
// replication stops at the first short page. A continuous one then switches
// to a live feed (`feed=continuous` with heartbeats, or repeated longpolls),
// gathering rows into batches that are flushed when full or when the feed
// pauses. A live feed that breaks is reopened from the last sequence seen,
// after a backoff; a 4xx (the source deleted, access revoked) ends the job.
// Every batch is registered with the SeqTracker in reading order, so
// checkpoints only ever claim a prefix of the feed.

import { debuglog } from 'node:util';
import { PeerError } from '../errors.js';
import { backoffDelayMs, isRetryableStatus, type BackoffPolicy } from '../retry/backoff.js';
import type { Clock, Random } from '../clock.js';
import type { ChangeRow, ChangesEvent, ChangesFilter, Endpoint, Seq } from '../endpoint/endpoint.js';
import type { BatchQueue } from './batch-queue.js';
import type { SeqTracker } from './seq-tracker.js';

const log = debuglog('chaise:replicator');

/**
 * Worker batches per `_changes` page while catching up. Reading the feed is
 * the one serial stage of the pipeline, so its per-request cost caps the
 * whole replication; four batches per request kept four workers busy in
 * measurements against Chaise nodes (2,000 rows per page instead of 500 took
 * node→node replication of 100k docs from ~16k to ~24k docs/s).
 */
export const CHANGES_PAGE_BATCHES = 4;

/** How long a live feed may pause before a partial batch goes to the workers: short, so single edits replicate promptly. */
export const LIVE_FLUSH_DELAY_MS = 20;
/** A live feed that broke is reopened after this backoff (doubling per consecutive failure). */
export const FEED_RECONNECT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 30_000 };
/** Pause before reopening a live feed that the peer closed at once with nothing in it. */
export const FEED_REOPEN_PAUSE_MS = 1_000;
/** Consecutive broken live feeds tolerated before the job is declared crashed (the scheduler then restarts it). */
export const FEED_RECONNECTS_MAX = 10;

export interface Batch {
  index: number;
  rows: ChangeRow[];
  lastSeq: Seq;
}

export interface ChangesReaderOptions {
  since: Seq;
  filter: ChangesFilter | undefined;
  style: 'all_docs' | 'main_only';
  batchSize: number;
  /** Batches read per `_changes` request while catching up (see CHANGES_PAGE_BATCHES). */
  batchesPerPage: number;
  continuous: boolean;
  feed: 'continuous' | 'longpoll';
  heartbeatMs: number;
  clock: Clock;
  random: Random;
}

/** Sequences are opaque: equal means equal JSON. */
export function sameSeq(a: Seq, b: Seq): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

const PAUSED = Symbol('paused');

export class ChangesReader {
  /** The feed position: the last sequence read (not necessarily copied). */
  lastSeq: Seq;
  /** Changes the source still has beyond `lastSeq`, when the peer says (`pending`); null when unknown. */
  pending: number | null = null;
  /** Rows read so far this session. */
  rowsRead = 0;

  constructor(
    private readonly source: Endpoint,
    private readonly options: ChangesReaderOptions,
  ) {
    this.lastSeq = options.since;
  }

  /** Reads until the feed ends (one-shot) or the signal aborts (continuous). Closes the queue when done. */
  async run(queue: BatchQueue<Batch>, tracker: SeqTracker, signal: AbortSignal): Promise<void> {
    const emit = async (rows: ChangeRow[], lastSeq: Seq): Promise<void> => {
      this.rowsRead += rows.length;
      const index = tracker.add(lastSeq);
      await queue.put({ index, rows, lastSeq });
    };
    await this.catchUp(emit, signal);
    if (!this.options.continuous) {
      queue.close();
      return;
    }
    this.pending = 0;
    await this.live(emit, signal);
  }

  private async catchUp(emit: (rows: ChangeRow[], lastSeq: Seq) => Promise<void>, signal: AbortSignal): Promise<void> {
    const { batchSize, filter, style } = this.options;
    const pageSize = batchSize * this.options.batchesPerPage;
    for (;;) {
      const request = { since: this.lastSeq, limit: pageSize, style, ...(filter ? { filter } : {}) };
      const page = await this.source.changes(request, signal);
      this.pending = typeof page.pending === 'number' ? page.pending : null;
      const rows = page.results;
      // A peer that omits `last_seq` still gives each row's seq.
      const lastSeq = page.last_seq !== undefined ? page.last_seq : (rows[rows.length - 1]?.seq ?? this.lastSeq);
      const advanced = !sameSeq(lastSeq, this.lastSeq);
      if (rows.length === 0 && advanced) {
        // An empty page that still moved `last_seq` (everything filtered out) is
        // worth a checkpoint: the next run need not rescan those changes.
        await emit([], lastSeq);
      }
      for (let i = 0; i < rows.length; i += batchSize) {
        const slice = rows.slice(i, i + batchSize);
        // The last batch of a page ends at the page's `last_seq`; the others at their last row.
        const sliceSeq = i + batchSize >= rows.length ? lastSeq : (slice[slice.length - 1] as ChangeRow).seq;
        await emit(slice, sliceSeq);
      }
      this.lastSeq = lastSeq;
      if (rows.length < pageSize || !advanced) return;
    }
  }

  private async live(emit: (rows: ChangeRow[], lastSeq: Seq) => Promise<void>, signal: AbortSignal): Promise<void> {
    const { batchSize, filter, style, heartbeatMs, feed, clock, random } = this.options;
    let failures = 0;
    for (;;) {
      const request = { since: this.lastSeq, style, heartbeatMs, feed, ...(filter ? { filter } : {}) };
      const iterator = this.source.changesFeed(request, signal)[Symbol.asyncIterator]();
      let buffer: ChangeRow[] = [];
      let bufferSeq: Seq = this.lastSeq;
      // When the oldest buffered row arrived: a partial batch leaves at most LIVE_FLUSH_DELAY_MS
      // after it, even if rows keep trickling in (a pause timer that restarts per row would let
      // a steady trickle hold rows back indefinitely).
      let bufferedAt = 0;
      const flush = async (): Promise<void> => {
        if (buffer.length === 0) return;
        const rows = buffer;
        buffer = [];
        await emit(rows, bufferSeq);
      };
      const openedAt = clock.now();
      let sawEvents = false;
      try {
        let next = iterator.next();
        next.catch(() => undefined); // handled below; never an unhandled rejection
        for (;;) {
          const wait = buffer.length > 0 ? Math.max(0, bufferedAt + LIVE_FLUSH_DELAY_MS - clock.now()) : undefined;
          const result = wait !== undefined ? await raceDelay(next, wait, clock) : await next;
          if (result === PAUSED) {
            await flush();
            continue;
          }
          if (result.done) break;
          next = iterator.next();
          next.catch(() => undefined);
          failures = 0;
          sawEvents = true;
          const event: ChangesEvent = result.value;
          if (event.kind === 'rows') {
            for (const row of event.rows) {
              if (buffer.length === 0) bufferedAt = clock.now();
              buffer.push(row);
              bufferSeq = row.seq;
              this.lastSeq = row.seq;
              if (buffer.length >= batchSize) await flush();
            }
          } else {
            const moved = !sameSeq(event.lastSeq, this.lastSeq);
            bufferSeq = event.lastSeq;
            this.lastSeq = event.lastSeq;
            if (buffer.length > 0) await flush();
            else if (moved) await emit([], event.lastSeq);
          }
        }
        await flush();
        // The peer closed the feed. Reopen at once if it was busy; if it closed an
        // idle feed straight away (a peer that ignores `feed=continuous`), pause
        // first rather than hammer it.
        if (!sawEvents && clock.now() - openedAt < FEED_REOPEN_PAUSE_MS) await clock.sleep(FEED_REOPEN_PAUSE_MS, signal);
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        await flush().catch(() => undefined);
        if (err instanceof PeerError && !isRetryableStatus(err.status)) throw err;
        if (++failures > FEED_RECONNECTS_MAX) throw err;
        const waitMs = backoffDelayMs(failures - 1, FEED_RECONNECT_BACKOFF, random);
        log('changes feed of %s broke (%s); reopening in %d ms', this.source.label, err instanceof Error ? err.message : String(err), waitMs);
        await clock.sleep(waitMs, signal);
      } finally {
        void iterator.return?.(undefined)?.catch(() => undefined);
      }
    }
  }
}

/** Waits for `promise`, or for `ms` to pass (then returns PAUSED, leaving `promise` pending). */
async function raceDelay<T>(promise: Promise<T>, ms: number, clock: Clock): Promise<T | typeof PAUSED> {
  const timer = new AbortController();
  const paused = (): typeof PAUSED => PAUSED;
  const delay: Promise<typeof PAUSED> = clock.sleep(ms, timer.signal).then(paused, paused);
  try {
    return await Promise.race([promise, delay]);
  } finally {
    timer.abort();
  }
}
