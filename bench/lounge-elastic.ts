// The elastic lounge's figures (issue 14), one run: a 3-node cluster (q=8, n=2, LMDB on disk,
// anti-entropy off) with the lounge in this process, and a 4th node.
//
// - move: one range holding 100,000 docs (ids chosen to hash into it) moved to the 4th node
//   under no other load, docs/s = docs / (time from POST /_lounge/moves to `done`);
// - GET p50/p99 through the lounge during that move, next to the same GETs with no move;
// - GET p50/p99 with r=2 (the default for n=2) against ?r=1.
// GETs are sequential (one at a time), of random docs of the moved range.
//
//   npx tsc -p . && node dist/bench/lounge-elastic.js [--docs 100000]

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startCluster } from '../lounge/cluster/cluster.js';
import { NodeProcess } from '../lounge/cluster/node-process.js';
import { crc32 } from '../lounge/placement/crc32.js';

/** Sequential GETs per latency sample set. */
const GETS = 2_000;
const BATCH = 1_000;

const { values } = parseArgs({ options: { docs: { type: 'string' } } });
const DOCS = Number(values.docs ?? 100_000);

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
function req(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const r = http.request(base + path, { method, agent, headers: { accept: 'application/json', ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }));
    });
    r.on('error', reject);
    r.end(payload);
  });
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function sample(base: string, ids: string[], n: number, suffix = '', until?: () => boolean): Promise<{ p50: number; p99: number; n: number; failures: number }> {
  const t: number[] = [];
  let failures = 0;
  for (let i = 0; i < n || (until && !until()); i++) {
    if (until && until()) break;
    const id = ids[Math.floor(Math.random() * ids.length)] as string;
    const t0 = performance.now();
    const r = await req(base, 'GET', `/bench/${id}${suffix}`);
    t.push(performance.now() - t0);
    if (r.status !== 200) failures++;
  }
  t.sort((a, b) => a - b);
  return { p50: pct(t, 50), p99: pct(t, 99), n: t.length, failures };
}

const dir = mkdtempSync(join(tmpdir(), 'chaise-elastic-bench-'));
const cluster = await startCluster({ nodes: 3, q: 8, n: 2, port: 0, dir, tune: { sync: { intervalMs: 3_600_000, debounceMs: 1000, enabled: false } } });
mkdirSync(join(dir, 'n4'));
const extra = new NodeProcess({ id: 'n4', dir: join(dir, 'n4'), port: 0 });
try {
  await extra.start();
  const L = cluster.lounge.url;
  const range = { name: '00000000-1fffffff', end: 0x1fffffff };
  const ids: string[] = [];
  for (let i = 0; ids.length < DOCS; i++) {
    const id = `doc${i.toString(36)}`;
    if (crc32(id) <= range.end) ids.push(id);
  }
  await req(L, 'PUT', '/bench');
  const tLoad = performance.now();
  for (let i = 0; i < ids.length; i += BATCH) {
    const r = await req(L, 'POST', '/bench/_bulk_docs', { docs: ids.slice(i, i + BATCH).map((id, k) => ({ _id: id, n: i + k, text: 'x'.repeat(200) })) });
    if (r.status !== 201) throw new Error(`load: ${r.status}`);
  }
  console.log(`loaded ${ids.length} docs into ${range.name} in ${((performance.now() - tLoad) / 1000).toFixed(1)} s`);
  await sample(L, ids, 300); // warm-up
  const still = await sample(L, ids, GETS);
  const r1 = await sample(L, ids, GETS, '?r=1');
  const r2 = await sample(L, ids, GETS);
  const holder = cluster.lounge.lounge.map.nodesOf(range.name)[0] as string;
  if ((await req(L, 'PUT', '/_lounge/nodes/n4', { url: extra.url })).status !== 201) throw new Error('add node');
  const t0 = performance.now();
  const mv = await req(L, 'POST', '/_lounge/moves', { range: range.name, from: holder, to: 'n4' });
  if (mv.status !== 202) throw new Error(`move: ${JSON.stringify(mv.body)}`);
  let done = false;
  let state = '';
  const poll = (async () => {
    while (!done) {
      const m = (await req(L, 'GET', '/_lounge/moves')).body.moves[0];
      state = m.state;
      if (m.state === 'done' || m.state === 'failed') done = true;
      else await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const during = await sample(L, ids, 0, '', () => done);
  await poll;
  const seconds = (performance.now() - t0) / 1000;
  console.log(`move state: ${state}`);
  console.log('| measure | value |');
  console.log('|---|---|');
  console.log(`| move one range of ${ids.length} docs to a new node | ${seconds.toFixed(1)} s, ${Math.round(ids.length / seconds)} docs/s |`);
  console.log(`| GET p50 / p99, no move (r=2) | ${still.p50.toFixed(2)} ms / ${still.p99.toFixed(2)} ms (${still.n} GETs) |`);
  console.log(`| GET p50 / p99, during the move (r=2) | ${during.p50.toFixed(2)} ms / ${during.p99.toFixed(2)} ms (${during.n} GETs, ${during.failures} failed) |`);
  console.log(`| GET p50 / p99, r=1 | ${r1.p50.toFixed(2)} ms / ${r1.p99.toFixed(2)} ms |`);
  console.log(`| GET p50 / p99, r=2 | ${r2.p50.toFixed(2)} ms / ${r2.p99.toFixed(2)} ms |`);
} finally {
  agent.destroy();
  await cluster.close();
  await extra.stop();
  rmSync(dir, { recursive: true, force: true });
}
