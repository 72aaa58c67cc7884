// Test support: a real pouchdb-server process to replicate against.
//
// Each server runs `--in-memory` in a fresh temp dir (it writes config.json
// and log.txt into its cwd), on a random port in 20000-29999, retried on
// collision. Its own `_replicator` daemon is pointed at another database, so
// that our scheduler is the only thing acting on `_replicator` documents.
// `stop()` kills the process and removes the dir: tests leave nothing behind.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** pouchdb-server takes about 3 s to start on this machine; allow for a loaded one. */
const STARTUP_TIMEOUT_MS = 30_000;
const PORT_ATTEMPTS_MAX = 5;

export interface PouchDbServer {
  /** `http://127.0.0.1:PORT/` */
  url: string;
  port: number;
  stop(): Promise<void>;
}

async function up(url: string): Promise<boolean> {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

async function startOnce(port: number, dir: string): Promise<{ child: ChildProcess } | null> {
  const bin = path.join(process.cwd(), 'node_modules', 'pouchdb-server', 'lib', 'index.js');
  const child = spawn(process.execPath, [bin, '--in-memory', '--port', String(port), '--no-stdout-logs'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  child.stderr?.resume();
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) return null;
    if (await up(`http://127.0.0.1:${port}/`)) return { child };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`pouchdb-server did not start on port ${port}`);
}

export async function startPouchDbServer(): Promise<PouchDbServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chaise-repl-pouchdb-'));
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ replicator: { db: 'pouchdb_server_own_replicator' }, log: { level: 'error' } }),
  );
  for (let attempt = 0; attempt < PORT_ATTEMPTS_MAX; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    const started = await startOnce(port, dir);
    if (!started) continue;
    const { child } = started;
    // Even if the test process dies on an uncaught error, take the server with it.
    const onExit = (): void => {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    };
    process.once('exit', onExit);
    return {
      url: `http://127.0.0.1:${port}/`,
      port,
      async stop() {
        process.removeListener('exit', onExit);
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await exited;
        }
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error('could not start pouchdb-server');
}

/** Small JSON helper for tests: any method, parsed answer, status. */
export async function http<T = any>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  const init: RequestInit = { method, headers: { accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' || body instanceof Uint8Array ? (body as string) : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // leave as text
  }
  return { status: res.status, body: parsed as T };
}
