// When to try again, and how long to wait first.
//
// The replication protocol asks clients to treat request failures (timeouts,
// resets, 5xx) as transient and retry them, but never to retry 401, 403, 409
// or 412 blindly: those are answers, not accidents. Waits grow exponentially
// up to a cap, with jitter so that many jobs failing together do not retry in
// lock-step. Pure: randomness is passed in, so a seeded run replays exactly.

export interface BackoffPolicy {
  /** Wait before the first retry. */
  baseMs: number;
  /** No single wait exceeds this. */
  capMs: number;
}

/** CouchDB's replicator starts retrying a failed request after 250 ms and doubles from there. */
export const REQUEST_RETRY_BASE_MS = 250;
/** Past ten seconds a peer is down rather than hiccuping; the job-level backoff takes over. */
export const REQUEST_RETRY_CAP_MS = 10_000;
/** CouchDB's `retries_per_request` default. */
export const RETRIES_PER_REQUEST_DEFAULT = 5;

export const REQUEST_BACKOFF: BackoffPolicy = { baseMs: REQUEST_RETRY_BASE_MS, capMs: REQUEST_RETRY_CAP_MS };

/** Exponents past this would only overflow; the cap is reached long before. */
const EXPONENT_MAX = 30;

/**
 * The wait before retry number `attempt` (0 for the first retry):
 * `min(cap, base * 2^attempt)`, of which the upper half is random
 * ("equal jitter"), so the wait is never shorter than half the nominal one.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), EXPONENT_MAX);
  const nominal = Math.min(policy.capMs, policy.baseMs * 2 ** exponent);
  const half = nominal / 2;
  return Math.round(half + half * random());
}

/**
 * Whether a peer status is worth retrying. 0 stands for "no HTTP answer"
 * (refused, reset, timed out, unparseable), which is the typical transient.
 */
export function isRetryableStatus(status: number): boolean {
  if (status === 0) return true;
  if (status === 408 || status === 429) return true;
  // 501 Not Implemented will not implement itself on the next attempt.
  return status >= 500 && status !== 501;
}

/** The statuses the protocol forbids retrying blindly. */
export const NEVER_RETRY_STATUSES: readonly number[] = [401, 403, 409, 412];
