// One shard's list answer read as a stream of rows (see wire/json-rows.ts), with the
// members around the row array available as `meta`.
//
// It guarantees: `ready()` resolves once every member before the row array is known (so
// totals can be summed before the first merged row is written); rows are yielded in order
// with their exact text and parsed value; `close()` (or ending iteration early) destroys the
// upstream response, so a `limit` reached at the proxy stops the node's work too.

import { StringDecoder } from 'node:string_decoder';
import { JsonRowsParser } from '../wire/json-rows.js';
import type { ViewRow } from '../merge/view-rows.js';
import type { UpstreamResponse } from './node-client.js';

export class ShardRows implements AsyncIterable<ViewRow> {
  private readonly parser: JsonRowsParser;
  private readonly decoder = new StringDecoder('utf8');
  private readonly it: AsyncIterator<Buffer>;
  private buffered: string[] = [];
  private ended = false;

  constructor(
    readonly res: UpstreamResponse,
    arrayKeys: readonly string[],
    /** Rows for which this returns false are dropped (e.g. foreign design-doc copies). */
    private readonly keep: (row: ViewRow['row']) => boolean = () => true,
    /** How a row's text becomes the fields the merge needs; a shortcut may skip most of it. */
    private readonly parse: (text: string) => ViewRow['row'] = (t) => JSON.parse(t) as ViewRow['row'],
  ) {
    this.parser = new JsonRowsParser(arrayKeys);
    this.it = (res.stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  get node(): string {
    return this.res.node;
  }

  /** Members other than the rows; complete for those before the array after `ready()`, for all after the last row. */
  get meta(): Record<string, unknown> {
    return this.parser.meta;
  }

  async ready(): Promise<void> {
    while (!this.parser.arrayStarted && !this.parser.done && !this.ended) await this.pull();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ViewRow> {
    try {
      for (;;) {
        while (this.buffered.length === 0) {
          if (this.ended) return;
          await this.pull();
        }
        const text = this.buffered.shift() as string;
        const row = this.parse(text);
        if (this.keep(row)) yield { text, row };
      }
    } finally {
      if (!this.ended) this.close();
    }
  }

  /** Reads the rest of the answer (for members after the rows) without keeping rows. */
  async drain(): Promise<void> {
    while (!this.ended) {
      await this.pull();
      this.buffered = [];
    }
  }

  close(): void {
    this.ended = true;
    this.res.stream.destroy();
  }

  private async pull(): Promise<void> {
    const r = await this.it.next();
    if (r.done) {
      this.buffered.push(...this.parser.push(this.decoder.end()));
      this.parser.end();
      this.ended = true;
      return;
    }
    this.buffered.push(...this.parser.push(this.decoder.write(r.value)));
  }
}
