import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareLeaves, winningRev } from './winning-rev.js';
import type { Leaf, RevBranch, RevNode } from './types.js';

const n = (hash: string, children: RevNode[] = [], deleted = false): RevNode => ({ hash, deleted, available: true, children });
const b = (pos: number, node: RevNode): RevBranch => ({ pos, node });
const a32 = 'a'.repeat(32);
const b32 = 'b'.repeat(32);

test('two replicated roots: the greater hash wins (fixture "winner with conflicts": 1-bbb over 1-aaa)', () => {
  assert.deepEqual(winningRev([b(1, n(a32)), b(1, n(b32))]), { rev: `1-${b32}`, pos: 1, hash: b32, deleted: false });
});

test('a higher generation beats a greater hash (fixture "winner changed": 2-ccc over 1-bbb)', () => {
  const c32 = 'c'.repeat(32);
  assert.equal(winningRev([b(1, n(a32, [n(c32)])), b(1, n(b32))]).rev, `2-${c32}`);
  assert.equal(winningRev([b(1, n('z', [n('a')])), b(1, n('zz'))]).rev, '2-a');
});

test('a live leaf beats a deleted one of any generation', () => {
  assert.equal(winningRev([b(1, n('a', [n('b', [n('c', [], true)])])), b(1, n('0'))]).rev, '1-0');
});

test('when every leaf is deleted, the same order picks the winner', () => {
  const winner = winningRev([b(1, n('a', [n('b', [], true)])), b(1, n('z', [], true))]);
  assert.deepEqual(winner, { rev: '2-b', pos: 2, hash: 'b', deleted: true });
});

test('hashes compare as strings, not numbers', () => {
  assert.equal(winningRev([b(1, n('9')), b(1, n('10'))]).rev, '1-9');
});

test('an empty tree has no winner', () => {
  assert.throws(() => winningRev([]), RangeError);
});

test('compareLeaves orders winner first', () => {
  const leaf = (pos: number, hash: string, deleted: boolean): Leaf => ({ rev: `${pos}-${hash}`, pos, hash, deleted });
  const sorted = [leaf(3, 'x', true), leaf(1, 'a', false), leaf(2, 'a', false), leaf(2, 'b', false)].sort(compareLeaves);
  assert.deepEqual(
    sorted.map((l) => l.rev),
    ['2-b', '2-a', '1-a', '3-x'],
  );
});
