// `_changes` through the lounge: one feed made of one upstream feed per range.
//
// It guarantees, for every feed type:
// - every change of every range after the given token is delivered at least once (a
//   replica switch may replay a range from an earlier point; never skip one);
// - each row's `seq` is a token (see since-token.ts) that resumes after that row, and
//   `last_seq` resumes after everything delivered; rows a global `limit` cut off do not
//   advance the token;
// - design-doc copies on ranges other than their home are hidden (their rows still advance
//   the position);
// - normal: all ranges are read at once, rows are written as they arrive, `limit` counts
//   rows across all ranges;
// - longpoll: as normal; if nothing is new, every range is watched and the answer is sent
//   as soon as ANY range has rows (Lounge waited for all), or after `timeout`;
// - continuous / eventsource: one upstream continuous feed per range; the lounge sends its
//   own heartbeats; an upstream that fails is replaced by another replica of its range
//   without closing the client's stream;
// - a token naming a replica that left its range (a move) or a range that was split is
//   translated through the switch's recorded sequences (see moves/move-types.ts) instead
//   of rewinding that range to 0; a position older than the switch is read to its end on
//   the old replica (its shards are kept for a while) and then translated;
// - a token naming a replica that is down, or that left its range when neither of the
//   above applies, continues on another replica from the replicator's checkpoints of that
//   replica → the named one (find-source-seq.ts, CouchDB's mem3_rep:find_source_seq); only
//   when nothing is known is the range read from 0 (at least once, never a gap);
// - when the map changes under a running feed, continuous upstreams on a replica that left
//   are reopened on the new one, longpoll waits end (the client polls again with its
//   token), and a continuous feed over a range that was split ends cleanly with its
//   `last_seq` so the client reconnects.

import { setMaxListeners } from 'node:events';
import { StringDecoder } from 'node:string_decoder';
import type { Range } from '../placement/ranges.js';
import type { ShardMap } from '../placement/shard-map.js';
import { unavailable } from '../errors/lounge-error.js';
import { dbPath, UpstreamError, type NodeClient, type UpstreamResponse } from '../upstream/node-client.js';
import { DB_MISSING_REASON, type ReplicaReader } from '../upstream/replica-reader.js';
import { ShardRows } from '../upstream/shard-rows.js';
import { LineSplitter } from '../wire/lines.js';
import { changeHead, type ChangeHead } from '../wire/row-fields.js';
import type { FeedWriter } from '../http/feed-writer.js';
import { SeqVector } from './seq-vector.js';
import type { ShardInstances } from './shard-instances.js';
import type { Since, SeqEntry } from './since-token.js';
import { parseRange } from '../placement/ranges.js';

/** How a feed finds where a position on a replica that left its range continues (moves/elastic.ts). */
export interface Relocator {
  translate(db: string, range: string, node: string, seq: unknown, toRange: string): { node: string; seq: unknown } | undefined;
  /** The node left `range` but still has its old shards (a position there can be read to its end). */
  retiredHolder(range: string, node: string): boolean;
  /** Where a position on replica `gone` continues on replica `live`, from the replicator's checkpoints (find-source-seq.ts). */
  fromCheckpoint(db: string, range: Range, live: string, gone: string, seq: unknown, uuid: string): Promise<unknown>;
}

export type FeedKind = 'normal' | 'longpoll' | 'continuous' | 'eventsource';

export interface ChangesRequest {
  db: string;
  feed: FeedKind;
  since: Since;
  limit: number | undefined;
  /** How long longpoll waits, and continuous waits without rows, before ending. */
  timeoutMs: number;
  heartbeatMs: number | undefined;
  /** Only every N-th row carries a seq (CouchDB's `seq_interval`). */
  seqInterval: number | undefined;
  /** Query parameters passed to every range's feed (style, include_docs, filter, ...). */
  params: [string, string][];
  /** A POST body passed to every range's feed (doc_ids, selector). */
  body: Buffer | undefined;
  /** With `filter=_doc_ids`, only the ranges owning these ids are read. */
  docIds: string[] | undefined;
}

