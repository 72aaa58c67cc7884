// Runs one request task from N concurrent workers, bounded by both a count and a time, and
// reports the rate of completed requests.
//
// Workers pull the next index from a shared counter, so exactly `countMax` tasks run unless time
// is up first; a task that is in flight when time runs out is still awaited and counted. The first
// failed check stops every worker, because a rate measured over failing requests means nothing.

import { performance } from 'node:perf_hooks';

export interface ConcurrentRun {
  concurrency: number;
  /** Tasks started at most. */
  countMax: number;
  /** No task is started after this long. */
  durationMs: number;
  /** Performs request `i`; returns undefined when it checked out, or why it did not. */
  task(i: number): Promise<string | undefined>;
}

export type ConcurrentResult =
  | {
      kind: 'ok';
      completed: number;
      elapsedMs: number;
      perSecond: number;
      /** CPU the bench process used, as a share of one core: near 1 means the client set the pace. */
      clientCpuShare: number;
    }
  | { kind: 'failed'; completed: number; reason: string };

export async function runConcurrent(run: ConcurrentRun): Promise<ConcurrentResult> {
  let next = 0;
  let completed = 0;
  let failure: string | undefined;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const deadline = start + run.durationMs;

  async function worker(): Promise<void> {
    while (failure === undefined && next < run.countMax && performance.now() < deadline) {
      const i = next++;
      let problem: string | undefined;
      try {
        problem = await run.task(i);
      } catch (e) {
        problem = e instanceof Error ? e.message : String(e);
      }
      if (problem !== undefined) {
        failure ??= `request ${i}: ${problem}`;
        return;
      }
      completed++;
    }
  }

  const workers = Math.max(1, Math.min(run.concurrency, run.countMax));
  await Promise.all(Array.from({ length: workers }, worker));
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  if (failure !== undefined) return { kind: 'failed', completed, reason: failure };
  if (completed === 0) return { kind: 'failed', completed, reason: 'no request completed' };
  return {
    kind: 'ok',
    completed,
    elapsedMs,
    perSecond: (completed * 1000) / elapsedMs,
    clientCpuShare: (cpu.user + cpu.system) / 1000 / elapsedMs,
  };
}

/**
 * Above this share of one core, the client (the lean pool costs ~25 µs of CPU per request) may have
 * set the pace rather than the server; such a number is printed with a note saying so.
 */
export const clientBoundShare = 0.9;

/** A note for a rate measured over rounds whose client used nearly a whole core, else undefined. */
export function clientBoundNote(shares: readonly number[]): string | undefined {
  const max = Math.max(...shares);
  return max >= clientBoundShare
    ? `the bench client used ${Math.round(max * 100)}% of a core: this rate may be the client's limit, not the server's`
    : undefined;
}
