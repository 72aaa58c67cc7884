// Design functions that answer HTTP themselves, on the shared data set:
// - `show`: `GET /db/_design/bench-render/_show/id/<id>` for seeded random ids of the data set,
//   options.concurrency concurrent; req/s (rounds as for `get`). A request counts only if it
//   answered 200 with exactly the doc's id as its body (the show reads the doc and returns it).
// - `list`: `_list` over the score view (one row per data-set doc, 100k at the default size),
//   `reduce=false`; rows/s (rows / time to the last byte), median of options.repeat. The list
//   sends one line per row and ends with the count it saw, which must equal options.docs.
// Neither has a target in DESIGN.md. The render functions live in the score view's design doc
// (added to it once; adding shows and lists changes no view, so the index is not rebuilt).

import { performance } from 'node:perf_hooks';
import { runConcurrent } from '../concurrent.js';
import { docId, makeRandom } from '../docs.js';
import { isSuccess, snippet, type HttpClient } from '../http-client.js';
import type { RunningServer } from '../servers.js';
import { datasetPrefix } from './dataset.js';
import { roundMs } from './put-doc.js';
import { scoreDesign, scoreView } from './score-view.js';
import { failed, measured, median, medianOfRounds, type Workload, type WorkloadContext } from './workload.js';

const warmupRequestsMax = 1_000;
const warmupMs = 1_000;

const RENDER = {
  shows: { id: 'function (doc, req) { return doc ? doc._id : "missing"; }' },
  lists: {
    lines: 'function (head, req) { start({ headers: { "Content-Type": "text/plain" } }); var row, n = 0; while ((row = getRow())) { send(row.key + "\\n"); n++; } return "rows " + n + "\\n"; }',
  },
};

const ready = new WeakMap<RunningServer, Promise<{ db: string; ddoc: string } | string>>();

/** The score view's design doc with the render functions added (once per server). */
function renderDesign(ctx: WorkloadContext): Promise<{ db: string; ddoc: string } | string> {
  let p = ready.get(ctx.server);
  if (p === undefined) {
    p = addRender(ctx);
    ready.set(ctx.server, p);
  }
  return p;
}

async function addRender(ctx: WorkloadContext): Promise<{ db: string; ddoc: string } | string> {
  const view = await scoreView(ctx);
  if (typeof view === 'string') return `the score view: ${view}`;
  const ddoc = `/${encodeURIComponent(view.db)}/${scoreDesign._id}`;
  const got = await ctx.client.request('GET', ddoc);
  if (got.status !== 200) return `GET ${ddoc} answered ${got.status}: ${snippet(got.body)}`;
  const body = { ...(JSON.parse(got.body.toString('utf8')) as Record<string, unknown>), ...RENDER };
  const put = await ctx.client.request('PUT', ddoc, Buffer.from(JSON.stringify(body)));
  if (!isSuccess(put.status)) return `PUT ${ddoc} answered ${put.status}: ${snippet(put.body)}`;
  return { db: encodeURIComponent(view.db), ddoc: scoreDesign._id };
}

export const showDoc: Workload = {
  name: 'show',
  title: (o) => `_show of one doc, ${o.concurrency} concurrent`,
  unit: 'req/s',
  better: 'higher',
  target: undefined,
  async run(ctx) {
    const { concurrency, docs, repeat, seed } = ctx.options;
    const r = await renderDesign(ctx);
    if (typeof r === 'string') return failed(r);
    const random = makeRandom(seed + 7);
    const round = (countMax: number, durationMs: number) =>
      runConcurrent({
        concurrency,
        countMax,
        durationMs,
        async task() {
          const id = docId(datasetPrefix, Math.floor(random() * docs));
          const res = await ctx.client.requestLean('GET', `/${r.db}/${r.ddoc}/_show/id/${id}`);
          if (res.status !== 200) return `_show of ${id} answered ${res.status}: ${snippet(res.body)}`;
          if (res.body.toString('utf8') !== id) return `_show of ${id} answered ${snippet(res.body)}`;
          return undefined;
        },
      });
    return medianOfRounds('show', repeat, () => round(Math.min(docs, warmupRequestsMax), warmupMs), () => round(docs, roundMs), (line) => ctx.log(line));
  },
};

export const listView: Workload = {
  name: 'list',
  title: (o) => `_list over a ${o.docs >= 1000 ? `${Math.round(o.docs / 1000)}k` : o.docs}-row view`,
  unit: 'rows/s',
  better: 'higher',
  target: undefined,
  async run(ctx) {
    const { docs, repeat } = ctx.options;
    const r = await renderDesign(ctx);
    if (typeof r === 'string') return failed(r);
    const path = `/${r.db}/${r.ddoc}/_list/lines/score?reduce=false`;
    const once = async (client: HttpClient): Promise<number | string> => {
      const t0 = performance.now();
      const res = await client.requestCounting('GET', path, ['\n'], undefined, true);
      const ms = performance.now() - t0;
      if (res.status !== 200) return `${path} answered ${res.status}: ${res.head.slice(0, 160)}`;
      if (!res.tail.endsWith(`rows ${docs}\n`)) return `the list ended with ${JSON.stringify(res.tail.slice(-40))}, expected "rows ${docs}"`;
      if (res.counts[0] !== docs + 1) return `${res.counts[0]} lines, expected ${docs + 1}`;
      return ms;
    };
    const warm = await once(ctx.client);
    if (typeof warm === 'string') return failed(`first run: ${warm}`);
    const times: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const ms = await once(ctx.client);
      if (typeof ms === 'string') return failed(ms);
      times.push(ms);
      ctx.log(`list run ${i + 1}: ${Math.round(ms)} ms`);
    }
    const ms = median(times);
    return measured((docs / ms) * 1000, `median of ${times.length}: ${Math.round(ms)} ms for ${docs} rows`);
  },
};