/** After a normal longpoll pass finds nothing, ranges answering within this window join the first. */
const LONGPOLL_GRACE_MS = 20;
/** Heartbeat asked of upstream continuous feeds; silence for 3× this means the upstream is dead. */
const UPSTREAM_HEARTBEAT_MS = 10_000;
/** Listeners one feed's abort signal may hold: a few per range for q up to 256. */
const FEED_LISTENERS_MAX = 1024;
/** Rows of a normal feed written per chunk: large feeds stream instead of buffering. */
const FEED_CHUNK_CHARS = 64 * 1024;
/** Pause before reopening a failed upstream feed, doubling up to the max while it keeps failing. */
const RECONNECT_BASE_MS = 100;
const RECONNECT_MAX_MS = 2_000;

interface Cursor {
  range: Range;
  shard: string;
  /** The node the token says this range was read from, if any. */
  node: string | undefined;
  seq: unknown;
  uuid: string;
  /** `since=now`: start from the current end of whichever replica is read. */
  now: boolean;
  /** The node left this range; its old shard is read to its end, then the position is translated. */
  retired?: boolean;
  /** The old shard was read to its end already: not again (the checkpoints or 0 decide now). */
  pastRetired?: boolean;
}

interface Opened {
  node: string;
  uuid: string;
  res: UpstreamResponse;
}

type ChangeRow = { seq?: unknown; id?: string; [k: string]: unknown };

export class ChangesFeeds {
  constructor(
    private readonly map: ShardMap,
    private readonly client: NodeClient,
    private readonly reader: ReplicaReader,
    private readonly instances: ShardInstances,
    private readonly relocator?: Relocator,
  ) {}

  /** Runs one `_changes` request to completion, writing to `out`. Throws (before writing) for errors a range answered. */
  async run(req: ChangesRequest, out: FeedWriter): Promise<void> {
    const ranges = req.docIds ? this.rangesOwning(req.db, req.docIds) : [...this.map.ranges];
    const cursors = this.cursors(req, ranges);
    const vector = new SeqVector(this.initialEntries(req, cursors));
    if (req.feed === 'continuous' || req.feed === 'eventsource') return this.continuous(req, cursors, vector, out);
    return this.normal(req, cursors, vector, out);
  }

  private rangesOwning(db: string, ids: readonly string[]): Range[] {
    const names = new Set(ids.map((id) => this.map.rangeOf(id, db).name));
    return this.map.ranges.filter((r) => names.has(r.name));
  }

  private cursors(req: ChangesRequest, ranges: readonly Range[]): Cursor[] {
    const byRange = new Map<string, SeqEntry>();
    if (req.since.kind === 'vector') for (const e of req.since.entries) byRange.set(e.range, e);
    const all = req.since.kind === 'vector' ? req.since.entries : [];
    return ranges.map((range) => {
      const base: Cursor = { range, shard: this.map.shardName(range, req.db), node: undefined, seq: 0, uuid: '', now: req.since.kind === 'now' };
      const e = byRange.get(range.name);
      if (e) return this.relocate(req.db, { ...base, node: e.node, seq: e.seq, uuid: e.uuid });
      // A range born of a split: its parent's position, translated.
      for (const p of all) {
        const pr = parseRange(p.range);
        if (!pr || pr.name === range.name || pr.begin > range.begin || pr.end < range.end) continue;
        const t = this.relocator?.translate(req.db, p.range, p.node, p.seq, range.name);
        if (t) return { ...base, node: t.node, seq: t.seq };
      }
      return base;
    });
  }

  /**
   * A cursor whose node no longer holds its range: translated to the new replica, or kept on
   * the old one (marked retired) when its position predates the switch and the old shard
   * is still there, or rewound to 0.
   */
  private relocate(db: string, c: Cursor): Cursor {
    if (c.node === undefined || this.map.nodesOf(c.range).includes(c.node)) return { ...c, retired: false };
    const t = this.relocator?.translate(db, c.range.name, c.node, c.seq, c.range.name);
    if (t) return { ...c, node: t.node, seq: t.seq, uuid: '', retired: false };
    if (!c.pastRetired && this.relocator?.retiredHolder(c.range.name, c.node) && this.client.isUp(c.node)) return { ...c, retired: true };
    // The position stays as a reference: open() reads a current replica from its checkpoints of that node.
    return { ...c, retired: false };
  }

