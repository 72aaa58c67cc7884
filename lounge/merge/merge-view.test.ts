// The view merge checked against CouchDB 3.5's real answers (test/fixtures/views-couchdb.json):
// each recorded answer is cut into the shard answers a q=8 cluster would return (rows go to
// the range of their doc id, in the order CouchDB produced them), then merged back. A merge
// with the wrong collation, tie-break, re-reduce or window cannot reproduce the recording.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generateRanges } from '../placement/ranges.js';
import { ShardMap } from '../placement/shard-map.js';
import { collate } from '../../views/index.js';
import { fromArray } from './k-way-merge.js';
import { mergeViewRows, viewTotals } from './merge-view.js';
import type { Rereduce, ViewRow } from './view-rows.js';

interface Fixture {
  docs: { _id: string; key?: unknown; n: number; g: string; date?: number[]; tags?: string[] }[];
  cases: { path: string; status: number; body: { total_rows?: number; offset?: number; rows?: { id?: string; key: unknown; value: unknown }[] } }[];
}
const fixture = JSON.parse(readFileSync('test/fixtures/views-couchdb.json', 'utf8')) as Fixture;
const map = new ShardMap(generateRanges(8).map((range) => ({ range, nodes: ['n1'] })));

function answer(path: string): NonNullable<Fixture['cases'][number]['body']> {
  const c = fixture.cases.find((x) => x.path === path);
  if (!c) throw new Error(`no case ${path}`);
  return c.body;
}

function vr(row: object): ViewRow {
  return { text: JSON.stringify(row), row: row as ViewRow['row'] };
}

/** Cuts a map answer into per-range answers, keeping CouchDB's order inside each. */
function shardsOf(rows: { id?: string }[]): ViewRow[][] {
  const out = map.ranges.map(() => [] as ViewRow[]);
  for (const r of rows) out[map.ranges.indexOf(map.rangeOf(r.id as string))]!.push(vr(r));
  return out;
}

async function collect(it: AsyncIterable<ViewRow>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const r of it) out.push(JSON.parse(r.text));
  return out;
}

const sumRereduce: Rereduce = async (groups) => groups.map((g) => (g as number[]).reduce((a, b) => a + b, 0));

test('map rows merge into CouchDB order (collation, then raw doc id)', async () => {
  const full = answer('/{db}/_design/v/_view/by_key');
  const shards = shardsOf(full.rows!);
  assert.ok(shards.filter((s) => s.length > 0).length >= 6, 'the rows really are spread over the ranges');
  const merged = await collect(mergeViewRows(shards.map(fromArray), { reduce: false, descending: false, skip: 0, limit: undefined, keys: undefined }, undefined));
  assert.deepEqual(merged, full.rows);

  const desc = answer('/{db}/_design/v/_view/by_key?descending=true');
  const mergedDesc = await collect(mergeViewRows(shardsOf(desc.rows!).map(fromArray), { reduce: false, descending: true, skip: 0, limit: undefined, keys: undefined }, undefined));
  assert.deepEqual(mergedDesc, desc.rows);
});

test('skip and limit are applied after the merge, offset is summed plus skip', async () => {
  const full = answer('/{db}/_design/v/_view/by_key');
  const want = answer('/{db}/_design/v/_view/by_key?limit=5&skip=3');
  // Each shard was asked for skip=0, limit=8: its first 8 rows.
  const shards = shardsOf(full.rows!).map((s) => s.slice(0, 8));
  const merged = await collect(mergeViewRows(shards.map(fromArray), { reduce: false, descending: false, skip: 3, limit: 5, keys: undefined }, undefined));
  assert.deepEqual(merged, want.rows);
  const metas = shardsOf(full.rows!).map((s) => ({ total_rows: s.length, offset: 0 }));
  assert.deepEqual(viewTotals(metas, 3), { total_rows: want.total_rows, offset: want.offset });
});

test('equal keys are ordered by doc id across shards', async () => {
  const want = answer('/{db}/_design/v/_view/by_key?key=%22same%22');
  const merged = await collect(mergeViewRows(shardsOf(want.rows!).map(fromArray), { reduce: false, descending: false, skip: 0, limit: undefined, keys: undefined }, undefined));
  assert.deepEqual(merged, want.rows);
});

