// A circuit breaker for one node: whether the proxy should send it requests now.
//
// Lounge kept failure counters per worker process, so every worker rediscovered a dead
// node by timing out on it. One breaker per node, shared by every request of the proxy,
// means the first failures open it and everyone else skips the node at once; a probe
// (`GET /_up`) closes it again when the node is back.
//
// States: closed (send) → `failThreshold` consecutive failures → open (do not send; wait
// `backoff`) → probe due → a successful probe or request closes it and reports a
// recovery; a failed probe doubles the wait, up to `backoffMaxMs`.
// Only connection errors, timeouts and 5xx count as failures, never 4xx answers.
// Pure: the clock is injected.

import type { HealthConfig } from '../config/lounge-config.js';

export type BreakerState = 'closed' | 'open';

export class CircuitBreaker {
  state: BreakerState = 'closed';
  /** Consecutive failures since the last success. */
  failures = 0;
  /** When an open breaker may be probed next (clock ms). */
  probeAt = 0;
  /** When the breaker last opened (clock ms), for /_lounge/health. */
  openedAt: number | undefined;
  lastError: string | undefined;
  private waitMs: number;

  constructor(
    private readonly cfg: HealthConfig,
    private readonly now: () => number,
  ) {
    this.waitMs = cfg.backoffBaseMs;
  }

  /** Whether requests should go to this node now. */
  get available(): boolean {
    return this.state === 'closed';
  }

  /** Records a success; returns true if this closed an open breaker (the node recovered). */
  success(): boolean {
    const recovered = this.state === 'open';
    this.state = 'closed';
    this.failures = 0;
    this.waitMs = this.cfg.backoffBaseMs;
    this.openedAt = undefined;
    return recovered;
  }

  /** Records a failure; returns true if this opened the breaker. */
  failure(error: string): boolean {
    this.failures++;
    this.lastError = error;
    if (this.state === 'open') {
      this.waitMs = Math.min(this.waitMs * 2, this.cfg.backoffMaxMs);
      this.probeAt = this.now() + this.waitMs;
      return false;
    }
    if (this.failures < this.cfg.failThreshold) return false;
    this.state = 'open';
    this.openedAt = this.now();
    this.probeAt = this.now() + this.waitMs;
    return true;
  }

  /** Whether an open breaker's wait is over and a probe should be sent. */
  get probeDue(): boolean {
    return this.state === 'open' && this.now() >= this.probeAt;
  }
}
