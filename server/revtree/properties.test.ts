// Property tests for the tree, after CouchDB's couch_key_tree_prop_tests.erl. Histories are drawn
// from a random "universe": a forest of revisions where every revision has one true parent (as
// real rev ids do). A write is a path cut out of the universe (a node's ancestry, possibly stemmed
// at the old end), and merging any set of them has one right answer we can compute directly: the
// union of their nodes and of the parent links the paths show. A failing case prints its seed;
// replay it with fc.assert(..., { seed, path }).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { markCompacted } from './compact.js';
import { findRev } from './find.js';
import { leaves } from './leaves.js';
import { merge } from './merge.js';
import { stem } from './stem.js';
import type { Leaf, RevBranch, RevNode, RevPath, RevTree } from './types.js';
import { winningRev } from './winning-rev.js';

/**
 * Runs per property: enough to find the bridging and stemming corner cases while the whole file
 * stays near one second. Set REVTREE_PROPERTY_RUNS for a longer hunt.
 */
const numRuns = Number(process.env.REVTREE_PROPERTY_RUNS ?? 300);
/** Larger than any history drawn here, so that merging never stems. */
const noStemming = 1000;
const universeSizeMax = 24;

interface Universe {
  parent: number[]; // -1 for a root (a document created independently on two replicas)
  hash: string[];
  deleted: boolean[];
  gen: number[];
}

interface Write {
  path: RevPath;
  /** Universe index of every path node, oldest first. */
  nodes: number[];
}

const universeArb: fc.Arbitrary<Universe> = fc.integer({ min: 1, max: universeSizeMax }).chain((size) =>
  fc
    .record({
      parentPicks: fc.array(fc.nat(), { minLength: size, maxLength: size }),
      hashes: fc.uniqueArray(fc.integer({ min: 0, max: 0xfff }), { minLength: size, maxLength: size }),
      deleted: fc.array(fc.boolean(), { minLength: size, maxLength: size }),
    })
    .map(({ parentPicks, hashes, deleted }) => {
      const parent = parentPicks.map((pick, i) => (i === 0 || pick % 8 === 0 ? -1 : pick % i));
      const gen: number[] = [];
      parent.forEach((p, i) => gen.push(p < 0 ? 1 : gen[p]! + 1));
      return { parent, hash: hashes.map((h) => h.toString(16)), deleted, gen };
    }),
);

function ancestryOf(u: Universe, node: number): number[] {
  const out: number[] = [];
  for (let at = node; at >= 0; at = u.parent[at]!) out.unshift(at);
  return out;
}

function writesArb(u: Universe, withMissingBodies: boolean): fc.Arbitrary<Write[]> {
  const size = u.parent.length;
  return fc.array(fc.record({ node: fc.nat(), keep: fc.nat(), available: fc.boolean() }), { minLength: 1, maxLength: 10 }).map((picks) =>
    picks.map(({ node, keep, available }) => {
      const full = ancestryOf(u, node % size);
      const nodes = full.slice(full.length - (1 + (keep % full.length)));
      const leaf = nodes[nodes.length - 1]!;
      return {
        nodes,
        path: {
          pos: u.gen[nodes[0]!]!,
          hashes: nodes.map((i) => u.hash[i]!),
          leafDeleted: u.deleted[leaf]!,
          leafAvailable: withMissingBodies ? available : true,
        },
      };
    }),
  );
}

const scenarioArb = (withMissingBodies: boolean) =>
  universeArb.chain((u) =>
    fc.record({ u: fc.constant(u), writes: writesArb(u, withMissingBodies), order: fc.array(fc.nat(), { minLength: 10, maxLength: 10 }) }),
  );

function mergeAll(writes: Write[], revsLimit: number, tree: RevTree = []): RevTree {
  for (const w of writes) tree = merge(tree, w.path, revsLimit).tree;
  return tree;
}

function permute<T>(items: T[], keys: number[]): T[] {
  return items
    .map((item, i) => ({ item, key: keys[i % keys.length]! * 31 + i }))
    .sort((a, b) => a.key - b.key)
    .map((x) => x.item);
}