test('keys= rows follow the key list, then doc id', async () => {
  const keys = ['b', 'same', 'missing', 1, null];
  const want = answer('/{db}/_design/v/_view/by_key?keys=%5B%22b%22%2C%22same%22%2C%22missing%22%2C1%2Cnull%5D');
  const merged = await collect(mergeViewRows(shardsOf(want.rows!).map(fromArray), { reduce: false, descending: false, skip: 0, limit: undefined, keys }, undefined));
  assert.deepEqual(merged, want.rows);
});

/** Per-shard reduce answers computed from the recorded map rows, grouped exactly. */
function reduceShards(rows: { id?: string; key: unknown; value: unknown }[], groupKey: (k: unknown) => unknown, reduce: (vs: number[]) => unknown): ViewRow[][] {
  return shardsOf(rows).map((shard) => {
    const groups: { key: unknown; values: number[] }[] = [];
    for (const { row } of shard.slice().sort((a, b) => collate(groupKey(a.row.key), groupKey(b.row.key)))) {
      const k = groupKey(row.key);
      const last = groups[groups.length - 1];
      if (last && collate(last.key, k) === 0) last.values.push(row.value as number);
      else groups.push({ key: k, values: [row.value as number] });
    }
    return groups.map((g) => vr({ key: g.key, value: reduce(g.values) }));
  });
}

test('reduce rows with equal keys are re-reduced (_sum, group=true and no group)', async () => {
  const mapRows = answer('/{db}/_design/v/_view/by_key').rows!;
  const sum = (vs: number[]) => vs.reduce((a, b) => a + b, 0);
  const grouped = reduceShards(mapRows, (k) => k, sum);
  const want = answer('/{db}/_design/v/_view/by_key_sum?group=true');
  assert.deepEqual(await collect(mergeViewRows(grouped.map(fromArray), { reduce: true, descending: false, skip: 0, limit: undefined, keys: undefined }, sumRereduce)), want.rows);

  const total = reduceShards(mapRows, () => null, sum);
  assert.deepEqual(
    await collect(mergeViewRows(total.map(fromArray), { reduce: true, descending: false, skip: 0, limit: undefined, keys: undefined }, sumRereduce)),
    answer('/{db}/_design/v/_view/by_key_sum').rows,
  );
});

test('grouped _count with skip/limit and with keys', async () => {
  const mapRows = answer('/{db}/_design/v/_view/by_key').rows!;
  const count = (vs: number[]) => vs.length;
  const shards = reduceShards(mapRows, (k) => k, count).map((s) => s.slice(0, 15));
  assert.deepEqual(
    await collect(mergeViewRows(shards.map(fromArray), { reduce: true, descending: false, skip: 5, limit: 10, keys: undefined }, sumRereduce)),
    answer('/{db}/_design/v/_view/by_key_count?group=true&limit=10&skip=5').rows,
  );
  const keys = ['same', 'a', 'nope'];
  const keyed = reduceShards(mapRows, (k) => k, count).map((s) => keys.flatMap((k) => s.filter((r) => collate(r.row.key, k) === 0)));
  assert.deepEqual(
    await collect(mergeViewRows(keyed.map(fromArray), { reduce: true, descending: false, skip: 0, limit: undefined, keys }, sumRereduce)),
    answer('/{db}/_design/v/_view/by_key_count?keys=%5B%22same%22%2C%22a%22%2C%22nope%22%5D&group=true').rows,
  );
});

test('_stats by group_level over arrays, computed per shard and combined', async () => {
  const docs = fixture.docs.filter((d) => Array.isArray(d.date));
  const rows = docs.map((d) => ({ id: d._id, key: d.date as unknown, value: d.n }));
  const stats = (vs: number[]) => ({ sum: vs.reduce((a, b) => a + b, 0), count: vs.length, min: Math.min(...vs), max: Math.max(...vs), sumsqr: vs.reduce((a, b) => a + b * b, 0) });
  type St = ReturnType<typeof stats>;
  const statsRereduce: Rereduce = async (groups) =>
    groups.map((g) => (g as St[]).reduce((a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max), sumsqr: a.sumsqr + b.sumsqr })));
  for (const level of [1, 2]) {
    const shards = reduceShards(rows, (k) => (k as number[]).slice(0, level), stats);
    assert.deepEqual(
      await collect(mergeViewRows(shards.map(fromArray), { reduce: true, descending: false, skip: 0, limit: undefined, keys: undefined }, statsRereduce)),
      answer(`/{db}/_design/v/_view/by_date_stats?group_level=${level}`).rows,
    );
  }
});
