import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyableBody, replicatedDoc, revisionsOf } from './replicated-copy.js';
import { batchStatus, quorumStatus } from './quorum.js';

test('the copied revision carries the path from the new rev to its parent', () => {
  assert.deepEqual(revisionsOf('2-bbb', '1-aaa'), { start: 2, ids: ['bbb', 'aaa'] });
  assert.deepEqual(revisionsOf('1-aaa', undefined), { start: 1, ids: ['aaa'] });
  assert.deepEqual(revisionsOf('3-ccc', '1-aaa'), { start: 3, ids: ['ccc'] }, 'a parent that is not the direct one is left out');
  assert.deepEqual(replicatedDoc('x', { _id: 'ignored', _rev: '1-aaa', a: 1, _deleted: true }, '2-bbb', '1-aaa'), {
    _id: 'x',
    _rev: '2-bbb',
    _revisions: { start: 2, ids: ['bbb', 'aaa'] },
    a: 1,
    _deleted: true,
  });
});

test('bodies with attachments are read back from the leader instead', () => {
  assert.equal(copyableBody({ a: 1 }), true);
  assert.equal(copyableBody({ _attachments: {} }), true);
  assert.equal(copyableBody({ _attachments: { 'a.txt': { stub: true } } }), false);
  assert.equal(copyableBody([1]), false);
});

test('quorum: 201/200 at w, 202 below, nothing at zero', () => {
  assert.equal(quorumStatus(201, 2, 2), 201);
  assert.equal(quorumStatus(200, 3, 2), 200);
  assert.equal(quorumStatus(201, 1, 2), 202);
  assert.equal(quorumStatus(201, 0, 2), undefined);
  assert.equal(batchStatus([2, 2, 1], 2), 202);
  assert.equal(batchStatus([2, 2], 2), 201);
});
