// Small shared pieces of the replication tests (replication-*.test.ts): JSON over HTTP to a node,
// polling until something holds, a seeded generator, and reading a database's documents in the
// exact form two replicas must agree on. Nothing here knows about the replicator's internals: the
// tests look at the nodes only through CouchDB's HTTP API, as any client would.

import assert from 'node:assert/strict';

/** Poll interval while waiting for a replicated write or a scheduler state. */
export const POLL_MS = 25;

export interface JsonAnswer<T = any> {
  status: number;
  body: T;
}

/** One request with a JSON body (or none); the answer parsed as JSON when it is JSON. */
export async function json<T = any>(method: string, url: string, body?: unknown): Promise<JsonAnswer<T>> {
  const init: RequestInit = { method, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T };
}

/** Like `json`, but fails the test unless the status is one of `ok`. */
export async function ok<T = any>(method: string, url: string, body?: unknown, okStatuses: number[] = [200, 201, 202]): Promise<T> {
  const res = await json<T>(method, url, body);
  assert.ok(okStatuses.includes(res.status), `${method} ${url} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Raw bytes of a GET (attachments). */
export async function bytes(url: string): Promise<{ status: number; type: string | null; data: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type'), data: Buffer.from(await res.arrayBuffer()) };
}

/**
 * Polls `check` until it returns a value other than `undefined`/`false`, and returns it; fails the
 * test with `what` and the last value seen once `deadlineMs` has passed.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, deadlineMs: number): Promise<T> {
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      // A failed assertion inside `check` is final; anything else (a refused connection while a
      // node restarts) is a reason to poll again.
      if (err instanceof assert.AssertionError) throw err;
      last = err;
    }
    if (Date.now() - started > deadlineMs) assert.fail(`${what}: not seen within ${deadlineMs} ms (last: ${String(last instanceof Error ? last.message : JSON.stringify(last))})`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** mulberry32, the bench's seeded generator, so a failing run replays with CHAISE_SEED. */
export { makeRandom as seeded } from '../../bench/docs.js';

/** `n` bytes drawn from `random`. */
export function randomBytesFrom(random: () => number, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/**
 * Every document of a database as replicas must agree on it: `_all_docs?include_docs&conflicts`
 * (winner, body, `_conflicts`, attachment stubs with digests) — tombstones are not listed there,
 * so their winners come from `_changes?style=all_docs`, which also lists every leaf.
 */
export async function replicaState(dbUrl: string): Promise<{ docs: unknown[]; changes: { id: string; changes: string[]; deleted: boolean }[] }> {
  const all = await ok<{ rows: { doc: Record<string, unknown> }[] }>('GET', `${dbUrl}/_all_docs?include_docs=true&conflicts=true`);
  const feed = await ok<{ results: { id: string; changes: { rev: string }[]; deleted?: boolean }[] }>('GET', `${dbUrl}/_changes?style=all_docs`);
  const changes = feed.results
    .map((r) => ({ id: r.id, changes: r.changes.map((c) => c.rev).sort(), deleted: r.deleted === true }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { docs: all.rows.map((r) => r.doc), changes };
}
