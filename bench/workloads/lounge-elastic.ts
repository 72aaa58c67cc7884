// The elastic lounge's figures (issue 14), Chaise-only rows in their own section:
//
// - `lounge_move`: one range holding `--move-docs` docs (100,000 by default; ids chosen to
//   hash into it, ~250 B each) moved to a 4th node under no other load: docs/s = docs / the
//   time from `POST /_lounge/moves` to the move's `done`;
// - `lounge_move_get_p50`, `lounge_move_get_p99`: GET latency through the lounge during that
//   move, with the same percentile with no move (measured just before) in the note;
// - `lounge_get_r1`, `lounge_get_r2`: GET latency (p50) with `?r=1` (one replica) and with
//   r=2 (the quorum default for n=2: both replicas asked in parallel), alternating in rounds
//   so drift on a shared machine hits both; p99 in the note.
// GETs are sequential (one at a time, so each sample is one request's latency), of random
// docs of the moved range, and every answer is checked (a failed GET fails the row).
//
// The cluster is its own: 3 node processes (LMDB on disk, q=8, n=2, anti-entropy off), a 4th
// node holding nothing, and the lounge as its own process (`chaise lounge --config`). The
// first of these rows to run measures everything once (about a minute at the default size on
// an idle 2-core machine: loading the range, ~10 s; the move, ~15 s; the GETs); the others
// read the result. `--move-docs 0` leaves the section out.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { crc32, generateConfig, NodeProcess } from '../../lounge/index.js';
import { HttpClient, snippet } from '../http-client.js';
import { makeRandom } from '../docs.js';
import { failed, measured, percentile, type BenchOptions, type Workload, type WorkloadContext } from './workload.js';

const SECTION = 'elastic lounge (3 nodes + 1, q=8, n=2)';
const CLUSTER = { nodes: 3, q: 8, n: 2 };
/** The range moved: the first of q=8 (its ids hash below 0x20000000). */
const RANGE = { name: '00000000-1fffffff', end: 0x1fffffff };
const DB = 'elastic-bench';
const BATCH = 1_000;
/** Sequential GETs in the no-move sample and in each of the r=1 / r=2 sets. */
const GETS = 2_000;
const WARMUP_GETS = 300;
/** Rounds the r=1 and r=2 samples are split into, alternating. */
const R_ROUNDS = 4;
/** GETs during the move stop here even if the move has not ended (the row then fails). */
const MOVE_TIME_LIMIT_MS = 15 * 60_000;
const POLL_MS = 200;

interface Sample {
  ms: number[];
}

interface Result {
  docs: number;
  moveSeconds: number;
  still: Sample;
  during: Sample;
  r1: Sample;
  r2: Sample;
}

let result: Promise<Result | string> | undefined;

const enabled = (o: BenchOptions): boolean => o.moveDocs > 0;

/** The range's doc ids: the first `n` of `e<base36>` that hash into RANGE. */
function rangeIds(n: number): string[] {
  const ids: string[] = [];
  for (let i = 0; ids.length < n; i++) {
    const id = `e${i.toString(36)}`;
    if (crc32(id) >>> 0 <= RANGE.end) ids.push(id);
  }
  return ids;
}

/** `n` sequential GETs of random ids (or until `stop()`), each checked. */
async function gets(client: HttpClient, ids: string[], random: () => number, n: number, suffix = '', stop?: () => boolean): Promise<Sample | string> {
  const ms: number[] = [];
  for (let i = 0; stop ? !stop() : i < n; i++) {
    const id = ids[Math.floor(random() * ids.length)] as string;
    const t = performance.now();
    const res = await client.request('GET', `/${DB}/${id}${suffix}`);
    ms.push(performance.now() - t);
    if (res.status !== 200) return `GET ${id}${suffix} answered ${res.status}: ${snippet(res.body)}`;
  }
  return { ms };
}

