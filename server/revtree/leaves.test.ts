import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conflicts, deletedConflicts, leaves } from './leaves.js';
import type { RevBranch, RevNode, RevTree } from './types.js';
import { winningRev } from './winning-rev.js';

const n = (hash: string, children: RevNode[] = [], deleted = false): RevNode => ({ hash, deleted, available: true, children });
const b = (pos: number, node: RevNode): RevBranch => ({ pos, node });

test('couch_key_tree get_all_leafs cases: a stemmed branch and two siblings', () => {
  assert.deepEqual(
    leaves([b(1, n('1a', [n('1aa')]))]).map((l) => l.rev),
    ['2-1aa'],
  );
  assert.deepEqual(
    leaves([b(0, n('1', [n('1a'), n('1b')]))]).map((l) => l.rev),
    ['1-1b', '1-1a'],
  );
  assert.deepEqual(leaves([]), []);
});

// The document "conf" at the end of the fixture transcript: 1-aaa -> 2-ccc and 1-bbb -> 2-d57 (deleted).
const conf: RevTree = [
  b(1, n('a'.repeat(32), [n('c'.repeat(32))])),
  b(1, n('b'.repeat(32), [n('d57ce398f63417fd01c5c372e5e048e6', [], true)])),
];

test('leaves come winner first, and leaves(t)[0] is the winner', () => {
  const all = leaves(conf);
  assert.deepEqual(
    all.map((l) => l.rev),
    [`2-${'c'.repeat(32)}`, '2-d57ce398f63417fd01c5c372e5e048e6'],
  );
  assert.deepEqual(all[0], winningRev(conf));
  assert.deepEqual(all[1], { rev: '2-d57ce398f63417fd01c5c372e5e048e6', pos: 2, hash: 'd57ce398f63417fd01c5c372e5e048e6', deleted: true });
});

test('fixture "deleted_conflicts": no _conflicts, the deleted loser in _deleted_conflicts', () => {
  assert.deepEqual(conflicts(conf), []);
  assert.deepEqual(deletedConflicts(conf), ['2-d57ce398f63417fd01c5c372e5e048e6']);
});

test('_conflicts lists live losers in winner-first order; a deleted winner is in neither list', () => {
  const tree: RevTree = [b(1, n('r', [n('a'), n('b'), n('c', [], true), n('d', [n('e', [], true)])])), b(1, n('z'))];
  // The winner is 2-b (live, generation 2, greatest hash).
  assert.deepEqual(conflicts(tree), ['2-a', '1-z']);
  assert.deepEqual(deletedConflicts(tree), ['3-e', '2-c']);
  const allDeleted: RevTree = [b(1, n('a', [], true)), b(1, n('b', [], true))];
  assert.deepEqual(conflicts(allDeleted), []);
  assert.deepEqual(deletedConflicts(allDeleted), ['1-a']);
});
