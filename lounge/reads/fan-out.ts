// Opening one streamed answer per range (one replica each, with failover) for the merged
// reads: _all_docs, views, _find.
//
// It guarantees: every range's answer has arrived far enough that the members before its
// row array are known (`ready()`), or the whole read fails with the first range's error —
// nothing has been written to the client yet, so the error is the answer. If opening fails
// part-way, the answers already open are closed.

import type { Lounge } from '../lounge.js';
import type { Range } from '../placement/ranges.js';
import type { UpstreamRequest } from '../upstream/node-client.js';
import { ShardRows } from '../upstream/shard-rows.js';
import type { ViewRow } from '../merge/view-rows.js';

export interface RangeRows {
  range: Range;
  rows: ShardRows;
}

export async function openEach(
  lounge: Lounge,
  db: string,
  ranges: readonly Range[],
  build: (range: Range, node: string) => UpstreamRequest,
  arrayKeys: readonly string[],
  keep: (range: Range) => (row: ViewRow['row']) => boolean = () => () => true,
  parse?: (text: string) => ViewRow['row'],
): Promise<RangeRows[]> {
  const settled = await Promise.allSettled(
    ranges.map(async (range) => {
      const res = await lounge.reader.request(db, range, (node) => build(range, node));
      const rows = new ShardRows(res, arrayKeys, keep(range), parse);
      try {
        await rows.ready();
      } catch (e) {
        rows.close();
        throw e;
      }
      return { range, rows };
    }),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    for (const s of settled) if (s.status === 'fulfilled') s.value.rows.close();
    throw failed.reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<RangeRows>).value);
}
