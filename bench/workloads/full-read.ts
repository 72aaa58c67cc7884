// One big read of the whole data set (`_changes`, `_all_docs`), timed from request to last byte
// and reported as rows per second; shared by the full-read workloads.
//
// The body is never parsed: the rows are counted by tokens that appear exactly once per row (see
// docs.ts for why that is exact), and the count must equal the data set's size, so a server that
// answers fast with too few rows fails. The read is repeated options.repeat times after one small
// warm-up read, and the median is reported.

import { performance } from 'node:perf_hooks';
import { isSuccess, snippet } from '../http-client.js';
import { failed, measured, median, type Measurement, type WorkloadContext } from './workload.js';

export interface FullRead {
  /** Path after `/db`, e.g. `/_changes`. */
  path: string;
  /** Appended (with & or ?) for the untimed warm-up read. */
  warmupQuery: string;
  /** Tokens that must each occur exactly once per row. */
  rowTokens: readonly string[];
  /** Tokens that must each occur exactly once per response, e.g. `"last_seq"`. */
  onceTokens: readonly string[];
}

export async function measureFullRead(ctx: WorkloadContext, read: FullRead): Promise<Measurement> {
  const db = encodeURIComponent(await ctx.dataset());
  const rows = ctx.options.docs;
  const path = `/${db}${read.path}`;
  const tokens = [...read.rowTokens, ...read.onceTokens];
  const warm = await ctx.client.requestCounting('GET', path + (path.includes('?') ? '&' : '?') + read.warmupQuery, tokens);
  if (!isSuccess(warm.status)) return failed(`warm-up answered ${warm.status}: ${snippet(warm.head)}`);
  const rates: number[] = [];
  for (let r = 0; r < ctx.options.repeat; r++) {
    const start = performance.now();
    const res = await ctx.client.requestCounting('GET', path, tokens);
    const elapsedMs = performance.now() - start;
    if (!isSuccess(res.status)) return failed(`answered ${res.status}: ${snippet(res.head)}`);
    for (let k = 0; k < tokens.length; k++) {
      const expected = k < read.rowTokens.length ? rows : 1;
      if (res.counts[k] !== expected) {
        return failed(`${res.counts[k]} × ${tokens[k]} in ${res.bytes} bytes, expected ${expected}: …${snippet(res.tail, 80)}`);
      }
    }
    rates.push((rows * 1000) / elapsedMs);
  }
  return measured(median(rates));
}
