// Starts and stops the servers the bench measures: a Chaise node, a pouchdb-server, or any
// CouchDB-API server given by URL (which the bench neither starts nor stops).
//
// Guarantees: every process the bench starts runs on 127.0.0.1 on a free port, keeps its data
// in a fresh temp dir, is spawned as `node <script>` so its pid is the server's own (for RSS), and
// is stopped and its dir removed by `stop()` — or killed when the bench itself exits early.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpClient, isSuccess } from './http-client.js';

/** A server that has not answered `GET /` this long after spawning is given up on. */
const startTimeoutMs = 30_000;
/** Between readiness probes. */
const readyPollMs = 100;
/** After SIGTERM, a server gets this long to exit before SIGKILL. */
const stopTimeoutMs = 10_000;
/** Lines of a server's log shown when it fails to start. */
const logTailLines = 15;

export interface RunningServer {
  /** What the table calls it, e.g. "Chaise 0.1.0 (LMDB on disk)". */
  readonly label: string;
  /** Base URL, with credentials when it needs them. */
  readonly url: string;
  /** Pid of the server process when the bench started it (for VmRSS); undefined for a URL. */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export interface ServerSpec {
  /** 'chaise' or 'peer': which column it fills. */
  readonly role: 'chaise' | 'peer';
  /** True when the bench starts the process itself (so it can start a fresh one). */
  readonly started: boolean;
  start(): Promise<RunningServer>;
}

/** The repo root: the nearest folder above this file holding package.json. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

/** The version in the repo's package.json (Chaise's own `GET /` reports the CouchDB API version). */
function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '?';
}

/** A Chaise node from `dist/server/cli.js serve`, with LMDB data in a temp dir (or in memory). */
export function chaiseSpec(opts: { inMemory: boolean }): ServerSpec {
  return {
    role: 'chaise',
    started: true,
    async start() {
      const cli = path.join(repoRoot(), 'dist', 'server', 'cli.js');
      if (!fs.existsSync(cli)) {
        throw new Error(`${cli} does not exist: build first (npx tsc -p .), or pass --chaise URL`);
      }
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chaise-bench-'));
      const port = await freePort();
      const args = [cli, 'serve', '--port', String(port), '--host', '127.0.0.1', '--dir', path.join(dir, 'data')];
      if (opts.inMemory) args.push('--in-memory');
      const proc = await startProcess(args, dir, port);
      const info = await welcome(proc.url);
      const storage = opts.inMemory ? 'in-memory' : 'LMDB on disk';
      const label = `Chaise ${packageVersion()} (CouchDB API ${info.version}, ${storage})`;
      return { label, url: proc.url, pid: proc.pid, stop: proc.stop };
    },
  };
}

/**
 * pouchdb-server 4.2 from node_modules, in a temp dir (it writes config.json, log.txt and its
 * databases into its working directory). With inMemory 'auto' it tries its default on-disk
 * LevelDOWN first and falls back to --in-memory if that does not work here.
 */
export function pouchdbServerSpec(opts: { inMemory: boolean | 'auto' }): ServerSpec {
  return {
    role: 'peer',
    started: true,
    async start() {
      const script = fs.realpathSync(path.join(repoRoot(), 'node_modules', '.bin', 'pouchdb-server'));
      const attempt = async (inMemory: boolean): Promise<RunningServer> => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chaise-bench-peer-'));
        const port = await freePort();
        // -n: no request log on stdout (it still writes log.txt), as a deployed server would run.
        const args = [script, '--port', String(port), '--host', '127.0.0.1', '-n'];
        if (inMemory) args.push('--in-memory');
        const proc = await startProcess(args, dir, port);
        try {
          await probeWrites(proc.url);
        } catch (e) {
          await proc.stop();
          throw e;
        }
        const info = await welcome(proc.url);
        const storage = inMemory ? 'in-memory' : 'leveldb on disk';
        return { label: `pouchdb-server ${info.version} (${storage})`, url: proc.url, pid: proc.pid, stop: proc.stop };
      };
      if (opts.inMemory !== 'auto') return attempt(opts.inMemory);
      try {
        return await attempt(false);
      } catch (e) {
        process.stderr.write(`pouchdb-server on disk failed (${(e as Error).message}); using --in-memory\n`);
        return attempt(true);
      }
    },
  };
}

