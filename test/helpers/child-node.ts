// A real Chaise node in a child process (`node dist/server/cli.js serve ...`), for tests that must
// cross a process boundary: crash recovery (SIGKILL, then restart on the same directory) and
// multi-process setups. It guarantees:
//   - the node listens on a port the OS picked (`--port 0`, the URL is read from its ready line),
//     and a restart reuses that port so URLs held by clients stay valid;
//   - `start()` resolves only once `GET /` answers 200;
//   - every child is killed and its temp dir removed by `stop()`, and, as a safety net, killed
//     when the test process exits, even after a failed test (call `stop()` from an `after` hook).
// It runs the compiled server, so `npx tsc -p .` must have run (`npm test` does that first).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** How long a node may take from spawn to answering `GET /` (a cold start is ~0.3 s here). */
const START_TIMEOUT_MS = 15_000;
/** How long `stop()` waits after SIGTERM before it sends SIGKILL. */
const STOP_GRACE_MS = 3_000;
/** Output kept per child for error messages; older output is dropped. */
const LOG_CHARS_MAX = 8_000;

const CLI = resolve('dist/server/cli.js');
const READY = /chaise: listening on (http:\/\/\S+)/;

export interface ChildNodeOptions {
  /** Data directory; a fresh temp dir (removed by `stop()`) when omitted. */
  dir?: string;
  /** `name:password` for `--admin`; admin party when omitted. */
  admin?: string;
  inMemory?: boolean;
  /** Further CLI arguments, e.g. `['--config', file]`. */
  args?: string[];
}

/** Every child still running, so the exit hook can kill them if a test forgot. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export class ChildNode {
  readonly dir: string;
  /** `http://127.0.0.1:PORT`, fixed for the life of this object (restarts reuse the port). */
  url = '';
  port = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  private log = '';
  private readonly ownsDir: boolean;

  private constructor(private readonly opts: ChildNodeOptions) {
    this.ownsDir = opts.dir === undefined;
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'chaise-'));
  }

  /** Spawns a node and waits until it answers `GET /`. */
  static async start(opts: ChildNodeOptions = {}): Promise<ChildNode> {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p .\``);
    const node = new ChildNode(opts);
    try {
      await node.spawn();
    } catch (e) {
      await node.stop();
      throw e;
    }
    return node;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** The running child's process id (a node that restarts itself in place keeps it). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The child's recent stdout and stderr, for assertion messages. */
  get output(): string {
    return this.log;
  }

  /**
   * Sends `signal` and waits for the process to exit. SIGKILL is the crash test: no handler in the
   * node runs, so whatever is on disk is all a restart will find.
   */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited) throw new Error('node is not running');
    child.kill(signal);
    const result = await exited;
    return result;
  }

  /** Starts the node again on the same directory and port. */
  async restart(): Promise<void> {
    if (this.child) await this.kill('SIGKILL');
    await this.spawn();
  }

  /** Stops the node (SIGTERM, then SIGKILL after a grace period) and removes its temp dir. */
  async stop(): Promise<void> {
    const child = this.child;
    const exited = this.exited;
    if (child && exited) {
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const forced = new Promise<void>((done) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          done();
        }, STOP_GRACE_MS);
      });
      await Promise.race([exited, forced]);
      await exited;
      clearTimeout(timer);
    }
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  private async spawn(): Promise<void> {
    const args = [CLI, 'serve', '--port', String(this.port), '--dir', this.dir];
    if (this.opts.admin !== undefined) args.push('--admin', this.opts.admin);
    if (this.opts.inMemory) args.push('--in-memory');
    args.push(...(this.opts.args ?? []));
    // A clean environment for the flags: CHAISE_* from the caller's shell must not leak in.
    const env = { ...process.env };
    delete env.CHAISE_PORT;
    delete env.CHAISE_DIR;
    delete env.CHAISE_ADMIN;
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.child = child;
    live.add(child);
    this.exited = new Promise((done) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        if (this.child === child) this.child = undefined;
        done({ code, signal });
      });
    });
    const remember = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString('utf8')).slice(-LOG_CHARS_MAX);
    };
    child.stderr?.on('data', remember);

    const url = await new Promise<string>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`node did not start within ${START_TIMEOUT_MS} ms:\n${this.log}`)), START_TIMEOUT_MS);
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
        fail(new Error(`node exited during start (code ${code}, signal ${signal}):\n${this.log}`));
      });
    });
    this.url = url;
    this.port = Number(new URL(url).port);
    // The ready line is printed after listen(); still, prove the node answers before returning.
    const res = await fetch(url + '/');
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`GET / answered ${res.status}:\n${this.log}`);
  }
}

/** Starts a child node; the caller stops it in an `after` hook. */
export function startChildNode(opts: ChildNodeOptions = {}): Promise<ChildNode> {
  return ChildNode.start(opts);
}
