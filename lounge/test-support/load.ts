// A steady client load for the elastic lounge's tests: writers doing PUT and `_bulk_docs`,
// readers reading what was acknowledged, and a continuous `_changes` client that reconnects
// from its `last_seq` when the feed ends. Every answer is checked: anything but a 2xx is
// recorded as a failure (202 is allowed for writes: `w` not met).
//
// Bounded: each worker pauses between requests, so the load is steady, not a flood, on a
// shared 2-core machine; `stop()` ends every loop and connection.

import http from 'node:http';
import { onFeedRows } from './http.js';

/** Pause between one worker's requests. */
const WORKER_PAUSE_MS = 150;
/** A request unanswered this long is a failure (and cannot hang the test). */
const REQUEST_TIMEOUT_MS = 60_000;
/** Docs per `_bulk_docs` request. */
const BULK_DOCS = 5;

export interface LoadReport {
  failures: string[];
  /** Acknowledged docs: id → the rev the lounge answered (the latest acknowledged edit). */
  acked: Map<string, string>;
  requests: number;
  /** Ids the `_changes` client saw. */
  seen: Set<string>;
}

export interface Load {
  report: LoadReport;
  /** Stops every worker and the feed; resolves when they have ended. */
  stop(): Promise<LoadReport>;
  /** Resolves once the feed has seen every acknowledged id (or throws after `ms`). */
  feedCaughtUp(ms: number): Promise<void>;
}

export interface LoadOptions {
  writers: number;
  readers: number;
  /** What to do when a request gets no answer at all (a lounge being restarted): retry or fail. */
  retryUnreachable?: boolean;
  agent?: http.Agent;
}

interface Answer {
  status: number;
  body: any;
}

function request(base: string, method: string, path: string, body: unknown, agent: http.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(base + path, { method, agent, headers: { accept: 'application/json', ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // keep the text
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', reject);
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export function startLoad(base: string, db: string, opts: LoadOptions): Load {
  const agent = opts.agent ?? new http.Agent({ keepAlive: true, maxSockets: opts.writers + opts.readers + 4 });
  const report: LoadReport = { failures: [], acked: new Map(), requests: 0, seen: new Set() };
  const ackedList: string[] = [];
  const accepted = new Set<string>(); // ids whose last ack was 202: a replica may lag, reads may 404
  let running = true;
  const pause = () => new Promise((r) => setTimeout(r, WORKER_PAUSE_MS));

  const send = async (method: string, path: string, body?: unknown): Promise<Answer | undefined> => {
    for (;;) {
      report.requests++;
      try {
        return await request(base, method, path, body, agent);
      } catch (e) {
        if (opts.retryUnreachable && running) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        if (running) report.failures.push(`${method} ${path}: no answer: ${(e as Error).message}`);
        return undefined;
      }
    }
  };

  const ack = (id: string, rev: string, status: number) => {
    if (!report.acked.has(id)) ackedList.push(id);
    report.acked.set(id, rev);
    if (status === 202) accepted.add(id);
    else accepted.delete(id);
  };

  const writer = async (w: number) => {
    for (let k = 0; running; k++) {
      if (k % 3 === 2) {
        const docs = Array.from({ length: BULK_DOCS }, (_, j) => ({ _id: `w${w}-b${k}-${j}`, w, k }));
        const a = await send('POST', `/${db}/_bulk_docs`, { docs });
        if (a) {
          if (a.status !== 201 && a.status !== 202) report.failures.push(`POST _bulk_docs: ${a.status} ${JSON.stringify(a.body)}`);
          else for (const row of a.body as { id: string; rev?: string; error?: string }[]) {
            if (row.rev && !row.error) ack(row.id, row.rev, a.status);
            else report.failures.push(`_bulk_docs row ${row.id}: ${JSON.stringify(row)}`);
          }
        }
      } else if (k % 3 === 1 && report.acked.has(`w${w}-p${k - 1}`)) {
        const id = `w${w}-p${k - 1}`;
        const a = await send('PUT', `/${db}/${id}`, { _rev: report.acked.get(id), w, k, updated: true });
        if (a) {
          if (a.status === 201 || a.status === 202) ack(id, a.body.rev, a.status);
          else report.failures.push(`PUT ${id} (update): ${a.status} ${JSON.stringify(a.body)}`);
        }
      } else {
        const id = `w${w}-p${k}`;
        const a = await send('PUT', `/${db}/${id}`, { w, k });
        if (a) {
          if (a.status === 201 || a.status === 202) ack(id, a.body.rev, a.status);
          else report.failures.push(`PUT ${id}: ${a.status} ${JSON.stringify(a.body)}`);
        }
      }
      await pause();
    }
  };

  const reader = async () => {
    for (let k = 0; running; k++) {
      const id = ackedList[Math.floor(Math.random() * ackedList.length)];
      if (id !== undefined) {
        const rev = report.acked.get(id);
        const a = await send('GET', `/${db}/${encodeURIComponent(id)}`);
        if (a && a.status !== 200 && !(a.status === 404 && accepted.has(id))) report.failures.push(`GET ${id}: ${a.status} ${JSON.stringify(a.body)}`);
        void rev;
      }
      if (k % 10 === 9) {
        const a = await send('GET', `/${db}/_all_docs?limit=20`);
        if (a && a.status !== 200) report.failures.push(`GET _all_docs: ${a.status} ${JSON.stringify(a.body)}`);
      }
      await pause();
    }
  };

  // The continuous feed: reconnects with its last seq whenever the feed ends or breaks.
  let feedReq: http.ClientRequest | undefined;
  const feed = async () => {
    let since = '0';
    while (running) {
      await new Promise<void>((done) => {
        const req = http.get(`${base}/${db}/_changes?feed=continuous&heartbeat=1000&since=${encodeURIComponent(since)}`, { agent: false }, (res) => {
          if (res.statusCode !== 200) {
            if (running) report.failures.push(`_changes: ${res.statusCode}`);
            res.resume();
            res.on('end', done);
            return;
          }
          onFeedRows<{ id?: string; seq?: string; last_seq?: string }>(res, (row) => {
            if (row.id !== undefined) report.seen.add(row.id);
            const s = row.seq ?? row.last_seq;
            if (typeof s === 'string') since = s;
          });
          res.on('end', done);
          res.on('error', () => done());
        });
        feedReq = req;
        req.on('error', () => setTimeout(done, 100));
      });
    }
  };

  const loops = [...Array.from({ length: opts.writers }, (_, i) => writer(i)), ...Array.from({ length: opts.readers }, () => reader()), feed()];
  return {
    report,
    async stop() {
      running = false;
      feedReq?.destroy();
      await Promise.all(loops);
      if (!opts.agent) agent.destroy();
      return report;
    },
    async feedCaughtUp(ms: number) {
      const until = Date.now() + ms;
      for (;;) {
        const missing = [...report.acked.keys()].filter((id) => !report.seen.has(id));
        if (missing.length === 0) return;
        if (Date.now() > until) throw new Error(`the _changes client missed ${missing.length} docs, e.g. ${missing.slice(0, 5).join(', ')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}
