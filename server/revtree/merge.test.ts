// Cases from CouchDB's couch_key_tree_tests.erl (merge_and_stem with a depth of 10), written with
// our flags: a CouchDB value ("foo", "bar") is a stored body, [] is a revision known only by id.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { merge } from './merge.js';
import { mergeBranch } from './merge-branch.js';
import type { RevBranch, RevNode, RevPath, RevTree } from './types.js';

const depth = 10;
const n = (hash: string, children: RevNode[] = [], available = true, deleted = false): RevNode => ({
  hash,
  deleted,
  available,
  children,
});
const b = (pos: number, node: RevNode): RevBranch => ({ pos, node });
const path = (pos: number, hashes: string[], leafDeleted = false, leafAvailable = true): RevPath => ({
  pos,
  hashes,
  leafDeleted,
  leafAvailable,
});
/** A path carrying the bodies of every node, as CouchDB's tests merge whole literal trees. */
const chain = (pos: number, hashes: string[]): RevBranch => {
  let node = n(hashes[hashes.length - 1]!);
  for (let i = hashes.length - 2; i >= 0; i--) node = n(hashes[i]!, [node]);
  return b(pos, node);
};
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const one = b(1, n('1'));
const twoSibs: RevTree = [b(1, n('1')), b(1, n('2'))];
const twoChild = b(1, n('1', [n('1a', [n('1aa')])]));
const twoChildSibs = b(1, n('1', [n('1a'), n('1b')]));

test('should_merge_with_empty_tree', () => {
  assert.deepEqual(merge([], path(1, ['1']), depth), { tree: [one], outcome: 'new_leaf', changed: true });
});

test('should_merge_reflexive', () => {
  const tree = deepFreeze([one]);
  const result = merge(tree, path(1, ['1']), depth);
  assert.equal(result.outcome, 'internal_node');
  assert.equal(result.changed, false);
  assert.equal(result.tree, tree, 'a no-op returns the input tree itself');
});

test('should_merge_prefix_of_a_tree_with_tree', () => {
  const result = merge(deepFreeze(twoSibs), path(1, ['1']), depth);
  assert.deepEqual(result.tree, twoSibs);
  assert.equal(result.outcome, 'internal_node');
});

test('should_produce_conflict_on_merge_with_unrelated_branch', () => {
  const result = merge(deepFreeze(twoSibs), path(1, ['3']), depth);
  assert.deepEqual(result.tree, [b(1, n('1')), b(1, n('2')), b(1, n('3'))]);
  assert.equal(result.outcome, 'new_branch');
});

test('should_merge_reflexive_for_child_nodes', () => {
  const tree = deepFreeze([twoChild]);
  assert.deepEqual(mergeBranch(tree, chain(1, ['1', '1a', '1aa'])), { tree, outcome: 'internal_node', changed: false });
  assert.equal(merge(tree, path(1, ['1', '1a', '1aa']), depth).outcome, 'internal_node');
});

test('should_merge_tree_to_itself: every leaf path of a tree is already in it', () => {
  const tree = deepFreeze([twoChildSibs]);
  for (const leafPath of [path(1, ['1', '1a']), path(1, ['1', '1b'])]) {
    const result = merge(tree, leafPath, depth);
    assert.equal(result.outcome, 'internal_node');
    assert.equal(result.tree, tree);
  }
});

test('should_merge_tree_of_odd_length', () => {
  const result = mergeBranch(deepFreeze([twoChildSibs]), twoChild);
  assert.deepEqual(result.tree, [b(1, n('1', [n('1a', [n('1aa')]), n('1b')]))]);
  assert.equal(result.outcome, 'new_leaf');
});

test('should_merge_tree_with_stem', () => {
  const result = merge(deepFreeze([twoChildSibs]), path(2, ['1a']), depth);
  assert.deepEqual(result.tree, [twoChildSibs]);
  assert.equal(result.outcome, 'internal_node');
});

test('should_merge_with_stem_at_deeper_level', () => {
  const tree = [b(1, n('1', [n('1a'), n('1b', [n('1bb')])]))];
  const result = merge(deepFreeze(tree), path(3, ['1bb']), depth);
  assert.deepEqual(result.tree, tree);
  assert.equal(result.outcome, 'internal_node');
});

