// One Chaise node as a child process (`chaise serve`), for `chaise cluster` and the
// lounge's multi-process tests; or, with `loungeConfig`, a lounge (`chaise lounge`) as its
// own process, so a test can SIGKILL it and start it again from its lounge.json.
//
// It guarantees: `start()` resolves once the node printed its listening line and answers
// `GET /`; a restart reuses the node's port and directory, so the lounge's map stays
// valid; `kill()` delivers a signal and waits for the exit; every child still alive when
// this process exits is killed, so nothing outlives the cluster or a failed test.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

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

export interface NodeProcessOptions {
  id: string;
  dir: string;
  /** 0 lets the OS pick; the chosen port is kept for restarts. */
  port: number;
  host?: string;
  admin?: string;
  inMemory?: boolean;
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

  async start(): Promise<void> {
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
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.child = child;
    live.add(child);
    this.exited = new Promise((done) =>
      child.once('exit', (code, signal) => {
        live.delete(child);
        if (this.child === child) this.child = undefined;
        done({ code, signal });
      }),
    );
    const remember = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.log = (this.log + text).slice(-LOG_CHARS_MAX);
      this.opts.onOutput?.(this.opts.id, text);
    };
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
