import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBookmark, encodeBookmark, fieldsForMerge, findOrder, parseSort, stripFields } from './find-order.js';
import { fromArray, mergeSorted } from './k-way-merge.js';
import type { ViewRow } from './view-rows.js';

const vr = (doc: object): ViewRow => ({ text: JSON.stringify(doc), row: doc as ViewRow['row'] });

test('docs merge by the sort fields in collation order, then by _id', async () => {
  const sort = parseSort([{ age: 'asc' }, 'name']);
  // Each shard's answer is sorted the same way (null < numbers < strings in collation).
  const a = [vr({ _id: 'b', age: 1, name: 'z' }), vr({ _id: 'x', age: 'ten', name: 'a' })];
  const b = [vr({ _id: 'd', age: null }), vr({ _id: 'a', age: 1, name: 'z' }), vr({ _id: 'c', age: 2, name: 'a' })];
  const out: string[] = [];
  for await (const { item } of mergeSorted([fromArray(a), fromArray(b)], findOrder(sort))) out.push((item.row as { _id: string })._id);
  assert.deepEqual(out, ['d', 'a', 'b', 'c', 'x'], 'a and b tie on age and name, so _id decides');
});

test('projected-away merge fields are fetched and stripped', () => {
  assert.deepEqual(fieldsForMerge(['name'], parseSort([{ 'a.b': 'desc' }])), { ask: ['name', '_id', 'a.b'], strip: ['_id', 'a.b'] });
  assert.deepEqual(fieldsForMerge(undefined, []), { ask: undefined, strip: [] });
  assert.deepEqual(stripFields({ name: 'n', _id: 'x', a: { b: 1, c: 2 } }, ['_id', 'a.b']), { name: 'n', a: { c: 2 } });
});

test('bookmarks round-trip; foreign ones are refused', () => {
  assert.equal(decodeBookmark(encodeBookmark(25)), 25);
  assert.equal(decodeBookmark(undefined), 0);
  assert.equal(decodeBookmark('nil'), 0);
  assert.throws(() => decodeBookmark('g1AAAAB'), /Invalid bookmark/);
  assert.throws(() => parseSort([{ a: 'up' }]), /Invalid sort direction/);
});