/** The right answer, computed without merging: the union of nodes and links of all writes. */
function expectedTree(u: Universe, writes: Write[]): RevTree {
  const present = new Set<number>();
  const knownParent = new Map<number, number>();
  const leafOf = new Set<number>();
  const withBody = new Set<number>();
  for (const w of writes) {
    w.nodes.forEach((node, i) => {
      present.add(node);
      if (i > 0) knownParent.set(node, w.nodes[i - 1]!);
    });
    const leaf = w.nodes[w.nodes.length - 1]!;
    leafOf.add(leaf);
    if (w.path.leafAvailable) withBody.add(leaf);
  }
  const build = (node: number): RevNode => ({
    hash: u.hash[node]!,
    deleted: leafOf.has(node) ? u.deleted[node]! : false,
    available: withBody.has(node),
    children: [...present]
      .filter((c) => knownParent.get(c) === node)
      .map(build)
      .sort((a, b) => (a.hash < b.hash ? -1 : 1)),
  });
  const roots: RevBranch[] = [...present].filter((n) => !knownParent.has(n)).map((n) => ({ pos: u.gen[n]!, node: build(n) }));
  return roots.sort((a, b) => a.pos - b.pos || (a.node.hash < b.node.hash ? -1 : 1));
}

/** Every root-to-leaf path, as lists of "N-hash". */
function rootToLeafPaths(tree: RevTree): string[][] {
  const out: string[][] = [];
  const visit = (node: RevNode, pos: number, acc: string[]): void => {
    const here = [...acc, `${pos}-${node.hash}`];
    if (node.children.length === 0) out.push(here);
    for (const c of node.children) visit(c, pos + 1, here);
  };
  for (const b of tree) visit(b.node, b.pos, []);
  return out;
}

function nodeSet(tree: RevTree): Set<string> {
  return new Set(rootToLeafPaths(tree).flat());
}

const leafKey = (l: Leaf) => `${l.rev}/${l.deleted}`;

test('merging any writes in any order gives the union of their histories (no stemming)', () => {
  fc.assert(
    fc.property(scenarioArb(true), ({ u, writes, order }) => {
      const expected = expectedTree(u, writes);
      assert.deepEqual(mergeAll(writes, noStemming), expected);
      assert.deepEqual(mergeAll(permute(writes, order), noStemming), expected);
    }),
    { numRuns },
  );
});

test('merging never loses a leaf, and the merged leaf is always present', () => {
  fc.assert(
    fc.property(scenarioArb(true), fc.integer({ min: 1, max: 6 }), ({ u, writes }, revsLimit) => {
      let tree: RevTree = [];
      for (const w of writes) {
        const before = leaves(tree);
        tree = merge(tree, w.path, revsLimit).tree;
        const leafIndex = w.nodes[w.nodes.length - 1]!;
        assert.ok(findRev(tree, { pos: u.gen[leafIndex]!, hash: u.hash[leafIndex]! }), 'merged leaf present');
        const ancestorsOfNewLeaf = new Set(w.nodes.map((i) => `${u.gen[i]}-${u.hash[i]}`));
        for (const leaf of before) {
          // An old leaf stays, or became an ancestor of the new leaf (and stemming may then drop it).
          if (findRev(tree, leaf) === null) assert.ok(ancestorsOfNewLeaf.has(leaf.rev), `lost leaf ${leaf.rev}`);
        }
      }
    }),
    { numRuns },
  );
});

