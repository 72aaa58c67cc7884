// Small HTTP helpers for the lounge's multi-process tests: JSON in, status and JSON out; the
// rows of a continuous feed as they arrive.

import type { IncomingMessage } from 'node:http';
import { LineSplitter } from '../wire/lines.js';

export interface Answer<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export async function call<T = any>(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const init: RequestInit = { method, headers: { accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' || Buffer.isBuffer(body) ? (body as string) : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (continuous feeds, attachments)
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

/** Polls `check` until it returns true or the deadline passes. */
export async function eventually(check: () => Promise<boolean>, deadlineMs: number, what: string, pollMs = 50): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Calls `onRow` with each JSON row of a continuous feed as it arrives (heartbeats skipped). */
export function onFeedRows<T = any>(res: IncomingMessage, onRow: (row: T) => void): void {
  const lines = new LineSplitter();
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    for (const l of lines.push(chunk)) if (l.trim() !== '') onRow(JSON.parse(l) as T);
  });
}
