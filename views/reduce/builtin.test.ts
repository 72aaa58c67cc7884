// Built-in reducers, with the expectations of CouchDB's own eunit tests in
// couch_query_servers.erl (sum_values_test, sum_values_negative_test,
// stat_values_test, reduce_stats_test) plus _count and _approx_count_distinct.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinReducer, type KV } from './builtin.js';

const kvs = (values: unknown[]): KV[] => values.map((value, i) => ({ key: i, id: `d${i}`, value }));
const get = (name: string) => {
  const r = builtinReducer(name);
  assert.ok(r, name);
  return r;
};

test('_sum adds numbers, arrays element-wise and objects key by key', () => {
  const sum = get('_sum');
  assert.equal(sum.reduce(kvs([1, 2])), 3);
  assert.deepEqual(sum.reduce(kvs([[1, 4, 6], 1])), [2, 4, 6]);
  assert.deepEqual(sum.reduce(kvs([[3, 2, 4], [0, 3, 3]])), [3, 5, 7]);
  const x = { a: 1, b: [1, 2], c: { d: 3 }, g: 1 };
  const y = { a: 2, b: 3, c: { e: 5 }, f: 1, g: 1 };
  const z = { a: 3, b: [4, 2], c: { d: 3, e: 5 }, f: 1, g: 2 };
  assert.deepEqual(sum.reduce(kvs([x, y])), z);
  assert.deepEqual(sum.reduce(kvs([y, x])), z);
  assert.deepEqual(sum.rereduce([sum.reduce(kvs([1, 2])), sum.reduce(kvs([3]))]), 6);
});

test('_sum of bad values becomes a builtin_reduce_error value that wins rereduce', () => {
  const sum = get('_sum');
  const bad = sum.reduce(kvs([1, 'x'])) as Record<string, unknown>;
  assert.equal(bad['error'], 'builtin_reduce_error');
  assert.match(bad['reason'] as string, /^The _sum function requires that map values be numbers/);
  assert.equal(bad['caused_by'], 'x');
  assert.deepEqual(sum.rereduce([5, bad, 7]), bad);
});

test('_count counts rows and sums counts on rereduce', () => {
  const count = get('_count');
  assert.equal(count.reduce(kvs(['a', null, {}])), 3);
  assert.equal(count.rereduce([3, 4]), 7);
});

test('_stats, including arrays and pre-aggregated stats', () => {
  const stats = get('_stats');
  assert.deepEqual(stats.reduce(kvs([2])), { sum: 2, count: 1, min: 2, max: 2, sumsqr: 4 });
  assert.deepEqual(stats.reduce(kvs([1, 10])), { sum: 11, count: 2, min: 1, max: 10, sumsqr: 101 });
  assert.deepEqual(stats.reduce(kvs([[2, 3, 5], [7, 11, 13]])), [
    { sum: 9, count: 2, min: 2, max: 7, sumsqr: 53 },
    { sum: 14, count: 2, min: 3, max: 11, sumsqr: 130 },
    { sum: 18, count: 2, min: 5, max: 13, sumsqr: 194 },
  ]);
  assert.deepEqual(stats.reduce(kvs([{ sum: 2, count: 1, min: 2, max: 2, sumsqr: 4 }, 1])), {
    sum: 3,
    count: 2,
    min: 1,
    max: 2,
    sumsqr: 5,
  });
  assert.deepEqual(stats.reduce([]), { sum: 0, count: 0, min: 0, max: 0, sumsqr: 0 });
  assert.throws(() => stats.reduce(kvs(['x'])), (e: unknown) => (e as { status: number }).status === 500);
});

test('_approx_count_distinct counts distinct keys (exactly, for small sets)', () => {
  const acd = get('_approx_count_distinct');
  const rows: KV[] = ['a', 'b', 'a', 1, [1], { x: 1 }, 'b'].map((key, i) => ({ key, id: `d${i}`, value: null }));
  assert.equal(acd.finalize(acd.reduce(rows)), 5);
  const half1 = acd.reduce(rows.slice(0, 3));
  const half2 = acd.reduce(rows.slice(3));
  assert.equal(acd.finalize(acd.rereduce([half1, half2])), 5);
  const many: KV[] = Array.from({ length: 20000 }, (_, i) => ({ key: `k${i % 5000}`, id: `d${i}`, value: null }));
  const est = acd.finalize(acd.reduce(many)) as number;
  assert.ok(Math.abs(est - 5000) / 5000 < 0.05, `estimate ${est} within 5% of 5000`);
});

test('names match by prefix as in CouchDB; unknown built-ins are null', () => {
  assert.equal(get('_sum_whatever').name, '_sum');
  assert.equal(builtinReducer('_nope'), null);
  const top = get('_top_2');
  assert.deepEqual(top.finalize(top.reduce(kvs([3, 9, 1, 9, 4]))), [9, 4]);
  const first = get('_first');
  assert.equal(first.finalize(first.reduce([{ key: 'b', id: 'x', value: 1 }, { key: 'a', id: 'y', value: 2 }])), 2);
});
