// Anti-entropy: keeps the replicas of every range identical, with the project's own
// replicator (checkpointed, so a pass only moves what changed since the last one).
//
// Why: the proxy copies each write to every replica, but a replica that is down, slow or
// restarting misses some. CouchDB's mem3_sync pushes shard changes between replicas after
// writes and on node recovery; this does the same from the proxy:
// - hinted handoff: a replica the proxy could not copy to is synced from its peers after a
//   short pause (`sync.debounceMs`), batched per (database, range, node);
// - recovery: when a node's breaker closes, every range it holds is synced both ways with
//   its peers (the node may also hold writes its peers missed), shards created while it was
//   down are created, and shards of databases deleted meanwhile are deleted;
// - a periodic sweep (`sync.intervalMs`, and once at start) syncs every ordered pair of
//   replicas of every range of every database, and re-copies `_security`;
// - after a move or split switches, the pairs of the switched range(s) are synced ahead of
//   anything queued (`syncRanges`), so a replica set that just changed is checked at once.
//
// A pair sync is one-shot replication `A/shards/<r>/<db>` → `B/shards/<r>/<db>` with the
// lounge's serverUuid in the replication id, so its checkpoints (`_local/<id>` on both
// shards) survive lounge restarts. At most SYNC_CONCURRENCY run at once. `_local` docs are
// not synced (the replicator never copies them), nor are purges.

import type { Lounge } from '../lounge.js';
import type { Range } from '../placement/ranges.js';
import { dbPath, UpstreamError } from '../upstream/node-client.js';
import { replicate } from '../../replicator/index.js';

/** Pair syncs running at once: the machine (and each node) has other work to do. */
const SYNC_CONCURRENCY = 2;
/** Pairs remembered for /_lounge/sync; beyond this the oldest are forgotten. */
const PAIR_REPORTS_MAX = 10_000;
/** Pause after start before the first sweep, so a cluster that is still starting settles. */
const FIRST_SWEEP_DELAY_MS = 1_000;

interface Job {
  db: string;
  range: Range;
  source: string;
  target: string;
}

interface PairReport {
  db: string;
  range: string;
  source: string;
  target: string;
  lastOkAt?: string;
  lastError?: string;
  docsWritten: number;
}

function key(j: Job): string {
  return `${j.db}\0${j.range.name}\0${j.source}\0${j.target}`;
}

