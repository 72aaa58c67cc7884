// CouchDB's built-in reduce functions, run natively (never in the sandbox).
//
// Each follows couch_query_servers.erl exactly, including its quirks, because
// clients see the results:
// - `_sum` adds numbers, arrays of numbers element-wise (padding the shorter),
//   and objects key by key (nested). Bad input does not fail the query: the
//   reduction *becomes* `{"error":"builtin_reduce_error","reason":...,
//   "caused_by":...}`, and that object wins any later rereduce.
// - `_count` counts rows; its rereduce sums counts.
// - `_stats` keeps {sum,count,min,max,sumsqr} (element-wise for arrays, and it
//   accepts pre-aggregated stats objects); bad input throws.
// - `_approx_count_distinct` is a HyperLogLog over the keys (see hyperloglog.ts).
// - `_first`/`_last` keep the row with the lowest/highest (key, docid);
//   `_top_N`/`_bottom_N` keep the N largest/smallest values (CouchDB 3.5).
// Names match by prefix, as CouchDB's `<<"_sum", _/binary>>` clauses do.
//
// Reductions are plain JSON values so they can be stored in index nodes.
// Pure: no I/O.

import { collate } from '../collation/collate.js';
import { compareIds } from '../collation/raw-order.js';
import { CouchError } from '../errors/couch-error.js';
import { erlangFormat } from '../errors/erlang-format.js';
import { hllCardinality, hllEmpty, hllOfKeys, hllUnion, type Hll } from './hyperloglog.js';

/** A row as reduce sees it. */
export interface KV {
  key: unknown;
  id: string;
  value: unknown;
}

export interface BuiltinReducer {
  readonly name: string;
  reduce(kvs: readonly KV[]): unknown;
  rereduce(reductions: readonly unknown[]): unknown;
  /** Turn a stored reduction into the value a client sees. */
  finalize(reduction: unknown): unknown;
}

const SUM_ERROR =
  'The _sum function requires that map values be numbers, arrays of numbers, or objects. ' +
  'Objects cannot be mixed with other data structures. Objects can be arbitrarily nested, provided that the values ' +
  'for all fields are themselves numbers, arrays of numbers, or objects.';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ------------------------------------------------------------------ _sum

class SumError {
  constructor(readonly result: Record<string, unknown>) {}
}

function sumError(cause: unknown): SumError {
  return new SumError({ error: 'builtin_reduce_error', reason: SUM_ERROR, caused_by: cause });
}

function sumArrays(xs: unknown[], ys: unknown[]): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  for (; i < xs.length && i < ys.length; i++) {
    const x = xs[i];
    const y = ys[i];
    if (typeof x !== 'number' || typeof y !== 'number') throw sumError(xs.slice(i));
    out.push(x + y);
  }
  for (; i < xs.length; i++) out.push(xs[i]);
  for (; i < ys.length; i++) out.push(ys[i]);
  return out;
}

function sumObjects(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  // CouchDB merges the two sorted property lists; the result's keys come out sorted.
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort(compareIds);
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const inA = Object.prototype.hasOwnProperty.call(a, k);
    const inB = Object.prototype.hasOwnProperty.call(b, k);
    out[k] = inA && inB ? sumValues(a[k], b[k]) : inA ? a[k] : b[k];
  }
  return out;
}

function sumValues(value: unknown, acc: unknown): unknown {
  if (typeof value === 'number' && typeof acc === 'number') return acc + value;
  if (Array.isArray(value) && Array.isArray(acc)) return sumArrays(acc, value);
  if (typeof value === 'number' && Array.isArray(acc)) return sumArrays(acc, [value]);
  if (Array.isArray(value) && typeof acc === 'number') return sumArrays([acc], value);
  if (isObject(value)) {
    if (value['error'] === 'builtin_reduce_error') throw new SumError(value);
    if (acc === 0) return value;
    if (isObject(acc)) return sumObjects(value, acc);
    throw sumError(value);
  }
  throw sumError(value);
}

function sumAll(values: readonly unknown[]): unknown {
  let acc: unknown = 0;
  try {
    for (const v of values) acc = sumValues(v, acc);
    return acc;
  } catch (e) {
    if (e instanceof SumError) return e.result;
    throw e;
  }
}

const sum: BuiltinReducer = {
  name: '_sum',
  reduce: (kvs) => sumAll(kvs.map((kv) => kv.value)),
  rereduce: (reds) => sumAll(reds),
  finalize: (r) => r,
};

// ----------------------------------------------------------------- _count

const count: BuiltinReducer = {
  name: '_count',
  reduce: (kvs) => kvs.length,
  rereduce: (reds) => sumAll(reds),
  finalize: (r) => r,
};

// ----------------------------------------------------------------- _stats

interface Stats {
  sum: number;
  count: number;
  min: number;
  max: number;
  sumsqr: number;
}
type StatsAcc = Stats | StatsAcc[];

function statsError(msg: string): CouchError {
  return new CouchError(500, 'invalid_value', msg);
}

function getNumber(key: keyof Stats, props: Record<string, unknown>): number {
  const v = props[key];
  if (typeof v === 'number') return v;
  if (v === undefined) {
    throw statsError(`user _stats input missing required field ${key} (${erlangFormat(props)})`);
  }
  throw statsError(`non-numeric _stats input received for ${key}: ${erlangFormat(v)}`);
}

