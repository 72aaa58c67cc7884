import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidRevError } from './parse-rev.js';
import { revsDiff } from './revs-diff.js';
import type { RevBranch, RevNode, RevTree } from './types.js';

const n = (hash: string, children: RevNode[] = [], deleted = false): RevNode => ({ hash, deleted, available: true, children });
const b = (pos: number, node: RevNode): RevBranch => ({ pos, node });

test('fixture "revs_diff": missing 3-ddd, both generation-2 leaves are possible ancestors, winner first', () => {
  const conf: RevTree = [
    b(1, n('a'.repeat(32), [n('c'.repeat(32))])),
    b(1, n('b'.repeat(32), [n('d57ce398f63417fd01c5c372e5e048e6', [], true)])),
  ];
  assert.deepEqual(revsDiff(conf, [`2-${'c'.repeat(32)}`, `3-${'d'.repeat(32)}`]), {
    missing: [`3-${'d'.repeat(32)}`],
    possibleAncestors: [`2-${'c'.repeat(32)}`, '2-d57ce398f63417fd01c5c372e5e048e6'],
  });
});

test('fixture "revs_diff": a document that does not exist misses everything, with no ancestors', () => {
  assert.deepEqual(revsDiff([], [`1-${'e'.repeat(32)}`]), { missing: [`1-${'e'.repeat(32)}`], possibleAncestors: [] });
});

// couch_key_tree_tests.erl find_missing cases, shifted by one generation.
const twoChildSibs: RevTree = [b(1, n('1', [n('1a'), n('1b')]))];

test('should_not_find_missing_leaves', () => {
  assert.deepEqual(revsDiff(twoChildSibs, ['1-1', '2-1a']), { missing: [], possibleAncestors: [] });
});

test('should_find_missing_leaves', () => {
  assert.deepEqual(revsDiff(twoChildSibs, ['1-1', '1-10', '2-1a', '101-x']).missing, ['1-10', '101-x']);
  assert.deepEqual(revsDiff([b(2, n('1a', [n('1aa')]))], ['1-1', '2-1a', '101-x']).missing, ['1-1', '101-x']);
  assert.deepEqual(revsDiff([b(3, n('1aa'))], ['1-1', '2-1a', '101-x']).missing, ['1-1', '2-1a', '101-x']);
});

test('possible ancestors are the leaves below the highest missing generation', () => {
  const tree: RevTree = [b(1, n('r', [n('a', [n('aa')]), n('b')]))];
  assert.deepEqual(revsDiff(tree, ['3-x']).possibleAncestors, ['2-b']);
  assert.deepEqual(revsDiff(tree, ['2-x', '4-y']).possibleAncestors, ['3-aa', '2-b']);
  assert.deepEqual(revsDiff(tree, ['2-x']).possibleAncestors, [], 'no leaf below generation 2');
});

test('duplicates are reported once; a malformed rev is a 400', () => {
  assert.deepEqual(revsDiff([], ['1-a', '1-a']).missing, ['1-a']);
  assert.throws(() => revsDiff([], ['1-a', 'nope']), InvalidRevError);
});
