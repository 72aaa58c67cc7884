// removeLeaves against the remove_leafs cases of CouchDB's couch_key_tree_tests.erl (their trees
// start at generation 0; ours start at 1, so every generation here is one higher), plus the two
// properties a purge must keep: no leaf that was not named is lost, and no node is left without a
// leaf below it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { leaves } from '../revtree/index.js';
import type { RevNode, RevTree } from '../revtree/index.js';
import { removeLeaves } from './purge.js';

const node = (hash: string, children: RevNode[] = []): RevNode => ({ hash, deleted: false, available: true, children });

/** couch_key_tree_tests' TwoChildSibs: "1" with children "1a" and "1b". */
const twoChildSibs: RevTree = [{ pos: 1, node: node('1', [node('1a'), node('1b')]) }];
/** couch_key_tree_tests' Stemmed: a branch starting at "1a" with child "1aa". */
const stemmed: RevTree = [{ pos: 2, node: node('1a', [node('1aa')]) }];

test('removing no leaves, or a revision the tree lacks, changes nothing', () => {
  assert.deepEqual(removeLeaves(twoChildSibs, new Set()), { tree: twoChildSibs, purged: [], dropped: [] });
  assert.equal(removeLeaves(twoChildSibs, new Set(['1-1'])).tree, twoChildSibs, 'an inner node is not a leaf');
  assert.deepEqual(removeLeaves(twoChildSibs, new Set(['1-1'])).purged, []);
  assert.equal(removeLeaves(stemmed, new Set(['2-1'])).tree, stemmed, 'a stemmed-away revision is not in the tree');
});

test('removing one of two sibling leaves keeps the other with its parent', () => {
  const r = removeLeaves(twoChildSibs, new Set(['2-1a']));
  assert.deepEqual(r.tree, [{ pos: 1, node: node('1', [node('1b')]) }]);
  assert.deepEqual(r.purged, ['2-1a']);
  assert.deepEqual(r.dropped, ['2-1a']);
});

test('removing every leaf empties the tree, ancestors included', () => {
  const r = removeLeaves(twoChildSibs, new Set(['2-1b', '2-1a']));
  assert.deepEqual(r.tree, []);
  assert.deepEqual(r.purged, ['2-1a', '2-1b'], 'sorted as fabric_doc_purge reports them');
  assert.deepEqual(new Set(r.dropped), new Set(['2-1a', '2-1b', '1-1']));
  assert.deepEqual(removeLeaves(stemmed, new Set(['3-1aa'])).tree, []);
});

test('a purged leaf takes the ancestors only it needed, not shared ones', () => {
  // 1-a → 2-b → 3-c and 1-a → 2-d: purging 3-c removes 2-b too, keeps 1-a (2-d needs it).
  const tree: RevTree = [{ pos: 1, node: node('a', [node('b', [node('c')]), node('d')]) }];
  const r = removeLeaves(tree, new Set(['3-c']));
  assert.deepEqual(r.tree, [{ pos: 1, node: node('a', [node('d')]) }]);
  assert.deepEqual(new Set(r.dropped), new Set(['3-c', '2-b']));
});

/** Random trees: each node gets 0-2 children, at most 5 levels, hashes unique by path. */
const arbTree: fc.Arbitrary<RevTree> = fc
  .array(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 2 })
  .map((branches) =>
    branches.map((shape, b) => {
      let i = 0;
      const build = (hash: string, depth: number): RevNode => {
        const n = depth >= 5 ? 0 : (shape[i++ % shape.length] as number);
        return node(hash, Array.from({ length: n }, (_, k) => build(`${hash}.${k}`, depth + 1)));
      };
      return { pos: 1 + b * 3, node: build(`b${b}`, 0) };
    }),
  );

test('property: exactly the named leaves go, every other leaf stays, and no childless inner node is left', () => {
  fc.assert(
    fc.property(arbTree, fc.array(fc.nat(), { maxLength: 6 }), (tree, picks) => {
      const all = leaves(tree).map((l) => l.rev);
      const named = new Set(picks.map((p) => all[p % all.length] as string));
      const r = removeLeaves(tree, named);
      const left = new Set(leaves(r.tree).map((l) => l.rev));
      assert.deepEqual(new Set(r.purged), named);
      for (const rev of all) assert.equal(left.has(rev), !named.has(rev), rev);
      // Every leaf of the result was a leaf before: pruning never turns an ancestor into a leaf.
      for (const rev of left) assert.ok(all.includes(rev), `${rev} became a leaf`);
    }),
  );
});
