// Measures the view engine on this machine (not a test; run by hand):
//   node --import tsx views/bench/measure.ts [docs=100000]
// Prints: sandbox batched vs per-doc map cost, view build rate (JS map + _sum),
// single-doc update→query latency, and reduce latency over a 1M-row index.

import { performance } from 'node:perf_hooks';
import { DesignSandbox } from '../sandbox/design-sandbox.js';
import { ViewEngine } from '../engine/view-engine.js';
import { MemorySource } from '../testing/memory-source.js';
import { tempLmdb } from '../testing/temp-lmdb.js';

const N = Number(process.argv[2] ?? 100_000);

function makeDoc(i: number): Record<string, unknown> {
  // ~300 bytes of JSON, like the server benchmark's docs.
  return {
    _id: `doc-${String(i).padStart(8, '0')}`,
    _rev: `1-${'0'.repeat(32)}`,
    n: i,
    v: i % 97,
    type: i % 3 === 0 ? 'invoice' : 'order',
    name: `customer ${i % 1000}`,
    tags: ['alpha', 'beta', i % 2 ? 'gamma' : 'delta'],
    text: 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor',
    nested: { a: i % 7, b: String(i) },
  };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function sandboxCost(): Promise<void> {
  const sb = new DesignSandbox({ _id: '_design/b', views: { a: { map: 'function(doc){ emit(doc.n, doc.v); }' } } });
  const docs = Array.from({ length: 20_000 }, (_, i) => makeDoc(i));
  await sb.map(['a'], docs.slice(0, 1000)); // warm up
  let t = performance.now();
  await sb.map(['a'], docs);
  const batched = performance.now() - t;
  const few = docs.slice(0, 2_000);
  t = performance.now();
  for (const d of few) await sb.map(['a'], [d]);
  const single = performance.now() - t;
  console.log(`sandbox map, batched (500/call):  ${fmt((docs.length / batched) * 1000)} docs/s`);
  console.log(`sandbox map, one doc per call:    ${fmt((few.length / single) * 1000)} docs/s`);
  sb.dispose();
}

async function build(): Promise<void> {
  const lmdb = tempLmdb();
  const engine = new ViewEngine({ db: lmdb.db });
  const source = new MemorySource('bench');
  for (let i = 0; i < N; i++) source.put(makeDoc(i));
  const ddoc = {
    _id: '_design/b',
    views: { sum: { map: 'function(doc){ emit(doc.n, doc.v); }', reduce: '_sum' } },
  };
  let t = performance.now();
  const r = await engine.queryView(source, ddoc, 'sum', {});
  const ms = performance.now() - t;
  console.log(`view build, JS map + _sum, ${fmt(N)} docs: ${fmt(ms)} ms = ${fmt((N / ms) * 1000)} docs/s (sum ${JSON.stringify(r.rows[0])})`);

  // Single-doc update, then the query that sees it.
  const lat: number[] = [];
  for (let i = 0; i < 200; i++) {
    const d = makeDoc(i * 37);
    d['v'] = 1000 + i;
    source.put(d);
    t = performance.now();
    await engine.queryView(source, ddoc, 'sum', { key: String(i * 37) });
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  console.log(`update 1 doc then query: median ${lat[100]!.toFixed(2)} ms, p95 ${lat[190]!.toFixed(2)} ms`);
  await engine.flush();
  await engine.close();
  await lmdb.close();
}

async function bigReduce(): Promise<void> {
  const lmdb = tempLmdb();
  const engine = new ViewEngine({ db: lmdb.db });
  const source = new MemorySource('big');
  const docs = 100_000;
  for (let i = 0; i < docs; i++) source.put({ _id: `d${i}`, n: i });
  const ddoc = {
    _id: '_design/big',
    views: { ten: { map: 'function(doc){ for (var j = 0; j < 10; j++) emit([doc.n % 100, j, doc.n], 1); }', reduce: '_sum' } },
  };
  let t = performance.now();
  await engine.updateIndex(source, ddoc);
  console.log(`build 1M-row index (100k docs x 10 emits): ${fmt(performance.now() - t)} ms`);
  await engine.flush();
  const timeIt = async (label: string, q: Record<string, string>): Promise<void> => {
    await engine.queryView(source, ddoc, 'ten', q);
    const times: number[] = [];
    let out = '';
    for (let i = 0; i < 20; i++) {
      t = performance.now();
      const r = await engine.queryView(source, ddoc, 'ten', q);
      times.push(performance.now() - t);
      out = JSON.stringify(r.rows).slice(0, 60);
    }
    times.sort((a, b) => a - b);
    console.log(`${label}: median ${times[10]!.toFixed(2)} ms  ${out}`);
  };
  await timeIt('_sum over all 1M rows', {});
  await timeIt('_sum over a middle range (~500k rows)', { startkey: '[25]', endkey: '[75]' });
  await timeIt('group_level=1 (100 groups)', { group_level: '1' });
  await timeIt('map rows, skip=500000 limit=10', { reduce: 'false', skip: '500000', limit: '10' });
  await engine.close();
  await lmdb.close();
}

await sandboxCost();
await build();
await bigReduce();
