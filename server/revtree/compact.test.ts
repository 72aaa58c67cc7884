import assert from 'node:assert/strict';
import { test } from 'node:test';
import { markCompacted } from './compact.js';
import { revsInfo } from './find.js';
import type { RevBranch, RevNode, RevTree } from './types.js';

const n = (hash: string, children: RevNode[] = [], available = true, deleted = false): RevNode => ({
  hash,
  deleted,
  available,
  children,
});
const b = (pos: number, node: RevNode): RevBranch => ({ pos, node });

test('only leaves keep their bodies; tombstone flags stay', () => {
  const tree: RevTree = [b(1, n('a', [n('b', [], true, true), n('c', [n('d')])])), b(5, n('x'))];
  const copy = structuredClone(tree);
  const compacted = markCompacted(tree);
  assert.deepEqual(compacted, [b(1, n('a', [n('b', [], true, true), n('c', [n('d')], false)], false)), b(5, n('x'))]);
  assert.deepEqual(tree, copy, 'input untouched');
  assert.equal(compacted[1], tree[1], 'untouched branches are shared');
  assert.deepEqual(revsInfo(compacted, { pos: 3, hash: 'd' }), [
    { rev: '3-d', status: 'available' },
    { rev: '2-c', status: 'missing' },
    { rev: '1-a', status: 'missing' },
  ]);
});

test('compacting a compacted tree returns it unchanged', () => {
  const once = markCompacted([b(1, n('a', [n('b')]))]);
  assert.equal(markCompacted(once), once);
});
