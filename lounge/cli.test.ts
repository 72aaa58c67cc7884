// `chaise lounge` refuses a bad map at start-up with one line that names the problem, and
// exits 1 — before it listens, so no client ever talks to a misconfigured proxy.
// Runs the real CLI (`dist/server/cli.js`, which forwards to the lounge): build first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeCliPath } from './cluster/node-process.js';
import { generateConfig } from './config/generate-config.js';

/** A CLI that fails on its config must not take longer than this to say so. */
const EXIT_DEADLINE_MS = 15_000;

function run(config: unknown): { status: number | null; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'chaise-'));
  try {
    const file = join(dir, 'lounge.json');
    writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
    const r = spawnSync(process.execPath, [nodeCliPath(), 'lounge', '--config', file, '--port', '0'], { encoding: 'utf8', timeout: EXIT_DEADLINE_MS });
    return { status: r.status, stderr: r.stderr.replace(dir, '<dir>') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const base = generateConfig({ urls: ['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3'], q: 4, n: 2, serverUuid: '0123456789abcdef0123456789abcdef' });

test('bad config files and unknown nodes are refused at start-up, naming the problem', () => {
  const cases: [unknown, RegExp][] = [
    ['{"nodes": ', /bad lounge config: .*lounge\.json: not valid JSON/],
    [{ ...base, ranges: base.ranges.map((r, i) => (i === 1 ? { ...r, nodes: ['n1', 'n7'] } : r)) }, /range 40000000-7fffffff names unknown node 'n7' \(known nodes: n1, n2, n3\)/],
    [{ ...base, ranges: base.ranges.slice(1), q: 3 }, /ranges leave a gap: 00000000-3fffffff is not covered/],
    [{ ...base, ranges: base.ranges.map((r, i) => (i === 0 ? { ...r, nodes: ['n2', 'n2'] } : r)) }, /range 00000000-3fffffff lists node 'n2' twice/],
    [{ ...base, w: 3 }, /w \(3\) must not exceed n \(2\)/],
  ];
  for (const [config, message] of cases) {
    const r = run(config);
    assert.equal(r.status, 1, `exit code for ${message}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  const missing = spawnSync(process.execPath, [nodeCliPath(), 'lounge', '--config', '/nonexistent/lounge.json'], { encoding: 'utf8', timeout: EXIT_DEADLINE_MS });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /\/nonexistent\/lounge\.json: cannot read: ENOENT/);
});

test('chaise cluster starts N nodes and a lounge, and SIGTERM stops every one of them', async () => {
  const { spawn } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'chaise-'));
  const proc = spawn(process.execPath, [nodeCliPath(), 'cluster', '--nodes', '2', '--q', '4', '--n', '2', '--port', '0', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`cluster did not start: ${out}`)), EXIT_DEADLINE_MS);
      proc.stdout.on('data', (c: Buffer) => {
        out += c.toString('utf8');
        if (/lounge listening on http/.test(out)) {
          clearTimeout(timer);
          ready();
        }
      });
      proc.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
    });
    const pids = [...out.matchAll(/node n\d on http:\/\/\S+ \(pid (\d+)\)/g)].map((m) => Number(m[1]));
    assert.equal(pids.length, 2, out);
    const url = /lounge listening on (http:\/\/\S+)/.exec(out)?.[1] as string;
    const created = await fetch(`${url}/demo`, { method: 'PUT' });
    assert.equal(created.status, 201);
    const map = (await (await fetch(`${url}/_lounge/map`)).json()) as { q: number; n: number; ranges: unknown[] };
    assert.deepEqual([map.q, map.n, map.ranges.length], [4, 2, 4]);
    const exited = new Promise<number | null>((done) => proc.once('exit', (code) => done(code)));
    proc.kill('SIGTERM');
    assert.equal(await exited, 0);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    assert.deepEqual(pids.filter(alive), [], 'no node process outlives the cluster');
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
