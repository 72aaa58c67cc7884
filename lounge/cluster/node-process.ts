// One Chaise node as a child process (`chaise serve`), for `chaise cluster` and the
// lounge's multi-process tests; or, with `loungeConfig`, a lounge (`chaise lounge`) as its
// own process, so a test can SIGKILL it and start it again from its lounge.json; or, with
// `kind: 'pouchdb-server'`, a pouchdb-server process (npm `pouchdb-server`, a third-party
// CouchDB-API node) run the same way.
//
// It guarantees: `start()` resolves once the node printed its listening line and answers
// `GET /`; a restart reuses the node's port and directory, so the lounge's map stays
// valid; `kill()` delivers a signal and waits for the exit; every child still alive when
// this process exits is killed, so nothing outlives the cluster or a failed test.

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

/** A cold node start takes ~0.3 s here; allow for a loaded machine. */
const START_TIMEOUT_MS = 20_000;
/** After SIGTERM, how long a node may take to close before it gets SIGKILL. */
const STOP_GRACE_MS = 3_000;
/** Recent output kept per child for error messages. */
const LOG_CHARS_MAX = 8_000;
const READY = /chaise: (?:lounge )?listening on (http:\/\/\S+)/;

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** The node CLI next to this file when compiled (dist/lounge → dist/server), else the build in dist/. */
export function nodeCliPath(): string {
  const beside = fileURLToPath(new URL('../../server/cli.js', import.meta.url));
  if (existsSync(beside)) return beside;
  const built = resolve('dist/server/cli.js');
  if (existsSync(built)) return built;
  throw new Error(`cannot find the node CLI (${built}); build first with \`npx tsc -p .\``);
}

/** pouchdb-server's entry point (a devDependency). */
export function pouchDbServerPath(): string {
  return createRequire(import.meta.url).resolve('pouchdb-server/lib/index.js');
}

/** A port nothing listens on right now (for servers that cannot be given port 0). */
async function freePort(host: string): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

export interface NodeProcessOptions {
  id: string;
  dir: string;
  /** 0 lets the OS pick; the chosen port is kept for restarts. */
  port: number;
  host?: string;
  admin?: string;
  inMemory?: boolean;
  /** What runs: a Chaise node (the default) or a pouchdb-server (kept in `dir`: its config.json, log and, unless in memory, its LevelDB files). */
  kind?: 'chaise' | 'pouchdb-server';
  /** Where the node's output goes besides the kept log (the cluster command passes it through). */
  onOutput?: (id: string, text: string) => void;
  /** Runs `chaise lounge --config <this file>` instead of a node: the lounge as its own process (crash tests, bench). */
  loungeConfig?: string;
  /** Extra environment for the child (test-only settings such as CHAISE_TEST_SWITCH_HOLD_MS). */
  env?: Record<string, string>;
}

export class NodeProcess {
  url = '';
  port: number;
  private child: ChildProcess | undefined;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  private log = '';

  constructor(readonly opts: NodeProcessOptions) {
    this.port = opts.port;
  }

