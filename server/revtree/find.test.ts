import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allRevs, ancestry, findRev, latestLeaves, revsInfo } from './find.js';
import type { RevBranch, RevNode, RevTree } from './types.js';

const n = (hash: string, children: RevNode[] = [], available = true, deleted = false): RevNode => ({
  hash,
  deleted,
  available,
  children,
});
const b = (pos: number, node: RevNode): RevBranch => ({ pos, node });

// couch_key_tree_tests.erl: TwoChildSibs and Stemmed, shifted to generation 1 (ours start at 1).
const twoChildSibs: RevTree = [b(1, n('1', [n('1a'), n('1b', [], false)]))];
const stemmed: RevTree = [b(2, n('1a', [n('1aa')]))];

test('findRev: should_extract_subtree / subsubtree, and absent revs', () => {
  assert.deepEqual(findRev(twoChildSibs, { pos: 1, hash: '1' }), { deleted: false, available: true, isLeaf: false });
  assert.deepEqual(findRev(twoChildSibs, { pos: 2, hash: '1a' }), { deleted: false, available: true, isLeaf: true });
  assert.deepEqual(findRev(twoChildSibs, { pos: 2, hash: '1b' }), { deleted: false, available: false, isLeaf: true });
  assert.equal(findRev(twoChildSibs, { pos: 1, hash: 'x' }), null);
  assert.equal(findRev(twoChildSibs, { pos: 3, hash: '1a' }), null, 'the generation is part of the identity');
  assert.equal(findRev(stemmed, { pos: 1, hash: '1' }), null, 'stemmed away');
  assert.deepEqual(findRev(stemmed, { pos: 3, hash: '1aa' }), { deleted: false, available: true, isLeaf: true });
});

test('ancestry: should_retrieve_full_key_path_for_node, newest first, bounded by a limit', () => {
  assert.deepEqual(ancestry(twoChildSibs, { pos: 2, hash: '1a' }), ['1a', '1']);
  assert.deepEqual(ancestry(twoChildSibs, { pos: 1, hash: '1' }), ['1']);
  assert.deepEqual(ancestry(stemmed, { pos: 3, hash: '1aa' }), ['1aa', '1a']);
  assert.deepEqual(ancestry(stemmed, { pos: 3, hash: '1aa' }, 1), ['1aa']);
  assert.deepEqual(ancestry(stemmed, { pos: 9, hash: 'nope' }), []);
});

test('fixture "read with revs and revs_info": both revisions available', () => {
  const alpha: RevTree = [b(1, n('f2b59888198e1f69a54e77f17f8b64cc', [n('180e368ef1b52ce71ed0a43dcc76f873')]))];
  const rev = { pos: 2, hash: '180e368ef1b52ce71ed0a43dcc76f873' };
  assert.deepEqual(ancestry(alpha, rev), ['180e368ef1b52ce71ed0a43dcc76f873', 'f2b59888198e1f69a54e77f17f8b64cc']);
  assert.deepEqual(revsInfo(alpha, rev), [
    { rev: '2-180e368ef1b52ce71ed0a43dcc76f873', status: 'available' },
    { rev: '1-f2b59888198e1f69a54e77f17f8b64cc', status: 'available' },
  ]);
});

test('revsInfo: a body not stored is missing (even for a tombstone), a stored tombstone is deleted', () => {
  const tree: RevTree = [b(1, n('a', [n('b', [n('c', [n('d', [], true, true)], true, true)], false, true)], false))];
  assert.deepEqual(revsInfo(tree, { pos: 4, hash: 'd' }), [
    { rev: '4-d', status: 'deleted' },
    { rev: '3-c', status: 'deleted' },
    { rev: '2-b', status: 'missing' },
    { rev: '1-a', status: 'missing' },
  ]);
  assert.deepEqual(revsInfo(tree, { pos: 4, hash: 'x' }), []);
});

test('latestLeaves: fixture "latest=true on an inner rev" gives the leaf below it', () => {
  const a32 = 'a'.repeat(32);
  const c32 = 'c'.repeat(32);
  const conf: RevTree = [b(1, n(a32, [n(c32)])), b(1, n('b'.repeat(32)))];
  assert.deepEqual(latestLeaves(conf, { pos: 1, hash: a32 }), [{ rev: `2-${c32}`, pos: 2, hash: c32, deleted: false }]);
  assert.deepEqual(
    latestLeaves(conf, { pos: 2, hash: c32 }).map((l) => l.rev),
    [`2-${c32}`],
  );
  assert.deepEqual(latestLeaves(conf, { pos: 2, hash: 'nope' }), []);
});

test('latestLeaves: should_gather_multiple_leaves, winner first', () => {
  assert.deepEqual(
    latestLeaves(twoChildSibs, { pos: 1, hash: '1' }).map((l) => l.rev),
    ['2-1b', '2-1a'],
  );
});

test('allRevs lists every revision', () => {
  assert.deepEqual(allRevs([b(1, n('a', [n('b'), n('c')])), b(3, n('x'))]), ['1-a', '2-b', '2-c', '3-x']);
});