  /** Ranges not read (a `_doc_ids` filter) keep their place in the token. */
  private initialEntries(req: ChangesRequest, cursors: readonly Cursor[]): SeqEntry[] {
    const read = new Set(cursors.map((c) => c.range.name));
    const kept = req.since.kind === 'vector' ? req.since.entries.filter((e) => !read.has(e.range) && this.map.ranges.some((r) => r.name === e.range)) : [];
    const fresh = cursors.filter((c) => c.node !== undefined).map((c) => ({ range: c.range.name, node: c.node as string, seq: c.seq, uuid: c.uuid }));
    return [...kept, ...fresh];
  }

  /**
   * Opens one range's feed on the token's node if it is up, holds the range (or is a retired
   * holder read to its end) and its shard is the same instance; else on another replica,
   * from where the checkpoints of that replica → the token's node say the client got to, or
   * from the start (a rewind: changes are at least once).
   */
  private async open(req: ChangesRequest, c: Cursor, feed: string, extra: [string, string][], signal: AbortSignal): Promise<Opened> {
    const order = this.reader.order(req.db, c.range);
    const own = c.node !== undefined && this.client.isUp(c.node) && (c.retired === true || this.map.nodesOf(c.range).includes(c.node));
    const queue = own ? [c.node as string, ...order.filter((n) => n !== c.node)] : order.filter((n) => n !== c.node);
    // Once the token's node cannot serve: replicas whose checkpoints place the position come first.
    let placed: Map<string, unknown> | undefined;
    let missing: UpstreamError | undefined;
    while (queue.length > 0) {
      if (signal.aborted) break;
      if (placed === undefined && queue[0] !== c.node && !c.now && c.node !== undefined && this.relocator) {
        placed = await this.place(req.db, c, queue);
        const found = placed;
        queue.sort((a, b) => Number(found.has(b)) - Number(found.has(a)));
      }
      const node = queue.shift() as string;
      const uuid = await this.instances.get(node, c.shard);
      const sameShard = node === c.node && (c.uuid === '' || uuid === '' || uuid === c.uuid);
      const since = c.now ? 'now' : sameShard ? c.seq : (placed?.get(node) ?? 0);
      const q = new URLSearchParams([...req.params, ...extra, ['feed', feed], ['since', typeof since === 'string' ? since : JSON.stringify(since)]]);
      let res: UpstreamResponse;
      try {
        res = await this.client.request(node, {
          method: req.body ? 'POST' : 'GET',
          path: `${dbPath(c.shard)}/_changes?${q.toString()}`,
          ...(req.body ? { body: req.body, headers: { 'content-type': 'application/json' } } : {}),
          signal,
          ...(feed === 'longpoll' ? { timeoutMs: req.timeoutMs + 10_000 } : {}),
        });
      } catch (e) {
        if (e instanceof UpstreamError && e.retryable) continue;
        throw e;
      }
      if (res.status >= 500) {
        res.discard();
        continue;
      }
      if (res.status >= 400) {
        const err = await res.toError();
        if (err.status === 404 && err.reason === DB_MISSING_REASON) {
          missing = err;
          continue;
        }
        throw err;
      }
      return { node, uuid, res };
    }
    if (missing) throw missing;
    throw unavailable(`range ${c.range.name} of ${req.db}`);
  }

  /** Where the cursor's position (on a node that cannot serve) continues on each of `nodes`, where the checkpoints say. */
  private async place(db: string, c: Cursor, nodes: readonly string[]): Promise<Map<string, unknown>> {
    const placed = new Map<string, unknown>();
    const gone = c.node;
    if (gone === undefined || !this.relocator) return placed;
    const found = await Promise.all(nodes.map((n) => this.relocator?.fromCheckpoint(db, c.range, n, gone, c.seq, c.uuid)));
    nodes.forEach((n, i) => {
      if (found[i] !== undefined) placed.set(n, found[i]);
    });
    return placed;
  }

  /** Row text with its `seq` replaced by the lounge's token (or null between seq_interval rows). */
  private rowText(row: ChangeRow, vector: SeqVector, n: number, req: ChangesRequest): string {
    const every = req.seqInterval;
    const seq = every !== undefined && every > 1 && n % every !== 0 ? null : vector.token();
    const head = (row as { [HEAD]?: ChangeHead })[HEAD];
    if (head) return `{"seq":${JSON.stringify(seq)}${head.rest}`;
    row.seq = seq;
    return JSON.stringify(row);
  }