  get id(): string {
    return this.opts.id;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get output(): string {
    return this.log;
  }

  get kind(): 'chaise' | 'pouchdb-server' {
    return this.opts.kind ?? 'chaise';
  }

  async start(): Promise<void> {
    if (this.kind === 'pouchdb-server') return this.startPouchDbServer();
    const host = this.opts.host ?? '127.0.0.1';
    const args = this.opts.loungeConfig
      ? [nodeCliPath(), 'lounge', '--config', this.opts.loungeConfig, '--port', String(this.port), '--host', host]
      : [nodeCliPath(), 'serve', '--port', String(this.port), '--dir', this.opts.dir, '--host', host];
    if (this.opts.admin && !this.opts.loungeConfig) args.push('--admin', this.opts.admin);
    if (this.opts.inMemory && !this.opts.loungeConfig) args.push('--in-memory');
    const env = { ...process.env, ...this.opts.env };
    delete env.CHAISE_PORT;
    delete env.CHAISE_DIR;
    delete env.CHAISE_ADMIN;
    const child = this.spawnChild(args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    const remember = (chunk: Buffer) => this.remember(chunk);
    child.stderr?.on('data', remember);
    const url = await new Promise<string>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`node ${this.id} did not start within ${START_TIMEOUT_MS} ms:\n${this.log}`)), START_TIMEOUT_MS);
      let pending = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        remember(chunk);
        pending += chunk.toString('utf8');
        const m = READY.exec(pending);
        if (m) {
          clearTimeout(timer);
          pending = '';
          ready(m[1] as string);
        }
      });
      void this.exited?.then(({ code, signal }) => {
        clearTimeout(timer);
        fail(new Error(`node ${this.id} exited during start (code ${code}, signal ${signal}):\n${this.log}`));
      });
    });
    this.url = url;
    this.port = Number(new URL(url).port);
    const res = await fetch(url + '/');
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`node ${this.id}: GET / answered ${res.status}`);
  }

  /**
   * pouchdb-server: it treats port 0 as "the default 5984", so a free port is picked here
   * (kept for restarts); it prints its start before it listens, so readiness is `GET /`
   * answering 200. Its config.json (cwd) makes the admin a server admin and points its own
   * replicator daemon at a database nobody uses.
   */
  private async startPouchDbServer(): Promise<void> {
    if (this.port === 0) this.port = await freePort(this.opts.host ?? '127.0.0.1');
    mkdirSync(this.opts.dir, { recursive: true });
    const config: Record<string, unknown> = { replicator: { db: 'pouchdb_server_own_replicator' }, log: { level: 'error' } };
    if (this.opts.admin) {
      const i = this.opts.admin.indexOf(':');
      config.admins = { [this.opts.admin.slice(0, i)]: this.opts.admin.slice(i + 1) };
    }
    writeFileSync(join(this.opts.dir, 'config.json'), JSON.stringify(config));
    const host = this.opts.host ?? '127.0.0.1';
    const args = [pouchDbServerPath(), '--port', String(this.port), '--host', host, '--no-stdout-logs', '--no-color'];
    if (this.opts.inMemory) args.push('--in-memory');
    else {
      mkdirSync(join(this.opts.dir, 'data'), { recursive: true });
      args.push('--dir', join(this.opts.dir, 'data'));
    }
    const child = this.spawnChild(args, { cwd: this.opts.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk: Buffer) => this.remember(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.remember(chunk));
    const url = `http://${host}:${this.port}`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (this.child !== child) throw new Error(`node ${this.id} (pouchdb-server) exited during start:\n${this.log}`);
      const ok = await fetch(url + '/').then(
        async (res) => (await res.arrayBuffer(), res.status === 200),
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`node ${this.id} (pouchdb-server) did not answer within ${START_TIMEOUT_MS} ms:\n${this.log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    this.url = url;
  }

  /** Starts a child of this node: it is killed when this process exits, and `exited` resolves with its end. */
  private spawnChild(args: string[], options: SpawnOptions): ChildProcess {
    const child = spawn(process.execPath, args, options);
    this.child = child;
    live.add(child);
    this.exited = new Promise((done) =>
      child.once('exit', (code, signal) => {
        live.delete(child);
        if (this.child === child) this.child = undefined;
        done({ code, signal });
      }),
    );
    return child;
  }

  /** Keeps the child's recent output (for error messages) and passes it on. */
  private remember(chunk: Buffer): void {
    const text = chunk.toString('utf8');
    this.log = (this.log + text).slice(-LOG_CHARS_MAX);
    this.opts.onOutput?.(this.opts.id, text);
  }

  /** Sends a signal and waits for the exit (SIGKILL is the crash test). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited) return;
    child.kill(signal);
    await exited;
  }

  async restart(): Promise<void> {
    if (this.child) await this.kill('SIGKILL');
    await this.start();
  }

  /** SIGTERM, then SIGKILL after a grace period. */
  async stop(): Promise<void> {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(t);
  }
}