test('re-merging a path is a no-op with outcome internal_node', () => {
  fc.assert(
    fc.property(scenarioArb(false), fc.integer({ min: 1, max: 6 }), fc.nat(), ({ writes }, revsLimit, pick) => {
      // Without stemming, any path merged at any time is still wholly in the tree.
      const full = mergeAll(writes, noStemming);
      const again = merge(full, writes[pick % writes.length]!.path, noStemming);
      assert.equal(again.outcome, 'internal_node');
      assert.equal(again.changed, false);
      assert.equal(again.tree, full);
      // With stemming, retrying a write is a no-op. (A much older path may not be: it can bring
      // back a parent link stemming dropped, or a stemmed-away leaf, exactly as in CouchDB.)
      const last = writes[writes.length - 1]!.path;
      const once = merge(mergeAll(writes.slice(0, -1), revsLimit), last, revsLimit).tree;
      const twice = merge(once, last, revsLimit);
      assert.equal(twice.outcome, 'internal_node');
      assert.equal(twice.changed, false);
      assert.equal(twice.tree, once);
    }),
    { numRuns },
  );
});

test('stemming keeps every leaf and exactly the newest `limit` revisions of each root-to-leaf path', () => {
  fc.assert(
    fc.property(scenarioArb(true), fc.integer({ min: 1, max: 6 }), ({ writes }, limit) => {
      const tree = mergeAll(writes, noStemming);
      const stemmed = stem(tree, limit);
      assert.deepEqual(new Set(leaves(stemmed).map(leafKey)), new Set(leaves(tree).map(leafKey)));
      // A node stays exactly when it is among the newest `limit` of some path. In a branched tree a
      // path can stay longer than `limit` through an ancestor kept for a nearer leaf (CouchDB too).
      const expected = new Set(rootToLeafPaths(tree).flatMap((p) => p.slice(-limit)));
      assert.deepEqual(nodeSet(stemmed), expected);
      const oldLength = new Map(rootToLeafPaths(tree).map((p) => [p[p.length - 1]!, p.length]));
      for (const p of rootToLeafPaths(stemmed)) {
        assert.ok(p.length >= Math.min(limit, oldLength.get(p[p.length - 1]!)!), 'newest revisions kept');
        assert.ok(p.length <= oldLength.get(p[p.length - 1]!)!, 'paths never grow');
      }
      assert.equal(stem(stemmed, limit), stemmed, 'stemming is idempotent');
    }),
    { numRuns },
  );
});

test('stemming a linear history leaves exactly `limit` revisions', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), (length, limit) => {
      const hashes = Array.from({ length }, (_, i) => `h${i}`);
      const tree = merge([], { pos: 1, hashes, leafDeleted: false, leafAvailable: true }, limit).tree;
      const paths = rootToLeafPaths(tree);
      assert.equal(paths.length, 1);
      assert.deepEqual(
        paths[0],
        hashes.map((h, i) => `${i + 1}-${h}`).slice(-limit),
      );
    }),
    { numRuns },
  );
});

test('the winner is the greatest leaf under the documented order, whatever the merge order', () => {
  fc.assert(
    fc.property(scenarioArb(true), ({ writes, order }) => {
      const tree = mergeAll(writes, noStemming);
      const all = leaves(tree);
      const live = all.filter((l) => !l.deleted);
      const pool = live.length > 0 ? live : all;
      const maxPos = Math.max(...pool.map((l) => l.pos));
      const maxHash = pool
        .filter((l) => l.pos === maxPos)
        .map((l) => l.hash)
        .reduce((a, b) => (a > b ? a : b));
      const winner = winningRev(tree);
      assert.equal(winner.rev, `${maxPos}-${maxHash}`);
      assert.deepEqual(all[0], winner);
      assert.deepEqual(winningRev(mergeAll(permute(writes, order), noStemming)), winner);
    }),
    { numRuns },
  );
});

test('compaction keeps bodies of leaves only and changes nothing else', () => {
  fc.assert(
    fc.property(scenarioArb(true), ({ writes }) => {
      const tree = mergeAll(writes, noStemming);
      const compacted = markCompacted(tree);
      const strip = (node: RevNode): unknown => ({
        hash: node.hash,
        deleted: node.deleted,
        available: node.children.length === 0 ? node.available : false,
        children: node.children.map(strip),
      });
      assert.deepEqual(
        compacted,
        tree.map((b) => ({ pos: b.pos, node: strip(b.node) })),
      );
    }),
    { numRuns },
  );
});
