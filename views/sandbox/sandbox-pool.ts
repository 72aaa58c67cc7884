// Which isolate runs a design document's code: one per design document, reused
// across calls, bounded by ISOLATES_MAX with least-recently-used eviction.
//
// The cache key is the ddoc id plus a hash of its code, so an edited design
// document gets a fresh isolate while an unchanged one (even at a new _rev, or
// seen by several databases) keeps its warm, compiled functions.

import { createHash } from 'node:crypto';
import { DesignSandbox, type DesignDoc, type SandboxOptions } from './design-sandbox.js';
import { ISOLATES_MAX, LIST_ISOLATES_IDLE_MAX } from './limits.js';

export class SandboxPool {
  private readonly entries = new Map<string, DesignSandbox>();
  private readonly options: SandboxOptions;
  private readonly max: number;
  /** Idle list sandboxes by design doc (see lease()); idleCount counts them all. */
  private readonly idle = new Map<string, DesignSandbox[]>();
  private idleCount = 0;

  constructor(options: SandboxOptions & { isolatesMax?: number } = {}) {
    const { isolatesMax, ...rest } = options;
    this.options = rest;
    this.max = isolatesMax ?? ISOLATES_MAX;
  }

  /**
   * The sandbox for this design document, created on first use. `role` keeps apart isolates
   * whose calls must not queue behind each other: views and filters use the default one, shows,
   * updates and rewrites (which a person waits for) a 'render' one.
   */
  get(ddoc: DesignDoc, role = ''): DesignSandbox {
    const { _rev: _r, _attachments: _a, ...code } = ddoc;
    const key = `${role}\u0000${ddoc._id}\u0000${createHash('md5').update(JSON.stringify(code)).digest('hex')}`;
    let sb = this.entries.get(key);
    if (sb !== undefined) {
      // Re-insert to mark as most recently used.
      this.entries.delete(key);
      this.entries.set(key, sb);
      return sb;
    }
    sb = new DesignSandbox(ddoc, this.options);
    this.entries.set(key, sb);
    while (this.entries.size > this.max) {
      const [oldest, victim] = this.entries.entries().next().value as [string, DesignSandbox];
      this.entries.delete(oldest);
      victim.dispose();
    }
    return sb;
  }

  /**
   * A sandbox for one long call (a `_list`) that no other call shares while it runs. An idle one
   * of the same design doc is reused (its isolate warm, its functions compiled); release() hands
   * it back, keeping at most LIST_ISOLATES_IDLE_MAX idle ones in all (oldest disposed first).
   */
  lease(ddoc: DesignDoc): { sandbox: DesignSandbox; release(): void } {
    const key = this.keyOf(ddoc, 'list');
    const idle = this.idle.get(key);
    const sandbox = idle?.pop() ?? new DesignSandbox(ddoc, this.options);
    if (idle !== undefined && idle.length === 0) this.idle.delete(key);
    let released = false;
    return {
      sandbox,
      release: () => {
        if (released) return;
        released = true;
        const list = this.idle.get(key) ?? [];
        this.idle.delete(key);
        list.push(sandbox);
        this.idle.set(key, list);
        this.idleCount++;
        while (this.idleCount > LIST_ISOLATES_IDLE_MAX) {
          const [oldestKey, oldest] = this.idle.entries().next().value as [string, DesignSandbox[]];
          const victim = oldest.shift() as DesignSandbox;
          if (oldest.length === 0) this.idle.delete(oldestKey);
          this.idleCount--;
          victim.dispose();
        }
      },
    };
  }

  private keyOf(ddoc: DesignDoc, role: string): string {
    const { _rev: _r, _attachments: _a, ...code } = ddoc;
    return `${role}\u0000${ddoc._id}\u0000${createHash('md5').update(JSON.stringify(code)).digest('hex')}`;
  }

  /** Number of cached sandboxes. */
  get size(): number {
    return this.entries.size;
  }

  /** Dispose every isolate (server shutdown, tests). */
  close(): void {
    for (const sb of this.entries.values()) sb.dispose();
    this.entries.clear();
    for (const list of this.idle.values()) for (const sb of list) sb.dispose();
    this.idle.clear();
    this.idleCount = 0;
  }
}