async function measure(ctx: WorkloadContext): Promise<Result | string> {
  const docs = ctx.options.moveDocs;
  const dir = mkdtempSync(join(tmpdir(), 'chaise-bench-elastic-'));
  const nodes = Array.from({ length: CLUSTER.nodes + 1 }, (_, i) => {
    mkdirSync(join(dir, `n${i + 1}`));
    return new NodeProcess({ id: `n${i + 1}`, dir: join(dir, `n${i + 1}`), port: 0 });
  });
  const [n1, n2, n3, n4] = nodes as [NodeProcess, NodeProcess, NodeProcess, NodeProcess];
  let lounge: NodeProcess | undefined;
  let client: HttpClient | undefined;
  try {
    ctx.log(`elastic: starting ${CLUSTER.nodes} node processes, a spare node and a lounge process`);
    await Promise.all(nodes.map((n) => n.start()));
    const configPath = join(dir, 'lounge.json');
    const config = { ...generateConfig({ urls: [n1.url, n2.url, n3.url], q: CLUSTER.q, n: CLUSTER.n, serverUuid: randomBytes(16).toString('hex') }), sync: { enabled: false } };
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    lounge = new NodeProcess({ id: 'lounge', dir, port: 0, loungeConfig: configPath });
    await lounge.start();
    client = new HttpClient(lounge.url, 1);
    const c = client;

    const ids = rangeIds(docs);
    const created = await c.json('PUT', `/${DB}`);
    if (created.status !== 201) return `PUT /${DB}: ${created.status}`;
    const bodies: Buffer[] = [];
    for (let i = 0; i < ids.length; i += BATCH) bodies.push(Buffer.from(JSON.stringify({ docs: ids.slice(i, i + BATCH).map((_id, k) => ({ _id, n: i + k, text: 'x'.repeat(200) })) })));
    ctx.log(`elastic: loading ${docs} docs into range ${RANGE.name}`);
    const tLoad = performance.now();
    for (const body of bodies) {
      const res = await c.request('POST', `/${DB}/_bulk_docs`, body);
      if (res.status !== 201) return `loading: _bulk_docs answered ${res.status}: ${snippet(res.body)}`;
    }
    ctx.log(`elastic: loaded in ${((performance.now() - tLoad) / 1000).toFixed(1)} s`);

    const random = makeRandom(ctx.options.seed + 14);
    const warm = await gets(c, ids, random, WARMUP_GETS);
    if (typeof warm === 'string') return `warm-up: ${warm}`;
    const r1: Sample = { ms: [] };
    const r2: Sample = { ms: [] };
    for (let r = 0; r < R_ROUNDS; r++) {
      const a = await gets(c, ids, random, GETS / R_ROUNDS, '?r=1');
      if (typeof a === 'string') return `r=1: ${a}`;
      const b = await gets(c, ids, random, GETS / R_ROUNDS);
      if (typeof b === 'string') return `r=2: ${b}`;
      r1.ms.push(...a.ms);
      r2.ms.push(...b.ms);
    }
    const still = await gets(c, ids, random, GETS);
    if (typeof still === 'string') return `no move: ${still}`;

    const added = await c.json('PUT', '/_lounge/nodes/n4', { url: n4.url });
    if (added.status !== 201) return `adding n4: ${added.status} ${JSON.stringify(added.body)}`;
    const map = (await c.json('GET', '/_lounge/map')).body as { ranges: { range: string; nodes: string[] }[] };
    const from = map.ranges.find((r) => r.range === RANGE.name)?.nodes[0];
    if (from === undefined) return `no range ${RANGE.name} in the map`;
    ctx.log(`elastic: moving ${RANGE.name} (${docs} docs) from ${from} to n4, GETs running`);
    const t0 = performance.now();
    const mv = await c.json('POST', '/_lounge/moves', { range: RANGE.name, from, to: 'n4' });
    if (mv.status !== 202) return `POST /_lounge/moves: ${mv.status} ${JSON.stringify(mv.body)}`;
    let state = 'pending';
    let moveSeconds = 0;
    const poller = new HttpClient(lounge.url, 1);
    const poll = (async () => {
      try {
        while (state !== 'done' && state !== 'failed' && performance.now() - t0 < MOVE_TIME_LIMIT_MS) {
          await new Promise((r) => setTimeout(r, POLL_MS));
          const moves = (await poller.json('GET', '/_lounge/moves')).body as { moves: { state: string }[] };
          state = moves.moves[0]?.state ?? 'missing';
        }
        moveSeconds = (performance.now() - t0) / 1000;
      } finally {
        poller.close();
      }
    })();
    const during = await gets(c, ids, random, 0, '', () => state === 'done' || state === 'failed' || performance.now() - t0 >= MOVE_TIME_LIMIT_MS);
    await poll;
    if (state !== 'done') return `the move ended ${state} after ${moveSeconds.toFixed(0)} s`;
    if (typeof during === 'string') return `during the move: ${during}`;
    ctx.log(`elastic: moved in ${moveSeconds.toFixed(1)} s, ${during.ms.length} GETs meanwhile`);
    return { docs, moveSeconds, still, during, r1, r2 };
  } finally {
    client?.close();
    await lounge?.stop();
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

function measureOnce(ctx: WorkloadContext): Promise<Result | string> {
  result ??= measure(ctx).catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
  return result;
}

const ms = (v: number): string => `${v.toFixed(2)} ms`;

function row(name: string, title: Workload['title'], unit: string, better: 'higher' | 'lower', value: (r: Result) => [number, string]): Workload {
  return {
    name,
    title,
    unit,
    better,
    target: undefined,
    chaiseOnly: true,
    section: SECTION,
    enabled,
    async run(ctx) {
      const r = await measureOnce(ctx);
      if (typeof r === 'string') return failed(r);
      const [v, note] = value(r);
      return measured(v, note);
    },
  };
}

export const loungeMove = row('lounge_move', (o) => `move one range holding ${o.moveDocs} docs to a new node`, 'docs/s', 'higher', (r) => [
  r.docs / r.moveSeconds,
  `${r.moveSeconds.toFixed(1)} s from POST /_lounge/moves to done, ${r.during.ms.length} GETs served meanwhile, none failed`,
]);
const duringMove = (p: number): Workload =>
  row(`lounge_move_get_p${p}`, `GET p${p} through the lounge during that move (r=2)`, 'ms', 'lower', (r) => [
    percentile(r.during.ms, p),
    `no move: p${p} ${ms(percentile(r.still.ms, p))} (${r.still.ms.length} GETs); during: ${r.during.ms.length} GETs`,
  ]);
export const loungeMoveGetP50 = duringMove(50);
export const loungeMoveGetP99 = duringMove(99);
const quorum = (r: 1 | 2): Workload =>
  row(`lounge_get_r${r}`, `GET p50 through the lounge, ${r === 1 ? '?r=1 (one replica)' : 'r=2 (quorum, the default)'}`, 'ms', 'lower', (x) => {
    const s = r === 1 ? x.r1 : x.r2;
    return [percentile(s.ms, 50), `p99 ${ms(percentile(s.ms, 99))} over ${s.ms.length} GETs, r=1 and r=2 alternating in ${R_ROUNDS} rounds`];
  });
export const loungeGetR1 = quorum(1);
export const loungeGetR2 = quorum(2);

export const loungeElasticWorkloads: readonly Workload[] = [loungeMove, loungeMoveGetP50, loungeMoveGetP99, loungeGetR1, loungeGetR2];
