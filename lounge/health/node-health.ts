// The health of every node the lounge knows: one circuit breaker each, a prober that
// sends `GET /_up` to open breakers whose wait is over, and a "recovered" signal the
// anti-entropy syncer listens to so that a returning node is brought up to date.
//
// The prober is the only timer here; `close()` stops it. The probe itself is injected, so
// this file does no I/O of its own.

import type { HealthConfig } from '../config/lounge-config.js';
import { CircuitBreaker } from './circuit-breaker.js';

export interface NodeHealthReport {
  node: string;
  state: 'up' | 'down';
  failures: number;
  downSinceMs?: number;
  lastError?: string;
}

export class NodeHealth {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly listeners = new Set<(node: string) => void>();
  private timer: NodeJS.Timeout | undefined;
  private probing = new Set<string>();

  constructor(
    nodes: readonly string[],
    private readonly cfg: HealthConfig,
    private readonly probe: (node: string) => Promise<boolean>,
    private readonly now: () => number = Date.now,
  ) {
    for (const n of nodes) this.breakers.set(n, new CircuitBreaker(cfg, now));
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.cfg.probeIntervalMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  isUp(node: string): boolean {
    return this.breaker(node).available;
  }

  success(node: string): void {
    if (this.breaker(node).success()) this.emitRecovered(node);
  }

  failure(node: string, error: string): void {
    this.breaker(node).failure(error);
  }

  /** Called with a node id each time a down node comes back. */
  onRecovered(listener: (node: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  report(): NodeHealthReport[] {
    const now = this.now();
    return [...this.breakers].map(([node, b]) => ({
      node,
      state: b.available ? 'up' : 'down',
      failures: b.failures,
      ...(b.openedAt !== undefined ? { downSinceMs: now - b.openedAt } : {}),
      ...(b.lastError !== undefined && !b.available ? { lastError: b.lastError } : {}),
    }));
  }

  /** One prober round: probe every open breaker whose wait is over (exposed for tests). */
  tick(): void {
    for (const [node, b] of this.breakers) {
      if (!b.probeDue || this.probing.has(node)) continue;
      this.probing.add(node);
      void this.probe(node)
        .then(
          (ok) => (ok ? this.success(node) : this.failure(node, 'probe: /_up did not answer 200')),
          (e: unknown) => this.failure(node, `probe: ${e instanceof Error ? e.message : String(e)}`),
        )
        .finally(() => this.probing.delete(node));
    }
  }

  private breaker(node: string): CircuitBreaker {
    let b = this.breakers.get(node);
    if (!b) {
      b = new CircuitBreaker(this.cfg, this.now);
      this.breakers.set(node, b);
    }
    return b;
  }

  private emitRecovered(node: string): void {
    for (const l of this.listeners) {
      try {
        l(node);
      } catch (e) {
        console.error('lounge: recovery listener failed', e);
      }
    }
  }
}