  /**
   * One normal read of every range from its cursor: rows are handed to `emit` as they arrive
   * (with their seq replaced), the vector advances per row, and ranges read to the end move
   * to their `last_seq`. Every range is opened before the first row is emitted, so a range
   * that refuses the request (bad filter) fails the call before anything is written.
   */
  private async pass(
    req: ChangesRequest,
    cursors: Cursor[],
    vector: SeqVector,
    signal: AbortSignal,
    emit: (text: string) => Promise<void>,
    count: { emitted: number },
  ): Promise<{ pending: number }> {
    const limit = req.limit;
    let pending = 0;
    const extra: [string, string][] = limit !== undefined ? [['limit', String(limit)]] : [];
    const opened = await Promise.all(cursors.map((c) => this.open(req, c, 'normal', extra, signal)));
    await Promise.all(
      opened.map(async (first, i) => {
        const c0 = cursors[i] as Cursor;
        let o = first;
        // A replica that fails mid-answer is replaced by another, from where the vector got
        // to (a rewind on a different node: changes are at least once).
        for (let attempt = 0; ; attempt++) {
          const shardRows = new ShardRows(o.res, ['results'], undefined, changeRow);
          let complete = true;
          try {
            for await (const { row } of shardRows) {
              if (limit !== undefined && count.emitted >= limit) {
                complete = false;
                break;
              }
              const change = row as ChangeRow;
              vector.advance(c0.range.name, o.node, change.seq, o.uuid);
              if (typeof change.id === 'string' && this.map.isForeignDesignCopy(change.id, c0.range)) continue;
              count.emitted++;
              await emit(this.rowText(change, vector, count.emitted, req));
            }
          } catch (e) {
            if (signal.aborted || attempt >= this.map.nodesOf(c0.range).length) throw e;
            const e1 = vector.get(c0.range.name);
            const c: Cursor = e1 ? { ...c0, node: e1.node, seq: e1.seq, uuid: e1.uuid, now: false } : c0;
            o = await this.open(req, c, 'normal', extra, signal);
            continue;
          }
          if (complete) {
            const meta = shardRows.meta;
            if (meta.last_seq !== undefined) vector.advance(c0.range.name, o.node, meta.last_seq, o.uuid);
            if (typeof meta.pending === 'number') pending += meta.pending;
          } else {
            pending += 1; // rows remain in this range beyond the limit
          }
          return;
        }
      }),
    );
    return { pending };
  }

  private async normal(req: ChangesRequest, cursors: Cursor[], vector: SeqVector, out: FeedWriter): Promise<void> {
    const count = { emitted: 0 };
    let pending = 0;
    const rows: string[] = [];
    let buffered = 0;
    let first = true;
    const flush = async (): Promise<void> => {
      if (rows.length === 0) return;
      const chunk = (first ? '{"results":[\n' : ',\n') + rows.join(',\n');
      first = false;
      rows.length = 0;
      buffered = 0;
      await out.write(chunk);
    };
    const emit = async (text: string): Promise<void> => {
      rows.push(text);
      buffered += text.length;
      if (buffered >= FEED_CHUNK_CHARS) await flush();
    };

    const abort = feedController();
    const onClose = () => abort.abort();
    out.signal.addEventListener('abort', onClose, { once: true });
    try {
      if (req.limit !== 0) {
        const heartbeat = req.feed === 'longpoll' ? this.heartbeat(req, out, abort.signal) : undefined;
        try {
          pending += (await this.pass(req, cursors, vector, abort.signal, emit, count)).pending;
        } finally {
          heartbeat?.stop();
        }
        if (count.emitted === 0 && req.feed === 'longpoll' && !out.closed) {
          const found = await this.waitAny(req, cursors, vector, out, abort.signal, emit, () => count.emitted++);
          pending += found.pending;
        }
      } else {
        // limit=0: no rows, but a real position (CouchDB's replicator asks this for `pending`).
        const opened = await Promise.all(cursors.map((c) => this.open(req, c, 'normal', [['limit', '0']], abort.signal)));
        await Promise.all(
          opened.map(async (o, i) => {
            const meta = (await o.res.json<{ last_seq?: unknown; pending?: number }>()) ?? {};
            const c = cursors[i] as Cursor;
            if (meta.last_seq !== undefined) vector.advance(c.range.name, o.node, meta.last_seq, o.uuid);
            if (typeof meta.pending === 'number') pending += meta.pending;
          }),
        );
      }
      if (out.closed) return;
      await flush();
      await out.write(`${first ? '{"results":[\n' : ''}\n],\n"last_seq":${JSON.stringify(vector.token())},"pending":${pending}}\n`);
      out.end();
    } catch (e) {
      // Before the first byte, the error is the answer; after it, the stream can only be cut.
      if (!out.headersSent) throw e;
      out.end();
    } finally {
      out.signal.removeEventListener('abort', onClose);
      abort.abort();
    }
  }

