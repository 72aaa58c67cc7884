// What a benchmark workload is, and what it hands back.
//
// A workload measures one thing against one running server and returns a tagged Measurement.
// It never prints and never throws for a server's misbehaviour: a wrong status or a wrong row
// count becomes `{ kind: 'failed', reason }`, so a broken server shows FAILED in the table
// instead of "winning" with a bogus number. The runner catches anything thrown as well.

import type { HttpClient } from '../http-client.js';
import type { RunningServer } from '../servers.js';
import { clientBoundNote, type ConcurrentResult } from '../concurrent.js';

/** A measured value, a failed check, or a cell that cannot be measured on this server. */
export type Measurement =
  | { kind: 'measured'; value: number; note?: string }
  | { kind: 'failed'; reason: string }
  | { kind: 'not-applicable'; reason: string };

export interface BenchOptions {
  /** Docs in the shared data set and in the `_bulk_docs` insert. */
  docs: number;
  /** Docs loaded before reading the resident memory (`rss` workload). */
  rssDocs: number;
  /** Concurrent requests for the single-doc workloads. */
  concurrency: number;
  /** How many times repeated measurements run; the median is reported. */
  repeat: number;
  /** Seed for doc contents and random ids, so two runs send the same bytes. */
  seed: number;
  /** Docs in the range the elastic lounge rows move; 0 leaves those rows out. */
  moveDocs: number;
}

export interface WorkloadContext {
  readonly server: RunningServer;
  /** A keep-alive client for `server` with maxSockets = options.concurrency. */
  readonly client: HttpClient;
  readonly options: BenchOptions;
  /** Creates an empty database with a unique name (removed when the server is done). */
  createDb(tag: string): Promise<string>;
  /**
   * A database holding exactly options.docs bench docs (ids from `datasetDocId`), loaded once per
   * server instance and shared by the read workloads.
   */
  dataset(): Promise<string>;
  /** Lets a workload that loaded exactly options.docs docs offer its db as the shared data set. */
  offerDataset(db: string): void;
  /**
   * A second server of the same kind (started by the bench, stopped with the first), for
   * node-to-node workloads such as replication. For a server given by URL it is that same server.
   */
  sibling(): Promise<RunningServer>;
  /** Progress line on stderr (the table goes to stdout). */
  log(message: string): void;
}

export interface Workload {
  /** Short name used by `--only`. */
  readonly name: string;
  /** What the table's first column says (a function when it names an option's value). */
  readonly title: string | ((options: BenchOptions) => string);
  readonly unit: string;
  /** Whether a bigger number is better (throughput) or a smaller one (memory, latency). */
  readonly better: 'higher' | 'lower';
  /** The Chaise target from shared/DESIGN.md, in `unit`; undefined when DESIGN.md sets none. */
  readonly target: number | undefined;
  /** Run on a freshly started server (e.g. memory readings), when the bench starts the server. */
  readonly freshServer?: boolean;
  /** Measured on Chaise only; the peer cell shows a dash. */
  readonly chaiseOnly?: boolean;
  /** Rows with a section are printed under its heading (consecutive rows share one). */
  readonly section?: string;
  /** Whether the options leave this workload in (default: always). */
  readonly enabled?: (options: BenchOptions) => boolean;
  run(ctx: WorkloadContext): Promise<Measurement>;
}

export function measured(value: number, note?: string): Measurement {
  return note === undefined ? { kind: 'measured', value } : { kind: 'measured', value, note };
}

export function failed(reason: string): Measurement {
  return { kind: 'failed', reason };
}

/** The median of repeated samples (the mean of the middle two for an even count). */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) throw new Error('median of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The nearest-rank percentile `p` (0–100] of samples: the smallest sample with p% at or below it. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new Error('percentile of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

/**
 * The shape every concurrent request workload shares: one untimed warm-up round, then `repeat`
 * timed rounds, each logged; the median rate is the measurement, with a note when the client may
 * have set the pace. The first failed round fails the workload.
 */
export async function medianOfRounds(
  name: string,
  repeat: number,
  warmUp: () => Promise<ConcurrentResult>,
  round: (r: number) => Promise<ConcurrentResult>,
  log: (line: string) => void,
): Promise<Measurement> {
  const warm = await warmUp();
  if (warm.kind === 'failed') return failed(`warm-up: ${warm.reason}`);
  const rates: number[] = [];
  const cpuShares: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const res = await round(r);
    if (res.kind === 'failed') return failed(res.reason);
    rates.push(res.perSecond);
    cpuShares.push(res.clientCpuShare);
    log(`${name} round ${r + 1}: ${Math.round(res.perSecond)} req/s, client CPU ${Math.round(res.clientCpuShare * 100)}% of a core`);
  }
  return measured(median(rates), clientBoundNote(cpuShares));
}
