import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stem } from './stem.js';
import type { RevBranch, RevNode, RevTree } from './types.js';

const n = (hash: string, children: RevNode[] = []): RevNode => ({ hash, deleted: false, available: true, children });
const b = (pos: number, node: RevNode): RevBranch => ({ pos, node });

// couch_key_tree_tests.erl, "Stemming" (generation 0 as there).
const twoChild: RevTree = [b(0, n('1', [n('1a', [n('1aa')])]))];

test('should_have_no_effect_for_stemming_more_levels_than_exists', () => {
  assert.equal(stem(twoChild, 3), twoChild, 'unchanged trees come back as the same object');
  assert.equal(stem(twoChild, 1000), twoChild);
});

test('should_return_one_deepest_node', () => {
  assert.deepEqual(stem(twoChild, 1), [b(2, n('1aa'))]);
});

test('should_return_two_deepest_nodes', () => {
  assert.deepEqual(stem(twoChild, 2), [b(1, n('1a', [n('1aa')]))]);
});

test('a node stays while some leaf below it is within the limit; its long branch splits off', () => {
  // 1 -> (2a -> 3a -> 4a | 2b): with 2 revisions per path, 1 stays for 2b; 2a is 3 away from 4a.
  const tree: RevTree = [b(1, n('1', [n('2a', [n('3a', [n('4a')])]), n('2b')]))];
  assert.deepEqual(stem(tree, 2), [b(1, n('1', [n('2b')])), b(3, n('3a', [n('4a')]))]);
  assert.deepEqual(stem(tree, 1), [b(2, n('2b')), b(4, n('4a'))]);
});

test('leaves are never dropped, even with a limit of 1', () => {
  const tree: RevTree = [b(1, n('a', [n('b', [n('c'), n('d')]), n('e')]))];
  assert.deepEqual(stem(tree, 1), [b(2, n('e')), b(3, n('c')), b(3, n('d'))]);
});

test('branches that overlap after stemming are joined (couch_key_tree repair_tree)', () => {
  // A damaged forest holding b -> c twice: once under a, once as its own branch.
  const tree: RevTree = [b(1, n('a', [n('b', [n('c')])])), b(2, n('b', [n('c')]))];
  assert.deepEqual(stem(tree, 2), [b(2, n('b', [n('c')]))]);
});

test('does not mutate its input', () => {
  const tree: RevTree = [b(1, n('a', [n('b', [n('c')])]))];
  const copy = structuredClone(tree);
  stem(tree, 1);
  assert.deepEqual(tree, copy);
});

test('the limit must be a positive integer', () => {
  assert.throws(() => stem(twoChild, 0), RangeError);
  assert.throws(() => stem(twoChild, 1.5), RangeError);
});