  /** Longpoll's wait: watch every range; answer with the first range(s) that have rows. */
  private async waitAny(
    req: ChangesRequest,
    cursors: Cursor[],
    vector: SeqVector,
    out: FeedWriter,
    signal: AbortSignal,
    emit: (text: string) => Promise<void>,
    count: () => void,
  ): Promise<{ pending: number }> {
    const waiting = feedController();
    const stop = () => waiting.abort();
    signal.addEventListener('abort', stop, { once: true });
    // A map change (a move's switch) may leave a range's watched replica without new writes.
    const offMap = this.map.onChange(stop);
    const heartbeat = this.heartbeat(req, out, waiting.signal);
    let pending = 0;
    let emitted = 0;
    let timer: NodeJS.Timeout | undefined;
    // Cursors now start where the normal pass left them.
    const from = cursors.map((c) => {
      const e = vector.get(c.range.name);
      return e ? { ...c, node: e.node, seq: e.seq, uuid: e.uuid, now: false } : c;
    });
    const limitParam: [string, string][] = req.limit !== undefined ? [['limit', String(req.limit)]] : [];
    // The wait ends at `timeout` even if a node does not honour it (pouchdb-server's longpoll
    // waits for a change however long it takes).
    const deadline = setTimeout(stop, req.timeoutMs + LONGPOLL_GRACE_MS);
    try {
      await Promise.all(
        from.map(async (c) => {
          let body: { results?: ChangeRow[]; last_seq?: unknown; pending?: number };
          let opened: Opened;
          try {
            opened = await this.open(req, c, 'longpoll', [...limitParam, ['timeout', String(req.timeoutMs)]], waiting.signal);
            body = await opened.res.json();
          } catch (e) {
            if (waiting.signal.aborted) return;
            // A replica failing while we wait ends the wait with what we have (nothing, so
            // the client polls again at once and the next poll reads another replica).
            if (e instanceof UpstreamError && !e.retryable && e.reason !== DB_MISSING_REASON) throw e;
            stop();
            return;
          }
          if (waiting.signal.aborted) return;
          const results = body.results ?? [];
          let complete = true;
          for (const change of results) {
            if (req.limit !== undefined && emitted >= req.limit) {
              complete = false;
              break;
            }
            vector.advance(c.range.name, opened.node, change.seq, opened.uuid);
            if (typeof change.id === 'string' && this.map.isForeignDesignCopy(change.id, c.range)) continue;
            emitted++;
            count();
            await emit(this.rowText(change, vector, emitted, req));
          }
          if (complete && body.last_seq !== undefined) vector.advance(c.range.name, opened.node, body.last_seq, opened.uuid);
          if (typeof body.pending === 'number') pending += body.pending;
          if (emitted > 0 && timer === undefined) timer = setTimeout(stop, LONGPOLL_GRACE_MS);
        }),
      );
    } finally {
      clearTimeout(deadline);
      if (timer) clearTimeout(timer);
      heartbeat.stop();
      offMap();
      signal.removeEventListener('abort', stop);
      waiting.abort();
    }
    return { pending };
  }

  /** Writes a newline every heartbeat while waiting (only if the client asked for heartbeats). */
  private heartbeat(req: ChangesRequest, out: FeedWriter, signal: AbortSignal, text = '\n'): { stop(): void } {
    if (req.heartbeatMs === undefined) return { stop() {} };
    const t = setInterval(() => {
      if (signal.aborted) return;
      void out.write(text);
    }, req.heartbeatMs);
    return { stop: () => clearInterval(t) };
  }