function unpackStats(props: Record<string, unknown>): Stats {
  return {
    sum: getNumber('sum', props),
    count: getNumber('count', props),
    min: getNumber('min', props),
    max: getNumber('max', props),
    sumsqr: getNumber('sumsqr', props),
  };
}

function statsOf(x: number): Stats {
  return { sum: x, count: 1, min: x, max: x, sumsqr: x * x };
}

function initialStats(v: unknown): StatsAcc {
  if (Array.isArray(v)) return v.map(initialStats);
  if (typeof v === 'number') return statsOf(v);
  if (isObject(v)) return unpackStats(v);
  throw statsError(`non-numeric _stats input: ${erlangFormat(v)}`);
}

function statValues(value: unknown, acc: StatsAcc): StatsAcc {
  if (Array.isArray(value) && Array.isArray(acc)) {
    if (value.length !== acc.length) {
      throw statsError(`The _stats function requires that map values be numbers or arrays of numbers, not '${erlangFormat(value)}'`);
    }
    return value.map((v, i) => statValues(v, acc[i] as StatsAcc));
  }
  let s: Stats;
  if (isObject(value)) s = unpackStats(value);
  else if (typeof value === 'number') s = statsOf(value);
  else throw statsError(`The _stats function requires that map values be numbers or arrays of numbers, not '${erlangFormat(value)}'`);
  if (Array.isArray(acc)) {
    throw statsError(`The _stats function requires that map values be numbers or arrays of numbers, not '${erlangFormat(value)}'`);
  }
  return {
    sum: s.sum + acc.sum,
    count: s.count + acc.count,
    min: Math.min(s.min, acc.min),
    max: Math.max(s.max, acc.max),
    sumsqr: s.sumsqr + acc.sumsqr,
  };
}

function statsAll(values: readonly unknown[]): StatsAcc {
  if (values.length === 0) return { sum: 0, count: 0, min: 0, max: 0, sumsqr: 0 };
  let acc = initialStats(values[0]);
  for (let i = 1; i < values.length; i++) acc = statValues(values[i], acc);
  return acc;
}

const stats: BuiltinReducer = {
  name: '_stats',
  reduce: (kvs) => statsAll(kvs.map((kv) => kv.value)),
  rereduce: (reds) => statsAll(reds),
  // Stored in packed form already; key order sum,count,min,max,sumsqr as CouchDB prints it.
  finalize: (r) => r,
};

// ------------------------------------------------- _approx_count_distinct

const approxCountDistinct: BuiltinReducer = {
  name: '_approx_count_distinct',
  reduce: (kvs) => hllOfKeys(kvs.map((kv) => kv.key)),
  rereduce: (reds) => reds.reduce<Hll>((acc, r) => hllUnion(acc, r as Hll), hllEmpty()),
  finalize: (r) => Math.round(hllCardinality(r as Hll)),
};

// --------------------------------------------------------- _first / _last

function cmpKeyId(a: [unknown, string, unknown], b: [unknown, string, unknown]): number {
  return collate(a[0], b[0]) || compareIds(a[1], b[1]);
}

function firstLast(name: string, wantLast: boolean): BuiltinReducer {
  const pick = (cands: [unknown, string, unknown][]): unknown => {
    let best: [unknown, string, unknown] | null = null;
    for (const c of cands) {
      if (best === null) best = c;
      else {
        const d = cmpKeyId(c, best);
        if (wantLast ? d >= 0 : d < 0) best = c;
      }
    }
    return best ?? [];
  };
  return {
    name,
    reduce: (kvs) => pick(kvs.map((kv) => [kv.key, kv.id, kv.value])),
    rereduce: (reds) => pick(reds.filter((r) => Array.isArray(r) && r.length === 3) as [unknown, string, unknown][]),
    finalize: (r) => (Array.isArray(r) && r.length === 3 ? r[2] : null),
  };
}

// ------------------------------------------------------ _top_N / _bottom_N

function rank(name: string, n: number, top: boolean): BuiltinReducer {
  const merge = (values: unknown[]): unknown[] => {
    const sorted = [...values].sort((a, b) => (top ? collate(b, a) : collate(a, b)));
    const out: unknown[] = [];
    for (const v of sorted) {
      if (out.length > 0 && collate(out[out.length - 1], v) === 0) continue; // lists:umerge drops equals
      out.push(v);
      if (out.length === n) break;
    }
    return out;
  };
  return {
    name,
    reduce: (kvs) => merge(kvs.map((kv) => kv.value)),
    rereduce: (reds) => merge(reds.flatMap((r) => (Array.isArray(r) ? r : []))),
    finalize: (r) => r,
  };
}

/** The built-in reducer for a reduce source starting with `_`, or null if unknown. */
export function builtinReducer(source: string): BuiltinReducer | null {
  if (source.startsWith('_sum')) return sum;
  if (source.startsWith('_count')) return count;
  if (source.startsWith('_stats')) return stats;
  if (source.startsWith('_approx_count_distinct')) return approxCountDistinct;
  if (source.startsWith('_first')) return firstLast('_first', false);
  if (source.startsWith('_last')) return firstLast('_last', true);
  const m = /^_(top|bottom)_(\d+)/.exec(source);
  if (m !== null) {
    const n = Number(m[2]);
    if (n > 0) return rank(source, n, m[1] === 'top');
  }
  return null;
}
