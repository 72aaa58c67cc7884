// GET of existing docs by random id at options.concurrency concurrent requests, as requests per
// second. DESIGN.md target: ≥ 12,000 req/s at 32 concurrent.
//
// Ids are drawn (seeded) from the whole data set, so reads are not served from one hot doc. A
// request counts only if it answered 200 with a body carrying the requested id. Rounds are
// bounded by count (options.docs) and time; the median round is reported.

import { runConcurrent } from '../concurrent.js';
import { docId, makeRandom } from '../docs.js';
import { snippet } from '../http-client.js';
import { datasetPrefix } from './dataset.js';
import { roundMs } from './put-doc.js';
import { failed, medianOfRounds, type Workload } from './workload.js';

const warmupRequestsMax = 1_000;
const warmupMs = 1_000;

export const getDoc: Workload = {
  name: 'get',
  title: (o) => `GET doc, ${o.concurrency} concurrent, random ids`,
  unit: 'req/s',
  better: 'higher',
  target: 12_000,
  async run(ctx) {
    const { concurrency, docs, repeat, seed } = ctx.options;
    const db = encodeURIComponent(await ctx.dataset());
    const random = makeRandom(seed + 1);
    const round = (countMax: number, durationMs: number) =>
      runConcurrent({
        concurrency,
        countMax,
        durationMs,
        async task() {
          const id = docId(datasetPrefix, Math.floor(random() * docs));
          const res = await ctx.client.requestLean('GET', `/${db}/${id}`);
          if (res.status !== 200) return `GET ${id} answered ${res.status}: ${snippet(res.body)}`;
          if (!res.body.includes(`"${id}"`)) return `GET ${id} answered a body without its id: ${snippet(res.body)}`;
          return undefined;
        },
      });
    return medianOfRounds('get', repeat, () => round(Math.min(docs, warmupRequestsMax), warmupMs), () => round(docs, roundMs), (line) => ctx.log(line));
  },
};
