// Time and randomness, injected.
//
// Everything in the replicator that waits (retry backoff, checkpoint
// intervals, job restarts) or draws random numbers (jitter, session ids) goes
// through these, so that a seeded simulation can replay a failure exactly and
// tests need not sleep for real. The defaults are the real clock and
// `Math.random`. Sleeps always end when their signal aborts and never leave a
// timer behind.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/** `bytes` random bytes as lowercase hex, drawn from `random` (32 hex chars for 16 bytes, like a CouchDB uuid). */
export function randomHex(bytes: number, random: Random): string {
  let out = '';
  for (let i = 0; i < bytes; i++) {
    out += Math.floor(random() * 256).toString(16).padStart(2, '0');
  }
  return out;
}
