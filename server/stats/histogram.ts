// A latency histogram as CouchDB's `_stats` reports one (folsom/bear statistics over a recent
// window): the newest samples are kept in a fixed ring, and only those taken within the window
// count. Recording is two array stores, so it can sit on every request.

/** CouchDB's `[stats] interval`: histograms describe the last this-many milliseconds. */
export const STATS_WINDOW_MS = 10_000;
/** Samples kept; under heavy load the window is the newest this-many samples. */
export const HISTOGRAM_SAMPLES_MAX = 4096;

export interface HistogramValue {
  n: number;
  min: number;
  max: number;
  arithmetic_mean: number;
  geometric_mean: number;
  harmonic_mean: number;
  median: number;
  variance: number;
  standard_deviation: number;
  skewness: number;
  kurtosis: number;
  percentile: [number, number][];
  histogram: [number, number][];
}

/** The percentiles CouchDB lists (999 is the 99.9th). */
const PERCENTILES: [number, number][] = [
  [50, 0.5],
  [75, 0.75],
  [90, 0.9],
  [95, 0.95],
  [99, 0.99],
  [999, 0.999],
];
const HISTOGRAM_BINS = 10;

export class Histogram {
  private readonly values = new Float64Array(HISTOGRAM_SAMPLES_MAX);
  private readonly times = new Float64Array(HISTOGRAM_SAMPLES_MAX);
  private next = 0;
  private count = 0;

  /** `now` is a monotonic millisecond clock (performance.now()). */
  record(value: number, now: number): void {
    this.values[this.next] = value;
    this.times[this.next] = now;
    this.next = (this.next + 1) % HISTOGRAM_SAMPLES_MAX;
    if (this.count < HISTOGRAM_SAMPLES_MAX) this.count++;
  }

  /** The samples within the window ending at `now`. */
  window(now: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) if (now - (this.times[i] as number) <= STATS_WINDOW_MS) out.push(this.values[i] as number);
    return out;
  }

  value(now: number): HistogramValue {
    return describe(this.window(now));
  }
}

/** bear:get_statistics/1 for a list of samples; all zeros for none, as CouchDB reports then. */
export function describe(samples: number[]): HistogramValue {
  const n = samples.length;
  if (n === 0) {
    return {
      n: 0, min: 0, max: 0, arithmetic_mean: 0, geometric_mean: 0, harmonic_mean: 0, median: 0, variance: 0,
      standard_deviation: 0, skewness: 0, kurtosis: 0, percentile: PERCENTILES.map(([p]) => [p, 0]), histogram: [[0, 0]],
    };
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const min = sorted[0] as number;
  const max = sorted[n - 1] as number;
  let sum = 0;
  let logSum = 0;
  let invSum = 0;
  let positive = true;
  for (const v of sorted) {
    sum += v;
    if (v > 0) {
      logSum += Math.log(v);
      invSum += 1 / v;
    } else positive = false;
  }
  const mean = sum / n;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (const v of sorted) {
    const d = v - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  const variance = n > 1 ? m2 / (n - 1) : 0;
  const sd = Math.sqrt(variance);
  const skewness = sd > 0 ? m3 / n / Math.pow(sd, 3) : 0;
  const kurtosis = sd > 0 ? m4 / n / Math.pow(sd, 4) - 3 : 0;
  // bear:percentile/3: the round(q·n)-th smallest sample.
  const at = (q: number) => sorted[Math.min(n, Math.max(1, Math.round(q * n))) - 1] as number;
  const width = (max - min) / HISTOGRAM_BINS;
  const histogram: [number, number][] = [];
  if (width === 0) histogram.push([max, n]);
  else {
    let i = 0;
    for (let b = 1; b <= HISTOGRAM_BINS; b++) {
      const upper = b === HISTOGRAM_BINS ? max : min + width * b;
      let c = 0;
      while (i < n && (sorted[i] as number) <= upper) {
        c++;
        i++;
      }
      histogram.push([upper, c]);
    }
  }
  return {
    n,
    min,
    max,
    arithmetic_mean: mean,
    geometric_mean: positive ? Math.exp(logSum / n) : 0,
    harmonic_mean: positive ? n / invSum : 0,
    median: at(0.5),
    variance,
    standard_deviation: sd,
    skewness,
    kurtosis,
    percentile: PERCENTILES.map(([p, q]) => [p, at(q)]),
    histogram,
  };
}
