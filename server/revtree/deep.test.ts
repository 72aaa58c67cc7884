// Property tests with histories thousands of revisions deep: merging, stemming, reading and
// compacting such trees must neither overflow the call stack nor differ from a model computed
// directly from the revisions' parent links. A "universe" here is a long trunk with a few side
// branches; each write is the full ancestry of one revision (as `_revisions` sends it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { markCompacted } from './compact.js';
import { ancestry, allRevs, findRev, revsInfo } from './find.js';
import { leaves } from './leaves.js';
import { merge } from './merge.js';
import type { RevPath, RevTree } from './types.js';
import { winningRev } from './winning-rev.js';

/** Few runs: every run builds trees of thousands of nodes. */
const numRuns = Number(process.env.REVTREE_DEEP_RUNS ?? 12);
const trunkMin = 2000;
const trunkMax = 9000;

interface Universe {
  parent: number[];
  gen: number[];
  hash: string[];
}

/** A trunk of `trunk` revisions, then side branches starting at random trunk revisions. */
const universeArb: fc.Arbitrary<Universe> = fc
  .record({
    trunk: fc.integer({ min: trunkMin, max: trunkMax }),
    sides: fc.array(fc.record({ at: fc.nat(), length: fc.integer({ min: 1, max: 3000 }) }), { maxLength: 4 }),
  })
  .map(({ trunk, sides }) => {
    const parent: number[] = [];
    const gen: number[] = [];
    for (let i = 0; i < trunk; i++) {
      parent.push(i - 1);
      gen.push(i + 1);
    }
    for (const side of sides) {
      let p = side.at % trunk;
      for (let k = 0; k < side.length; k++) {
        parent.push(p);
        gen.push(gen[p]! + 1);
        p = parent.length - 1;
      }
    }
    const hash = parent.map((_, i) => i.toString(16).padStart(8, '0'));
    // A counterexample prints as its recipe, not as thousands of ids.
    const shown = `trunk ${trunk}, sides ${JSON.stringify(sides)}`;
    return Object.assign({ parent, gen, hash }, { [fc.toStringMethod]: () => shown });
  });

function ancestryOf(u: Universe, node: number): number[] {
  const out: number[] = [];
  for (let at = node; at >= 0; at = u.parent[at]!) out.push(at);
  return out.reverse();
}

const scenarioArb = universeArb.chain((u) =>
  fc.record({
    u: fc.constant(u),
    picks: fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
    limit: fc.oneof(fc.constant(1000), fc.integer({ min: 1, max: 3000 }), fc.constant(1_000_000)),
  }),
);

function pathOf(u: Universe, node: number): RevPath {
  const nodes = ancestryOf(u, node);
  return { pos: 1, hashes: nodes.map((i) => u.hash[i]!), leafDeleted: false, leafAvailable: true };
}

test('deep histories merge and stem as the model says, without recursion', () => {
  fc.assert(
    fc.property(scenarioArb, ({ u, picks, limit }) => {
      // Each write is a leaf's whole history. (Writing an ancestor after its descendant stemmed it
      // away adds it back as a leaf, in CouchDB too, so the writes name no revision's ancestor.)
      const picked = [...new Set(picks.map((p) => p % u.parent.length))];
      const ancestorsOfPicked = new Set<number>();
      for (const node of picked) for (const a of ancestryOf(u, node).slice(0, -1)) ancestorsOfPicked.add(a);
      const modelLeaves = picked.filter((n) => !ancestorsOfPicked.has(n));
      let tree: RevTree = [];
      for (const node of modelLeaves) tree = merge(tree, pathOf(u, node), limit).tree;

      const rev = (n: number) => `${u.gen[n]}-${u.hash[n]}`;
      assert.deepEqual(new Set(leaves(tree).map((l) => l.rev)), new Set(modelLeaves.map(rev)));
      const best = modelLeaves.reduce((a, b) => (u.gen[a]! > u.gen[b]! || (u.gen[a] === u.gen[b] && u.hash[a]! > u.hash[b]!) ? a : b));
      assert.equal(winningRev(tree).rev, rev(best));

      // Model of stemming: a revision survives when a leaf below it is fewer than `limit` generations away.
      const survives = new Set<number>();
      for (const leaf of modelLeaves) {
        const chain = ancestryOf(u, leaf);
        for (let i = chain.length - 1; i >= 0 && u.gen[leaf]! - u.gen[chain[i]!]! < limit; i--) survives.add(chain[i]!);
      }
      assert.equal(allRevs(tree).length, survives.size);
      for (const leaf of modelLeaves) {
        // A leaf's `_revisions` run up its ancestry while revisions survive.
        let expected = 0;
        for (let at = leaf; at >= 0 && survives.has(at); at = u.parent[at]!) expected++;
        const parsed = { pos: u.gen[leaf]!, hash: u.hash[leaf]! };
        assert.equal(ancestry(tree, parsed).length, expected);
        assert.equal(revsInfo(tree, parsed).length, expected);
      }
      // Compaction keeps leaves' bodies only.
      const compacted = markCompacted(tree);
      for (const leaf of modelLeaves) assert.equal(findRev(compacted, { pos: u.gen[leaf]!, hash: u.hash[leaf]! })?.available, true);
      // Merging the same writes again changes nothing.
      for (const node of modelLeaves) assert.equal(merge(tree, pathOf(u, node), limit).changed, false);
    }),
    { numRuns },
  );
});

test('a 100,000-revision path merges, stems and reads back', () => {
  const n = 100_000;
  const hashes = Array.from({ length: n }, (_, i) => i.toString(16).padStart(32, '0'));
  const path: RevPath = { pos: 1, hashes, leafDeleted: false, leafAvailable: true };
  const stemmed = merge([], path, 1000).tree;
  assert.equal(stemmed.length, 1);
  assert.equal(stemmed[0]!.pos, n - 999);
  const whole = merge([], path, n).tree;
  assert.equal(ancestry(whole, { pos: n, hash: hashes[n - 1]! }).length, n);
  // The same path again, stemmed against the whole tree: a no-op after stemming to the same shape.
  assert.equal(merge(whole, path, n).changed, false);
  assert.equal(allRevs(markCompacted(whole)).length, n);
});