test('should_merge_with_stem_at_deeper_level_with_deeper_paths', () => {
  const tree = [b(2, n('1a')), b(2, n('1b', [n('1bb')]))];
  const result = merge(deepFreeze(tree), path(3, ['1bb']), depth);
  assert.deepEqual(result.tree, tree);
  assert.equal(result.outcome, 'internal_node');
});

test('should_merge_single_tree_with_deeper_stem', () => {
  const result = merge(deepFreeze([twoChild]), path(3, ['1aa']), depth);
  assert.deepEqual(result.tree, [twoChild]);
  assert.equal(result.outcome, 'internal_node');
});

test('should_merge_tree_with_large_stem', () => {
  const result = mergeBranch(deepFreeze([twoChild]), chain(2, ['1a', '1aa']));
  assert.deepEqual(result.tree, [twoChild]);
  assert.equal(result.outcome, 'internal_node');
});

test('should_merge_stems', () => {
  const stemmedA = b(2, n('1a', [n('1aa')]));
  const result = merge(deepFreeze([stemmedA]), path(3, ['1aa']), depth);
  assert.deepEqual(result.tree, [stemmedA]);
  assert.equal(result.outcome, 'internal_node');
});

test('should_create_conflicts_on_merge', () => {
  const oneChild = b(1, n('1', [n('1a')]));
  const result = merge(deepFreeze([oneChild]), path(3, ['1aa']), depth);
  assert.deepEqual(result.tree, [oneChild, b(3, n('1aa'))]);
  assert.equal(result.outcome, 'new_branch');
});

test('should_create_no_conflicts_on_merge: a path that bridges two branches joins them', () => {
  const tree = deepFreeze([b(1, n('1', [n('1a')])), b(3, n('1aa'))]);
  const result = mergeBranch(tree, twoChild);
  assert.deepEqual(result.tree, [twoChild]);
  assert.equal(result.outcome, 'new_leaf');
  // Same with a path whose inner nodes carry no body: the tree keeps the bodies it has.
  const viaPath = merge(tree, path(1, ['1', '1a', '1aa']), depth);
  assert.deepEqual(viaPath.tree, [twoChild]);
  assert.equal(viaPath.outcome, 'new_leaf');
});

test('should_ignore_conflicting_branch (COUCHDB-902)', () => {
  const foo = b(1, n('foo', [n('foo2'), n('foo3')]));
  // foo3 gets an attachment elsewhere, giving foo4; the path knows foo and foo3 by id only.
  const result = merge(deepFreeze([foo]), path(1, ['foo', 'foo3', 'foo4']), depth);
  assert.deepEqual(result.tree, [b(1, n('foo', [n('foo2'), n('foo3', [n('foo4')])]))]);
  assert.equal(result.outcome, 'new_leaf');
});

test('a normal edit extends the leaf: new_leaf; inner path nodes keep the tree flags', () => {
  const tree = deepFreeze([b(1, n('a', [], true, false))]);
  const result = merge(tree, path(1, ['a', 'b']), depth);
  assert.deepEqual(result.tree, [b(1, n('a', [n('b')]))]);
  assert.equal(result.outcome, 'new_leaf');
});

test('a new path node unknown to the tree is stored without a body', () => {
  const result = merge([], path(1, ['a', 'b', 'c'], true, true), depth);
  assert.deepEqual(result.tree, [b(1, n('a', [n('b', [n('c', [], true, true)], false)], false))]);
});

test('editing an inner node makes a sibling: new_branch (a conflict)', () => {
  const tree = deepFreeze([b(1, n('a', [n('b')]))]);
  const result = merge(tree, path(1, ['a', 'c']), depth);
  assert.deepEqual(result.tree, [b(1, n('a', [n('b'), n('c')]))]);
  assert.equal(result.outcome, 'new_branch');
  // Siblings stay sorted by hash whatever the merge order.
  const other = merge(deepFreeze([b(1, n('a', [n('c')]))]), path(1, ['a', 'b']), depth);
  assert.deepEqual(other.tree, result.tree);
});