  private async continuous(req: ChangesRequest, cursors: Cursor[], vector: SeqVector, out: FeedWriter): Promise<void> {
    const eventsource = req.feed === 'eventsource';
    const done = feedController();
    const finish = () => done.abort();
    out.signal.addEventListener('abort', finish, { once: true });
    let idle: NodeJS.Timeout | undefined;
    const resetIdle = () => {
      if (req.heartbeatMs !== undefined) return; // with heartbeats, the feed never times out
      if (idle) clearTimeout(idle);
      idle = setTimeout(finish, req.timeoutMs);
    };
    const heartbeat = this.heartbeat(req, out, done.signal, eventsource ? 'event: heartbeat\ndata: \n\n' : '\n');
    const extra: [string, string][] = [
      ['heartbeat', String(UPSTREAM_HEARTBEAT_MS)],
      ...(req.limit !== undefined ? ([['limit', String(req.limit)]] as [string, string][]) : []),
    ];
    // What is already there is read with a normal pass: a range refusing the request (a
    // missing filter, a bad selector) is the request's error before anything is written, and
    // the upstream continuous feeds then only wait for new changes.
    const count = { emitted: 0 };
    const writeRow = async (text: string): Promise<void> => {
      resetIdle();
      await out.write(eventsource ? `data: ${text}\nid: ${vector.token()}\n\n` : text + '\n');
    };
    try {
      await this.pass(req, cursors, vector, done.signal, writeRow, count);
    } catch (e) {
      heartbeat.stop();
      out.signal.removeEventListener('abort', finish);
      done.abort();
      if (!out.headersSent) throw e;
      out.end();
      return;
    }
    out.start();
    resetIdle();
    if (req.limit !== undefined && count.emitted >= req.limit) finish();
    // Upstreams per range, so a map change can reopen those on a replica that left.
    const upstreams = new Map<string, { node: string; ctl: AbortController }>();
    const offMap = this.map.onChange(() => {
      for (const c of cursors) {
        if (!this.map.range(c.range.name)) {
          finish(); // split: the client reconnects with last_seq, which is translated
          return;
        }
        const u = upstreams.get(c.range.name);
        if (u && !this.map.nodesOf(c.range).includes(u.node)) u.ctl.abort();
      }
    });
    try {
      await Promise.all(
        cursors.map(async (c0) => {
          const e0 = vector.get(c0.range.name);
          let c: Cursor = e0 ? { ...c0, node: e0.node, seq: e0.seq, uuid: e0.uuid, now: false } : { ...c0, now: false };
          let waitMs = RECONNECT_BASE_MS;
          while (!done.signal.aborted) {
            c = this.relocate(req.db, c);
            if (c.retired) {
              // A position older than the switch: read the old replica to its end, then translate.
              try {
                await this.pass(req, [c], vector, done.signal, writeRow, count);
              } catch {
                // the old replica failed: rewind to the current replicas
              }
              const e = vector.get(c.range.name);
              const next = this.relocate(req.db, e ? { ...c, node: e.node, seq: e.seq, uuid: e.uuid } : c);
              c = next.retired ? { ...next, retired: false, pastRetired: true } : next; // not translatable: open() goes by the checkpoints, else from 0
              continue;
            }
            let opened: Opened;
            const ctl = feedController();
            const onDone = () => ctl.abort();
            done.signal.addEventListener('abort', onDone, { once: true });
            try {
              opened = await this.open(req, c, 'continuous', extra, ctl.signal);
            } catch (e) {
              done.signal.removeEventListener('abort', onDone);
              if (done.signal.aborted) return;
              if (e instanceof UpstreamError && !e.retryable && e.reason !== DB_MISSING_REASON) {
                // The range refused the request itself (bad filter...): end the feed.
                finish();
                return;
              }
              await sleep(waitMs, done.signal);
              waitMs = Math.min(waitMs * 2, RECONNECT_MAX_MS);
              continue;
            }
            waitMs = RECONNECT_BASE_MS;
            upstreams.set(c.range.name, { node: opened.node, ctl });
            if (!this.map.nodesOf(c.range).includes(opened.node)) ctl.abort(); // the map changed while opening
            const ended = await this.pump(opened, c, vector, ctl.signal, async (change) => {
              if (req.limit !== undefined && count.emitted >= req.limit) {
                finish();
                return false;
              }
              vector.advance(c.range.name, opened.node, change.seq, opened.uuid);
              if (typeof change.id === 'string' && this.map.isForeignDesignCopy(change.id, c.range)) return true;
              count.emitted++;
              await writeRow(this.rowText(change, vector, count.emitted, req));
              if (req.limit !== undefined && count.emitted >= req.limit) finish();
              return true;
            });
            done.signal.removeEventListener('abort', onDone);
            upstreams.delete(c.range.name);
            // Continue from where this upstream got to, on the same node if it is still up.
            const e = vector.get(c.range.name);
            c = e ? { ...c, node: e.node, seq: e.seq, uuid: e.uuid, now: false } : { ...c, now: false };
            if (!ended) {
              await sleep(waitMs, done.signal);
              waitMs = Math.min(waitMs * 2, RECONNECT_MAX_MS);
            }
          }
        }),
      );
      if (!out.closed && !eventsource) await out.write(JSON.stringify({ last_seq: vector.token(), pending: 0 }) + '\n');
    } finally {
      offMap();
      if (idle) clearTimeout(idle);
      heartbeat.stop();
      out.signal.removeEventListener('abort', finish);
      done.abort();
      out.end();
    }
  }

