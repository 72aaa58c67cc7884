// A seeded, faulty "network" between a replicator and the databases it talks to, for the
// replication simulation. Every call is one request: its arguments and its answer are copied as
// JSON (bytes as bytes), as a wire would, so no object is shared between the two sides. While
// faults are on, a call that crosses the network (the replicator is not beside that database) may
//   - be dropped before it reaches the database (a retryable PeerError, status 0),
//   - reach it and lose its answer (the same error, after the database acted),
//   - be delivered twice (applied twice; the second answer is the one returned),
//   - be delayed (the event loop turns a few times before and after, reordering concurrent calls),
//   - fail because the two sides are partitioned, until the partition heals.
// Every decision is drawn from the `random` given to `link`, so a seed replays the same faults for
// the same sequence of calls. `heal()` turns all of it off.

import { PeerError, type Endpoint } from '../../replicator/index.js';

export interface FaultRates {
  /** Probability that a request is lost (half before, half after the database acted). */
  drop: number;
  /** Probability that a request is applied twice. */
  duplicate: number;
  /** Probability that a request is delayed. */
  delay: number;
  /** At most this many event-loop turns per delay. */
  delayTurnsMax: number;
}

export interface NetworkStats {
  calls: number;
  lostRequests: number;
  lostAnswers: number;
  duplicated: number;
  delayed: number;
  partitioned: number;
}

/** The endpoint methods that are requests (the others are local: label, identity, close). */
const REQUESTS = [
  'serverUuid',
  'dbInfo',
  'createDb',
  'changes',
  'revsDiff',
  'bulkGet',
  'bulkDocs',
  'getDoc',
  'getAttachment',
  'getLocal',
  'putLocal',
  'ensureFullCommit',
] as const;

/** A JSON copy, as a value looks after crossing a wire (Buffers stay bytes, signals stay live). */
function wire<T>(value: T): T {
  if (value === undefined || value === null) return value;
  if (Buffer.isBuffer(value)) return Buffer.from(value) as T;
  if (value instanceof AbortSignal) return value;
  return JSON.parse(JSON.stringify(value)) as T;
}

function turns(n: number): Promise<void> {
  let p = Promise.resolve();
  for (let i = 0; i < n; i++) p = p.then(() => new Promise<void>((r) => setImmediate(r)));
  return p;
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

export class FaultyNetwork {
  readonly stats: NetworkStats = { calls: 0, lostRequests: 0, lostAnswers: 0, duplicated: 0, delayed: 0, partitioned: 0 };
  private faults = true;
  /** Partitioned pairs of places, and the step at which each heals. */
  private readonly partitions = new Map<string, number>();
  /** The simulation's clock, in steps; partitions heal as it advances. */
  private step = 0;

  constructor(private readonly rates: FaultRates) {}

  /** Cuts `a` off from `b` until `untilStep`. */
  partition(a: string, b: string, untilStep: number): void {
    this.partitions.set(pairKey(a, b), Math.max(untilStep, this.partitions.get(pairKey(a, b)) ?? 0));
  }

  advance(step: number): void {
    this.step = step;
    for (const [key, until] of this.partitions) if (until <= step) this.partitions.delete(key);
  }

  /** Ends every partition now. */
  healPartitions(): void {
    this.partitions.clear();
  }

  /** No faults from now on: a perfect network (still copying every value as a wire does). */
  heal(): void {
    this.faults = false;
    this.partitions.clear();
  }

  isPartitioned(a: string, b: string): boolean {
    const until = this.partitions.get(pairKey(a, b));
    return until !== undefined && until > this.step;
  }

  /**
   * `endpoint` (the database at `place`) as seen by a replicator running at `home`. Calls between
   * the same place are local: copied, never faulty.
   */
  link(endpoint: Endpoint, home: string, place: string, random: () => number): Endpoint {
    const linked = Object.create(endpoint) as Endpoint;
    const slots = linked as unknown as Record<string, unknown>;
    for (const method of REQUESTS) {
      const original = (endpoint[method] as (...args: unknown[]) => Promise<unknown>).bind(endpoint);
      slots[method] = async (...args: unknown[]): Promise<unknown> => {
        this.stats.calls++;
        const apply = (): Promise<unknown> => original(...args.map(wire));
        if (!this.faults || home === place) return wire(await apply());
        const lost = (reason: string): PeerError =>
          new PeerError({ status: 0, error: 'no_response', reason: `${reason} (${method} ${home} → ${place})`, method, url: endpoint.label });
        if (this.isPartitioned(home, place)) {
          this.stats.partitioned++;
          throw lost('partitioned');
        }
        const roll = random();
        const delayed = random() < this.rates.delay;
        const delayTurns = 1 + Math.floor(random() * this.rates.delayTurnsMax);
        const twice = random() < this.rates.duplicate;
        if (roll < this.rates.drop / 2) {
          this.stats.lostRequests++;
          throw lost('request lost');
        }
        if (delayed) {
          this.stats.delayed++;
          await turns(delayTurns);
        }
        let answer = await apply();
        if (twice) {
          // A retransmission of a request whose first answer went missing: the database sees it twice.
          this.stats.duplicated++;
          answer = await apply();
        }
        if (roll < this.rates.drop) {
          this.stats.lostAnswers++;
          throw lost('answer lost');
        }
        if (delayed) await turns(delayTurns);
        return wire(answer);
      };
    }
    return linked;
  }
}