/** A server the bench only talks to. Its label comes from its `GET /` welcome. */
export function urlSpec(role: 'chaise' | 'peer', url: string): ServerSpec {
  return {
    role,
    started: false,
    async start() {
      const info = await welcome(url);
      const shown = new URL(url);
      shown.username = '';
      shown.password = '';
      // Chaise's welcome reports the CouchDB API version it speaks, not its own.
      const what = info.name === 'Chaise' ? `Chaise (CouchDB API ${info.version})` : `${info.name} ${info.version}`;
      return { label: `${what} at ${shown.origin}`, url, pid: undefined, stop: async () => {} };
    },
  };
}

/** The resident set size of a local process in bytes, from /proc/PID/status VmRSS; undefined if unreadable. */
export function readRssBytes(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return m === null ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Asks the OS for a free loopback port (released again before the server binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

// ---- processes -------------------------------------------------------------------------------

/** Children still running, killed if the bench exits without stopping them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      for (const child of live) child.kill('SIGKILL');
      process.exit(130);
    });
  }
}

interface StartedProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Spawns `node args…` in `dir` (logging to dir/server.log), waits for `GET /`, and returns how to stop it. */
async function startProcess(args: string[], dir: string, port: number): Promise<StartedProcess> {
  installExitHook();
  const logPath = path.join(dir, 'server.log');
  const log = fs.openSync(logPath, 'a');
  const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  live.add(child);
  let exited: string | undefined;
  const exit = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      live.delete(child);
      resolve();
    }),
  );
  const stop = async (): Promise<void> => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
      await exit;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + startTimeoutMs;
  const probe = new HttpClient(url, 1);
  try {
    for (;;) {
      if (exited !== undefined) throw new Error(`${path.basename(args[0]!)} ${exited}:\n${tail(logPath)}`);
      if (Date.now() > deadline) {
        throw new Error(`${path.basename(args[0]!)} did not answer GET / within ${startTimeoutMs} ms:\n${tail(logPath)}`);
      }
      try {
        const res = await probe.request('GET', '/');
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, readyPollMs));
    }
  } catch (e) {
    await stop();
    throw e;
  } finally {
    probe.close();
  }
  if (child.pid === undefined) throw new Error('spawned server has no pid');
  return { url, pid: child.pid, stop };
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-logTailLines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Name and version from a server's `GET /` welcome ({"couchdb":"Welcome","version":…,"vendor":{…}}). */
async function welcome(url: string): Promise<{ name: string; version: string }> {
  const client = new HttpClient(url, 1);
  try {
    const res = await client.json('GET', '/');
    if (res.status !== 200 || typeof res.body !== 'object' || res.body === null) {
      throw new Error(`GET ${url}/ answered ${res.status}`);
    }
    const body = res.body as { version?: unknown; vendor?: { name?: unknown }; couchdb?: unknown };
    const version = typeof body.version === 'string' ? body.version : '?';
    const vendor = typeof body.vendor?.name === 'string' ? body.vendor.name : '';
    const name =
      /apache/i.test(vendor) ? 'Apache CouchDB' : /pouchdb/i.test(vendor) || 'express-pouchdb' in body ? 'pouchdb-server' : vendor || 'server';
    return { name, version };
  } finally {
    client.close();
  }
}

/** Creates, writes to and deletes a probe database, to see that the storage actually works. */
async function probeWrites(url: string): Promise<void> {
  const client = new HttpClient(url, 1);
  const db = `bench-probe-${process.pid}`;
  try {
    const created = await client.json('PUT', `/${db}`);
    if (!isSuccess(created.status)) throw new Error(`PUT /${db} answered ${created.status}`);
    const put = await client.json('PUT', `/${db}/probe`, { probe: true });
    if (!isSuccess(put.status)) throw new Error(`PUT /${db}/probe answered ${put.status}`);
    await client.json('DELETE', `/${db}`);
  } finally {
    client.close();
  }
}
