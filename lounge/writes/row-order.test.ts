import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rowOrder } from './doc-writer.js';

test('bulk answer rows pair with their docs by id, whatever order the node answers in', () => {
  const docs = [{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }];
  assert.deepEqual(rowOrder(docs, [{ id: 'a' }, { id: 'b' }, { id: 'c' }]), [0, 1, 2], 'CouchDB: request order');
  assert.deepEqual(rowOrder(docs, [{ id: 'c' }, { id: 'a' }, { id: 'b' }]), [2, 0, 1], 'another order');
  // The same id twice (the second is a conflict in one request): in request order.
  assert.deepEqual(rowOrder([{ _id: 'x' }, { _id: 'y' }, { _id: 'x' }], [{ id: 'x' }, { id: 'y' }, { id: 'x' }]), [0, 1, 2]);
  // A row without an id takes the first doc no row named.
  assert.deepEqual(rowOrder(docs, [{ id: 'b' }, {}, { id: 'a' }]), [1, 2, 0]);
});
