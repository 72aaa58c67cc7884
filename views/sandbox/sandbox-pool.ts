// Which isolate runs a design document's code: one per design document, reused
// across calls, bounded by ISOLATES_MAX with least-recently-used eviction.
//
// The cache key is the ddoc id plus a hash of its code, so an edited design
// document gets a fresh isolate while an unchanged one (even at a new _rev, or
// seen by several databases) keeps its warm, compiled functions.

import { createHash } from 'node:crypto';
import { DesignSandbox, type DesignDoc, type SandboxOptions } from './design-sandbox.js';
import { ISOLATES_MAX } from './limits.js';

export class SandboxPool {
  private readonly entries = new Map<string, DesignSandbox>();
  private readonly options: SandboxOptions;
  private readonly max: number;

  constructor(options: SandboxOptions & { isolatesMax?: number } = {}) {
    const { isolatesMax, ...rest } = options;
    this.options = rest;
    this.max = isolatesMax ?? ISOLATES_MAX;
  }

  /** The sandbox for this design document, created on first use. */
  get(ddoc: DesignDoc): DesignSandbox {
    const { _rev: _r, _attachments: _a, ...code } = ddoc;
    const key = `${ddoc._id}\u0000${createHash('md5').update(JSON.stringify(code)).digest('hex')}`;
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

  /** Number of cached sandboxes. */
  get size(): number {
    return this.entries.size;
  }

  /** Dispose every isolate (server shutdown, tests). */
  close(): void {
    for (const sb of this.entries.values()) sb.dispose();
    this.entries.clear();
  }
}