  /**
   * Reads one upstream continuous feed until it ends or goes silent. Returns true if it
   * ended cleanly (its final `last_seq` line), false if it failed.
   */
  private async pump(opened: Opened, c: Cursor, vector: SeqVector, stop: AbortSignal, onRow: (row: ChangeRow) => Promise<boolean>): Promise<boolean> {
    const stream = opened.res.stream;
    const decoder = new StringDecoder('utf8');
    const lines = new LineSplitter();
    let silent: NodeJS.Timeout | undefined;
    const watch = () => {
      if (silent) clearTimeout(silent);
      silent = setTimeout(() => stream.destroy(new Error('upstream feed went silent')), 3 * UPSTREAM_HEARTBEAT_MS);
    };
    const onStop = () => stream.destroy();
    if (stop.aborted) {
      // The feed ended (limit, timeout, client gone) before this upstream was read.
      stream.destroy();
      return true;
    }
    stop.addEventListener('abort', onStop, { once: true });
    watch();
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        watch();
        for (const line of lines.push(decoder.write(chunk))) {
          if (line.trim() === '') continue;
          const value = changeRow(line) as ChangeRow & { last_seq?: unknown };
          if (value.id === undefined && value.last_seq !== undefined) {
            vector.advance(c.range.name, opened.node, value.last_seq, opened.uuid);
            return true;
          }
          if (!(await onRow(value))) return true;
        }
      }
      return true;
    } catch {
      return false;
    } finally {
      if (silent) clearTimeout(silent);
      stop.removeEventListener('abort', onStop);
      if (!stream.destroyed) stream.destroy();
    }
  }
}

/**
 * An abort controller for one feed. Every range's upstream request and reader listens on
 * it at the same time, so the listener count grows with q, not with time: the default
 * warning at 10 listeners would fire on any q ≥ 5.
 */
function feedController(): AbortController {
  const c = new AbortController();
  setMaxListeners(FEED_LISTENERS_MAX, c.signal);
  return c;
}

/** Where a row read by its head keeps that head (the rest of the row is never parsed). */
const HEAD = Symbol('head');

/**
 * A `_changes` row as the merge needs it: seq and id from the front of its text when the
 * node writes them first (rows may carry whole docs), else the row parsed in full.
 */
function changeRow(text: string): ChangeRow {
  const head = changeHead(text);
  if (!head) return JSON.parse(text) as ChangeRow;
  return { seq: head.seq, id: head.id, [HEAD]: head } as ChangeRow;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    if (signal.aborted) return done();
    const t = setTimeout(finish, ms);
    function finish() {
      clearTimeout(t);
      signal.removeEventListener('abort', finish);
      done();
    }
    signal.addEventListener('abort', finish, { once: true });
  });
}
