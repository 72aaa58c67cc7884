// Single-doc PUT of new docs at options.concurrency concurrent requests, as requests per second.
// DESIGN.md target: ≥ 7,000 req/s at 32 concurrent.
//
// Each request creates a new doc (a fresh id, a pre-serialized ~300-byte body), so the server
// must write and acknowledge every one; per DESIGN.md it may group-commit concurrent writes but
// answers only once the write is durable. A request counts only if it answered 2xx with a rev.
// Rounds are bounded by count (options.docs) and time; the median round is reported.

import { runConcurrent } from '../concurrent.js';
import { docFields, makeRandom } from '../docs.js';
import { isSuccess, snippet } from '../http-client.js';
import { failed, medianOfRounds, type Workload } from './workload.js';

/** Distinct bodies cycled through (bodies need no _id: the id is in the URL). */
const bodyPoolSize = 256;
/** Untimed requests first, so sockets are open and the server's code is warm. */
const warmupRequestsMax = 500;
const warmupMs = 1_000;
/** Each timed round stops starting requests after this long. */
export const roundMs = 3_000;

export const putDoc: Workload = {
  name: 'put',
  title: (o) => `single-doc PUT, ${o.concurrency} concurrent`,
  unit: 'req/s',
  better: 'higher',
  target: 7_000,
  async run(ctx) {
    const { concurrency, docs, repeat, seed } = ctx.options;
    const random = makeRandom(seed);
    const bodies = Array.from({ length: bodyPoolSize }, (_, i) => Buffer.from(`{${docFields(i, random)}}`));
    const db = encodeURIComponent(await ctx.createDb('put'));
    const round = (tag: string, countMax: number, durationMs: number) =>
      runConcurrent({
        concurrency,
        countMax,
        durationMs,
        async task(i) {
          const res = await ctx.client.requestLean('PUT', `/${db}/${tag}${i}`, bodies[i % bodyPoolSize]!);
          if (!isSuccess(res.status)) return `PUT answered ${res.status}: ${snippet(res.body)}`;
          if (!res.body.includes('"rev"')) return `PUT answered ${res.status} without a rev: ${snippet(res.body)}`;
          return undefined;
        },
      });
    return medianOfRounds('put', repeat, () => round('w-', Math.min(docs, warmupRequestsMax), warmupMs), (r) => round(`p${r}-`, docs, roundMs), (line) => ctx.log(line));
  },
};
