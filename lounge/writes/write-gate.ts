// Counts the writes running per range and lets a switch pause a range: writes that arrive
// while it is paused wait (they are delayed, never refused), and `pause` resolves once
// the writes already running on it have finished. A move or split switches the map in
// that quiet moment, so no write is half on the old replica set and half on the new.
//
// `enter` takes a function that names the ranges (re-run after every wait, because the map
// may have changed while the write waited: after a split the parent range is gone).

import type { Range } from '../placement/ranges.js';

export class WriteGate {
  private readonly running = new Map<string, number>();
  private readonly paused = new Map<string, { resumed: Promise<void>; resume: () => void }>();
  private readonly drained = new Map<string, (() => void)[]>();

  /** Waits until none of the ranges is paused, then counts the write in them. */
  async enter(ranges: () => Range[]): Promise<Range[]> {
    for (;;) {
      const rs = ranges();
      const blocked = rs.map((r) => this.paused.get(r.name)).find((p) => p !== undefined);
      if (!blocked) {
        for (const r of rs) this.running.set(r.name, (this.running.get(r.name) ?? 0) + 1);
        return rs;
      }
      await blocked.resumed;
    }
  }

  leave(ranges: readonly Range[]): void {
    for (const r of ranges) {
      const n = (this.running.get(r.name) ?? 1) - 1;
      if (n > 0) {
        this.running.set(r.name, n);
        continue;
      }
      this.running.delete(r.name);
      for (const done of this.drained.get(r.name)?.splice(0) ?? []) done();
    }
  }

  /** Stops new writes to `range` and resolves when its running writes are done. */
  async pause(range: string): Promise<void> {
    if (!this.paused.has(range)) {
      let resume = () => {};
      const resumed = new Promise<void>((r) => (resume = r));
      this.paused.set(range, { resumed, resume });
    }
    if ((this.running.get(range) ?? 0) === 0) return;
    await new Promise<void>((done) => {
      const list = this.drained.get(range) ?? [];
      list.push(done);
      this.drained.set(range, list);
    });
  }

  resume(range: string): void {
    const p = this.paused.get(range);
    if (!p) return;
    this.paused.delete(range);
    p.resume();
  }

  /** Writes running on a range now (for tests and status). */
  runningOn(range: string): number {
    return this.running.get(range) ?? 0;
  }
}
