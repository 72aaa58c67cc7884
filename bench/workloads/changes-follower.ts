// Follows a database's `_changes?feed=continuous` and notes when each doc id first arrives, so a
// workload can tell how soon a write became visible there without polling (a poll interval would
// be part of every measured delay).
//
// One streaming node:http request, outside the bench's pooled client (it stays open for the whole
// workload). Lines are parsed as they arrive, each stamped with performance.now() of its chunk;
// heartbeat newlines are skipped. `close()` destroys the request, and a follower that is never
// closed still cannot outlive `feedTimeLimitMs`.

import http from 'node:http';
import { performance } from 'node:perf_hooks';

/** Heartbeat asked of the server, so an idle feed is not closed by its own timeout. */
const heartbeatMs = 1_000;
/** The feed is torn down after this long whatever happens: a workload never needs it longer. */
const feedTimeLimitMs = 10 * 60_000;
/** How long the server has to answer the feed request with its status. */
const openTimeoutMs = 30_000;
/** A line longer than this is not a change row: the feed is broken. */
const lineCharsMax = 1 << 20;

export class ChangesFollower {
  private readonly seen = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private request: http.ClientRequest | undefined;
  private problem: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** Opens `GET /<db>/_changes?feed=continuous&since=<since>` on `baseUrl`; resolves once it answered 200. */
  static async open(baseUrl: string, db: string, since: unknown): Promise<ChangesFollower> {
    const follower = new ChangesFollower();
    await follower.start(baseUrl, db, since);
    return follower;
  }

  /** When `id` first appeared on the feed (performance.now() ms), if it has. */
  seenAt(id: string): number | undefined {
    return this.seen.get(id);
  }

  /** Waits until every id has appeared or `timeoutMs` passed; returns the ids still missing. */
  async waitFor(ids: readonly string[], timeoutMs: number): Promise<string[]> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const missing = ids.filter((id) => !this.seen.has(id));
      if (missing.length === 0 || this.problem !== undefined) return missing;
      const left = deadline - performance.now();
      if (left <= 0) return missing;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(t);
          this.waiters.delete(wake);
          resolve();
        };
        const t = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  /** Why the feed stopped early, if it did. */
  get failure(): string | undefined {
    return this.problem;
  }

  close(): void {
    clearTimeout(this.timer);
    this.request?.destroy();
    this.request = undefined;
    this.problem ??= 'closed';
    this.wakeAll();
  }

  private start(baseUrl: string, db: string, since: unknown): Promise<void> {
    const url = new URL(baseUrl);
    const prefix = url.pathname.replace(/\/+$/, '');
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
    if (url.username !== '') {
      headers.authorization = 'Basic ' + Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
    }
    const query = `feed=continuous&heartbeat=${heartbeatMs}&since=${encodeURIComponent(typeof since === 'string' ? since : JSON.stringify(since))}`;
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port === '' ? 80 : Number(url.port), method: 'GET', path: `${prefix}/${encodeURIComponent(db)}/_changes?${query}`, headers },
        (res) => {
          clearTimeout(openTimer);
          if (res.statusCode !== 200) {
            res.resume();
            reject(new Error(`_changes?feed=continuous on ${db} answered ${res.statusCode}`));
            return;
          }
          resolve();
          let pending = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            const now = performance.now();
            pending += chunk;
            let nl: number;
            while ((nl = pending.indexOf('\n')) >= 0) {
              this.line(pending.slice(0, nl), now);
              pending = pending.slice(nl + 1);
            }
            if (pending.length > lineCharsMax) this.fail(`a feed line over ${lineCharsMax} chars`);
          });
          res.on('end', () => this.fail('the feed ended'));
          res.on('error', (e) => this.fail(e.message));
        },
      );
      const openTimer = setTimeout(() => req.destroy(new Error(`_changes?feed=continuous on ${db}: no answer within ${openTimeoutMs} ms`)), openTimeoutMs);
      req.on('error', (e) => {
        clearTimeout(openTimer);
        this.fail(e.message);
        reject(e);
      });
      req.end();
      this.request = req;
      this.timer = setTimeout(() => this.close(), feedTimeLimitMs).unref();
    });
  }

  private line(text: string, now: number): void {
    if (text.trim() === '') return; // heartbeat
    let row: { id?: unknown; last_seq?: unknown };
    try {
      row = JSON.parse(text) as typeof row;
    } catch {
      this.fail(`a feed line that is not JSON: ${text.slice(0, 120)}`);
      return;
    }
    if (typeof row.id === 'string' && !this.seen.has(row.id)) this.seen.set(row.id, now);
    else if (row.last_seq !== undefined) this.fail('the feed ended (last_seq)');
    this.wakeAll();
  }

  private fail(why: string): void {
    this.problem ??= why;
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