export class AntiEntropy {
  private readonly queue = new Map<string, Job>();
  /** Pairs to run before anything in `queue` (ranges a switch just changed). */
  private readonly urgent = new Map<string, Job>();
  private readonly running = new Map<string, { stop(): void; done: Promise<void> }>();
  /** Pairs asked for again while they ran. */
  private readonly again = new Set<string>();
  private readonly reports = new Map<string, PairReport>();
  private timers: NodeJS.Timeout[] = [];
  private debounce: NodeJS.Timeout | undefined;
  private closed = false;
  private started = false;
  private completed = 0;
  private failed = 0;
  private lastSweepAt: string | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly lounge: Lounge) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    const cfg = this.lounge.config.sync;
    const sweep = setInterval(() => this.requestSweep(), cfg.intervalMs);
    sweep.unref();
    const first = setTimeout(() => this.requestSweep(), FIRST_SWEEP_DELAY_MS);
    first.unref();
    this.timers.push(sweep, first);
    this.lounge.hints.onHint(() => {
      if (this.debounce || this.closed) return;
      this.debounce = setTimeout(() => {
        this.debounce = undefined;
        this.processHints();
      }, cfg.debounceMs);
      this.debounce.unref();
    });
    this.lounge.health.onRecovered((node) => void this.onRecovered(node));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    if (this.debounce) clearTimeout(this.debounce);
    this.queue.clear();
    this.urgent.clear();
    for (const r of this.running.values()) r.stop();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** Queues every pair of every range of `db` (or of every database). */
  requestSweep(db?: string): void {
    if (this.closed) return;
    this.lastSweepAt = new Date().toISOString();
    void this.sweep(db).catch((e: unknown) => console.error('lounge: sync sweep failed', e));
  }

  /** Resolves when nothing is queued or running (for tests and shutdown). */
  idle(): Promise<void> {
    if (this.pending() === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((done) => this.idleWaiters.push(done));
  }

  /** A whole sweep (of `db`, or of every database), resolved once every pair it queued has run. */
  async sweepAndWait(db?: string): Promise<void> {
    this.lastSweepAt = new Date().toISOString();
    await this.sweep(db);
    await this.idle();
  }

  /** Syncs every pair of these ranges, of every database, ahead of anything already queued. */
  syncRanges(ranges: readonly Range[]): void {
    if (this.closed || !this.started) return;
    for (const db of this.lounge.registry.names()) for (const range of ranges) this.enqueuePairs(db, range, true);
  }

  private pending(): number {
    return this.queue.size + this.urgent.size;
  }

  status(): Record<string, unknown> {
    return {
      running: [...this.running.keys()].map((k) => this.reports.get(k) ?? { pair: k }),
      queued: this.pending(),
      completed: this.completed,
      failed: this.failed,
      pending_hints: this.lounge.hints.size,
      last_sweep: this.lastSweepAt ?? null,
      pairs: [...this.reports.values()].filter((r) => r.lastError !== undefined),
    };
  }

  private async sweep(only?: string): Promise<void> {
    await this.lounge.registry.refresh().catch(() => undefined);
    const { map } = this.lounge;
    const dbs = only !== undefined ? [only] : this.lounge.registry.names();
    for (const db of dbs) for (const range of map.ranges) this.enqueuePairs(db, range);
    if (only === undefined) await this.deleteTombstoned(map.allNodes());
  }

  private processHints(): void {
    const { hints, overflowed } = this.lounge.hints.take();
    if (overflowed) this.requestSweep();
    for (const h of hints) {
      if (!this.lounge.map.range(h.range.name)) continue; // split since: the switch copied everything
      for (const source of this.lounge.map.nodesOf(h.range)) if (source !== h.node) this.enqueue({ db: h.db, range: h.range, source, target: h.node });
    }
  }

  private async onRecovered(node: string): Promise<void> {
    if (this.closed) return;
    await this.lounge.registry.refresh().catch(() => undefined);
    const { map } = this.lounge;
    for (const db of this.lounge.registry.names()) {
      for (const range of map.rangesOfNode(node)) {
        for (const other of map.nodesOf(range)) {
          if (other === node) continue;
          this.enqueue({ db, range, source: other, target: node });
          this.enqueue({ db, range, source: node, target: other });
        }
      }
    }
    await this.deleteTombstoned([node]);
  }

  /** Shards of deleted databases left on nodes that were down when they were deleted. */
  private async deleteTombstoned(nodes: readonly string[]): Promise<void> {
    const gone = this.lounge.registry.tombstones();
    if (gone.length === 0) return;
    await Promise.all(
      nodes.flatMap((node) =>
        this.lounge.map.rangesOfNode(node).flatMap((range) =>
          gone.map(async (e) => {
            if (this.lounge.registry.get(e.name) || !this.lounge.client.isUp(node)) return;
            try {
              const res = await this.lounge.client.request(node, { method: 'DELETE', path: dbPath(this.lounge.map.shardName(range, e.name)) });
              res.discard();
            } catch {
              // the next sweep tries again
            }
          }),
        ),
      ),
    );
  }

  /** Every ordered pair of the range's replicas, for `db`. */
  private enqueuePairs(db: string, range: Range, urgent = false): void {
    const nodes = this.lounge.map.nodesOf(range);
    for (const source of nodes) for (const target of nodes) if (source !== target) this.enqueue({ db, range, source, target }, urgent);
  }

  private enqueue(job: Job, urgent = false): void {
    if (this.closed) return;
    const k = key(job);
    // A pair asked for while its sync runs may have been written after that run read the
    // source's changes: it runs once more when this one ends (else the write waits for a sweep).
    if (this.running.has(k)) {
      this.again.add(k);
      return;
    }
    if (this.urgent.has(k)) return;
    if (urgent) {
      this.queue.delete(k);
      this.urgent.set(k, job);
    } else if (!this.queue.has(k)) {
      this.queue.set(k, job);
    }
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.running.size < SYNC_CONCURRENCY && this.pending() > 0) {
      const from = this.urgent.size > 0 ? this.urgent : this.queue;
      const [k, job] = from.entries().next().value as [string, Job];
      from.delete(k);
      let stop = () => {};
      const done = this.run(job, (s) => (stop = s)).finally(() => {
        this.running.delete(k);
        if (this.again.delete(k)) this.enqueue(job);
        this.pump();
        if (this.pending() === 0 && this.running.size === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
      this.running.set(k, { stop: () => stop(), done });
    }
    if (this.pending() === 0 && this.running.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private report(job: Job): PairReport {
    const k = key(job);
    let r = this.reports.get(k);
    if (!r) {
      if (this.reports.size >= PAIR_REPORTS_MAX) this.reports.delete(this.reports.keys().next().value as string);
      r = { db: job.db, range: job.range.name, source: job.source, target: job.target, docsWritten: 0 };
      this.reports.set(k, r);
    }
    return r;
  }

  /** One pair sync: make sure the target shard exists, replicate, copy `_security`. */
  private async run(job: Job, setStop: (s: () => void) => void): Promise<void> {
    const { lounge } = this;
    const { client } = lounge;
    // Down nodes are skipped: their recovery queues this pair again.
    if (!client.isUp(job.source) || !client.isUp(job.target)) return;
    if (!lounge.registry.get(job.db)) return;
    const shard = lounge.map.shardName(job.range, job.db);
    const report = this.report(job);
    try {
      const partitioned = lounge.registry.get(job.db)?.partitioned === true;
      const put = await client.request(job.target, { method: 'PUT', path: partitioned ? `${dbPath(shard)}?partitioned=true` : dbPath(shard) });
      put.discard();
      if (put.status >= 400 && put.status !== 412) throw new UpstreamError(job.target, put.status, 'sync', `cannot create ${shard}`);
      const peer = (node: string) => {
        const url = `${client.url(node)}${dbPath(shard)}`;
        const svc = lounge.config.service;
        return svc ? { url, auth: { basic: { username: svc.name, password: svc.password } } } : url;
      };
      const { result, stop } = replicate({ source: peer(job.source), target: peer(job.target) }, { serverUuid: lounge.config.serverUuid, recordTargetSeq: true });
      setStop(stop);
      const body = await result;
      const history = Array.isArray(body.history) ? (body.history[0] as { docs_written?: number } | undefined) : undefined;
      report.docsWritten += history?.docs_written ?? 0;
      await this.copySecurity(job, shard);
      report.lastOkAt = new Date().toISOString();
      delete report.lastError;
      this.completed++;
    } catch (e) {
      this.failed++;
      report.lastError = e instanceof Error ? e.message : String(e);
    }
  }

  /** Restores the registry's `_security` on the target shard (the registry is the authority, not a peer). */
  private async copySecurity(job: Job, shard: string): Promise<void> {
    const { client } = this.lounge;
    const sec = this.lounge.registry.get(job.db)?.security;
    if (!sec) return;
    const { body: have } = await client.json<unknown>(job.target, { method: 'GET', path: `${dbPath(shard)}/_security` });
    if (JSON.stringify(sec) === JSON.stringify(have)) return;
    const res = await client.request(job.target, { method: 'PUT', path: `${dbPath(shard)}/_security`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(sec) });
    res.discard();
  }
}
