// Writing a long-lived answer (`_changes` feeds) straight to the socket: headers when the
// first byte is ready, back-pressure on every write, and a signal the moment the client
// goes away so upstream feeds are released at once instead of at their next heartbeat.

import { setMaxListeners } from 'node:events';
import type { ServerResponse } from 'node:http';

/** Listeners the client-gone signal may hold: a few per range for q up to 256. */
const FEED_LISTENERS_MAX = 1024;

export class FeedWriter {
  private started = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly res: ServerResponse,
    private readonly contentType: string,
  ) {
    // Each feed listens once per range (q of them), not once per request over time.
    setMaxListeners(FEED_LISTENERS_MAX, this.abort.signal);
    res.once('close', () => this.abort.abort());
  }

  /** Fires when the client disconnects (or the feed ends). */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get closed(): boolean {
    return this.abort.signal.aborted || this.res.destroyed;
  }

  get headersSent(): boolean {
    return this.started;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, {
      'Content-Type': this.contentType,
      'Cache-Control': 'must-revalidate',
      'Transfer-Encoding': 'chunked',
      'X-Accel-Buffering': 'no',
    });
  }

  async write(text: string): Promise<void> {
    if (this.closed) return;
    this.start();
    if (this.res.write(text)) return;
    await new Promise<void>((done) => {
      const finish = () => {
        this.res.off('drain', finish);
        this.res.off('close', finish);
        done();
      };
      this.res.once('drain', finish);
      this.res.once('close', finish);
    });
  }

  end(): void {
    if (!this.res.writableEnded && !this.res.destroyed) {
      this.start();
      this.res.end();
    }
    this.abort.abort();
  }
}
