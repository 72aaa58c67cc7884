// Moves that are interrupted: the target node is SIGKILLed in the middle of the copy and
// restarted (the copy step is retried and resumes from the replicator's checkpoints), and
// the lounge is stopped while a move is switching and started again from its lounge.json
// (the move is resumed from the state the file recorded). Either way the move ends `done`,
// every document is there, and every replica of every range is identical.
//
// What this does not do: SIGKILL the lounge process itself (the lounge runs in this test's
// process; it is closed, which stops its copies wherever they are, and a new one is started
// from the file the old one wrote). The CLI (`chaise lounge rebalance`) is run here as a
// child process against the lounge, with plain progress lines (not a terminal).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type RunningCluster } from './cluster.js';
import { NodeProcess, nodeCliPath } from './node-process.js';
import { loadConfig } from '../config/load-config.js';
import { startLounge, type RunningLounge } from '../lounge.js';
import { call, eventually } from '../test-support/http.js';

const DOCS = 4_000;
const DEADLINE_MS = 180_000;
const TEST_TIMEOUT_MS = 600_000;

let cluster: RunningCluster;
let lounge: RunningLounge;
let extra: NodeProcess;
let dir = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chaise-crash-'));
  cluster = await startCluster({
    nodes: 3,
    q: 4,
    n: 2,
    port: 0,
    dir,
    tune: {
      health: { failThreshold: 1, backoffBaseMs: 100, backoffMaxMs: 300, probeIntervalMs: 100 },
      sync: { intervalMs: 600_000, debounceMs: 200, enabled: true },
      elastic: { retireAfterMs: 600_000, retryMs: 300, attemptsMax: 30 },
    },
  });
  lounge = cluster.lounge;
  mkdirSync(join(dir, 'n4'));
  extra = new NodeProcess({ id: 'n4', dir: join(dir, 'n4'), port: 0 });
  await extra.start();
});

after(async () => {
  await lounge?.close();
  await Promise.all([...(cluster?.nodes ?? []).map((n) => n.stop()), extra?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

async function moves(): Promise<{ id: string; state: string; errors: string[] }[]> {
  return (await call(lounge.url, 'GET', '/_lounge/moves')).body.moves;
}

async function identical(db: string): Promise<boolean> {
  const l = lounge.lounge;
  for (const range of l.map.ranges) {
    const shard = encodeURIComponent(l.map.shardName(range, db));
    const states = await Promise.all(
      l.map.nodesOf(range).map(async (n) => {
        const r = await call(l.config.nodes[n]?.url as string, 'GET', `/${shard}/_changes?style=all_docs`);
        return JSON.stringify((r.body.results as { id: string; changes: unknown }[]).map((x) => [x.id, x.changes]).sort());
      }),
    );
    if (states.some((s) => s !== states[0])) return false;
  }
  return true;
}

function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [nodeCliPath(), 'lounge', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

test('the target dies mid-copy, then the lounge stops mid-switch: the moves finish, nothing is lost', { timeout: TEST_TIMEOUT_MS }, async () => {
  const db = 'crash';
  const L = () => lounge.url;
  assert.equal((await call(L(), 'PUT', `/${db}`)).status, 201);
  for (let i = 0; i < DOCS; i += 500) {
    const docs = Array.from({ length: 500 }, (_, k) => ({ _id: `d${i + k}`, text: 'x'.repeat(500) }));
    assert.equal((await call(L(), 'POST', `/${db}/_bulk_docs`, { docs })).status, 201);
  }
  // The CLI adds the node (plain lines: stdout is not a terminal).
  const added = await cli(['add-node', '--url', extra.url, '--id', 'n4', '--lounge', L()]);
  assert.equal(added.code, 0, added.out);
  assert.match(added.out, /added node n4/);

  // 1. Kill the target while it copies; bring it back.
  const range = lounge.lounge.map.ranges[0]?.name as string;
  const from = lounge.lounge.map.nodesOf(range)[0] as string;
  const mv = await call(L(), 'POST', '/_lounge/moves', { range, from, to: 'n4' });
  assert.equal(mv.status, 202, mv.text);
  await eventually(async () => (await moves()).some((m) => m.state === 'copying'), DEADLINE_MS, 'the copy to start', 20);
  await extra.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 500));
  await extra.restart();
  await eventually(async () => (await moves()).every((m) => m.state === 'done' || m.state === 'failed'), DEADLINE_MS, 'the move to finish');
  assert.deepEqual((await moves()).map((m) => m.state), ['done'], JSON.stringify(await moves()));
  assert.ok(((await moves())[0]?.errors.length ?? 0) > 0, 'the kill hit the move (its step failed and was retried)');
  assert.ok(lounge.lounge.map.nodesOf(range).includes('n4'));

  // 2. Stop the lounge while a rebalance is switching; start a new one from the file.
  const rebalance = cli(['rebalance', '--lounge', L()]);
  await eventually(async () => JSON.parse(readFileSync(cluster.configPath, 'utf8')).moves.some((m: { state: string }) => m.state === 'switching'), DEADLINE_MS, 'a switch', 5);
  await lounge.close();
  const r = await rebalance;
  assert.notEqual(r.code, 0, 'the CLI reports the lounge going away');
  lounge = await startLounge(loadConfig(cluster.configPath), { port: 0, configPath: cluster.configPath });
  await eventually(async () => (await moves()).every((m) => m.state === 'done' || m.state === 'failed'), DEADLINE_MS, 'the resumed moves to finish');
  const states = (await moves()).map((m) => m.state);
  assert.ok(states.every((s) => s === 'done'), JSON.stringify(await moves()));

  // Nothing lost, every replica identical, n replicas everywhere.
  const all = await call(L(), 'GET', `/${db}/_all_docs`);
  assert.equal(all.body.rows.length, DOCS);
  for (const rg of lounge.lounge.map.ranges) assert.equal(lounge.lounge.map.nodesOf(rg).length, 2);
  await eventually(() => identical(db), 30_000, 'identical replicas', 250);
  const listed = await cli(['moves', '--lounge', L()]);
  assert.equal(listed.code, 0);
  assert.match(listed.out, /done/);
});
