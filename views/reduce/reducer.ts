// One view's reduce function behind one interface, whether it is a native
// built-in or JavaScript in the sandbox, with batch entry points so that many
// node or group reductions cost one crossing into the isolate.
//
// `finalReduceMany` is couch_btree:final_reduce applied to many groups: a group
// made of raw rows and stored partial reductions is reduced as
// reduce(rows) → prepended to the partials → the single partial as is, or a
// rereduce of all of them.

import type { DesignSandbox } from '../sandbox/design-sandbox.js';
import { builtinReducer, type BuiltinReducer, type KV } from './builtin.js';

export type { KV };

export interface Reducer {
  /** True for built-ins (no sandbox involved). */
  readonly native: boolean;
  /** The built-in, for synchronous use; null for JS reduces. */
  readonly builtin: BuiltinReducer | null;
  reduceMany(groups: readonly (readonly KV[])[]): Promise<unknown[]>;
  rereduceMany(groups: readonly (readonly unknown[])[]): Promise<unknown[]>;
  finalize(reduction: unknown): unknown;
}

/** A reducer for a view's `reduce` source. `sandbox` is only called for JS reduces. */
export function makeReducer(source: string, viewName: string, sandbox: () => DesignSandbox): Reducer {
  const builtin = source.startsWith('_') ? builtinReducer(source.trim()) : null;
  if (builtin !== null) {
    return {
      native: true,
      builtin,
      reduceMany: async (groups) => groups.map((g) => builtin.reduce(g)),
      rereduceMany: async (groups) => groups.map((g) => builtin.rereduce(g)),
      finalize: (r) => builtin.finalize(r),
    };
  }
  return {
    native: false,
    builtin: null,
    reduceMany: (groups) =>
      sandbox().reduce(
        viewName,
        groups.map((g) => ({
          keys: g.map((kv) => [kv.key, kv.id] as [unknown, string]),
          values: g.map((kv) => kv.value),
          rereduce: false,
        })),
      ),
    rereduceMany: (groups) =>
      sandbox().reduce(
        viewName,
        groups.map((g) => ({ keys: null, values: [...g], rereduce: true })),
      ),
    finalize: (r) => r,
  };
}

/** A group to reduce: raw rows plus partial reductions of whole subtrees. */
export interface ReduceParts {
  kvs: KV[];
  reds: unknown[];
}

/** final_reduce for many groups at once; result i belongs to parts[i]. */
export async function finalReduceMany(reducer: Reducer, parts: readonly ReduceParts[]): Promise<unknown[]> {
  const withRows = parts.map((p, i) => [p, i] as const).filter(([p]) => p.kvs.length > 0 || p.reds.length === 0);
  const reduced = await reducer.reduceMany(withRows.map(([p]) => p.kvs));
  const partials: unknown[][] = parts.map((p) => [...p.reds]);
  withRows.forEach(([, i], j) => (partials[i] as unknown[]).unshift(reduced[j]));
  const needRereduce = partials.map((p, i) => [p, i] as const).filter(([p]) => p.length > 1);
  const rereduced = await reducer.rereduceMany(needRereduce.map(([p]) => p));
  const out = partials.map((p) => p[0]);
  needRereduce.forEach(([, i], j) => (out[i] = rereduced[j]));
  return out;
}

/** final_reduce for one group with a built-in, synchronously. */
export function finalReduceSync(builtin: BuiltinReducer, parts: ReduceParts): unknown {
  const partials = [...parts.reds];
  if (parts.kvs.length > 0 || partials.length === 0) partials.unshift(builtin.reduce(parts.kvs));
  return partials.length === 1 ? partials[0] : builtin.rereduce(partials);
}