test('re-merging a known leaf that had no body stores the body: internal_node, changed', () => {
  const tree = deepFreeze([b(1, n('a', [n('b', [], false)]))]);
  const result = merge(tree, path(2, ['b'], true, true), depth);
  assert.deepEqual(result.tree, [b(1, n('a', [n('b', [], true, true)]))]);
  assert.equal(result.outcome, 'internal_node');
  assert.equal(result.changed, true);
});

test('a path without bodies does not overwrite flags the tree knows', () => {
  const tree = deepFreeze([b(1, n('a', [n('b', [], true, true)]))]);
  const result = merge(tree, path(1, ['a', 'b'], false, false), depth);
  assert.equal(result.tree, tree);
  assert.equal(result.changed, false);
});

test('a path that starts before a stemmed branch is grafted on top of it', () => {
  const tree = deepFreeze([b(3, n('c', [n('d')]))]);
  const result = merge(tree, path(1, ['a', 'b', 'c', 'd', 'e']), depth);
  assert.deepEqual(result.tree, [b(1, n('a', [n('b', [n('c', [n('d', [n('e')])])], false)], false))]);
  assert.equal(result.outcome, 'new_leaf');
});

test('a path that ends at the root of a stemmed branch puts the branch under it', () => {
  // Found by the property tests: the branch 9 -> 8 -> 11 must not be replaced by the bare leaf 9.
  const tree = deepFreeze([b(3, n('9', [n('8', [n('11')])]))]);
  const result = merge(tree, path(2, ['7', '9']), depth);
  assert.deepEqual(result.tree, [b(2, n('7', [n('9', [n('8', [n('11')])])], false))]);
  assert.equal(result.outcome, 'internal_node');
  assert.equal(result.changed, true);
});

test('retrying a write whose old end was stemmed away is a no-op, even when it forks', () => {
  // 7cd -> (b77 | ff7 -> ff5 -> d3a) stemmed to 2 keeps 7cd for b77 and cuts ff7.
  const first = merge([], path(1, ['7cd', 'b77']), 2).tree;
  const second = merge(first, path(1, ['7cd', 'ff7', 'ff5', 'd3a']), 2);
  assert.equal(second.outcome, 'new_branch');
  assert.deepEqual(second.tree, [b(1, n('7cd', [n('b77')], false)), b(3, n('ff5', [n('d3a')], false))]);
  const retry = merge(second.tree, path(1, ['7cd', 'ff7', 'ff5', 'd3a']), 2);
  assert.deepEqual(retry, { tree: second.tree, outcome: 'internal_node', changed: false });
});

test('a path that starts inside a branch is found at its generation, not by hash alone', () => {
  // Same hash "x" at generation 2 and 3: only the generation-3 one is the path's root.
  const tree = deepFreeze([b(1, n('a', [n('x', [n('x')])]))]);
  const result = merge(tree, path(3, ['x', 'y']), depth);
  assert.deepEqual(result.tree, [b(1, n('a', [n('x', [n('x', [n('y')])])]))]);
  assert.equal(result.outcome, 'new_leaf');
});

test('merge stems to revsLimit', () => {
  const result = merge([], path(1, ['a', 'b', 'c', 'd']), 2);
  assert.deepEqual(result.tree, [b(3, n('c', [n('d')], false))]);
  // An edit on top keeps only the newest two.
  const next = merge(result.tree, path(4, ['d', 'e']), 2);
  assert.deepEqual(next.tree, [b(4, n('d', [n('e')]))]);
  assert.equal(next.outcome, 'new_leaf');
});

test('re-merging a stemmed-away history is still a no-op', () => {
  const first = merge([], path(1, ['a', 'b', 'c']), 2);
  const again = merge(first.tree, path(1, ['a', 'b', 'c']), 2);
  assert.equal(again.outcome, 'internal_node');
  assert.equal(again.changed, false);
  assert.deepEqual(again.tree, first.tree);
});

test('an old revision replicated after its history was stemmed comes back as its own branch (as in CouchDB)', () => {
  const first = merge([], path(1, ['a', 'b', 'c']), 2);
  const ghost = merge(first.tree, path(1, ['a']), 2);
  assert.equal(ghost.outcome, 'new_branch');
  assert.deepEqual(ghost.tree, [b(1, n('a')), b(2, n('b', [n('c')], false))]);
});

test('rejects an empty path', () => {
  assert.throws(() => merge([], path(1, []), depth), RangeError);
});
