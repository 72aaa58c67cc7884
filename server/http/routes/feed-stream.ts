// A long-lived feed's socket (`_changes`, `_db_updates`): writes that respect back-pressure,
// heartbeats, and sleeping until the next event with no polling. The feed is released the moment
// its socket closes or the node shuts down, so no timer or listener outlives the request.

import type { ServerResponse } from 'node:http';

/** One feed's socket: writes with back-pressure, heartbeats, and wake-ups on commit. */
export class FeedStream {
  closed = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private readonly unsubscribe: () => void;
  private readonly onAbort = () => this.close();

  constructor(
    private readonly res: ServerResponse,
    /** Subscribes to whatever means "something new" (a database's commits, the node's db events). */
    subscribe: (wake: () => void) => () => void,
    private readonly closing: AbortSignal,
  ) {
    this.unsubscribe = subscribe(() => this.wake?.());
    res.on('close', () => this.close());
    closing.addEventListener('abort', this.onAbort);
  }

  async write(text: string): Promise<void> {
    if (this.closed) return;
    if (!this.res.write(text)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.res.off('drain', done);
          this.res.off('close', done);
          resolve();
        };
        this.res.on('drain', done);
        this.res.on('close', done);
      });
    }
  }

  startHeartbeat(ms: number | undefined, text: string): void {
    if (ms === undefined) return;
    this.heartbeat = setInterval(() => void this.write(text), ms);
  }

  stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** Resolves true on the next commit, false on timeout or close. */
  waitForChange(timeoutMs: number | undefined): Promise<boolean> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (changed: boolean) => {
        if (timer) clearTimeout(timer);
        this.wake = undefined;
        resolve(changed);
      };
      this.wake = () => finish(!this.closed);
      if (this.closed) return finish(false);
      if (timeoutMs !== undefined) timer = setTimeout(() => finish(false), timeoutMs);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopHeartbeat();
    this.unsubscribe();
    this.closing.removeEventListener('abort', this.onAbort);
    this.wake?.();
  }

  end(): void {
    const wasClosed = this.closed;
    this.close();
    if (!wasClosed || !this.res.writableEnded) this.res.end();
  }
}
