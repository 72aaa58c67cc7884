// Iterative walks over revision trees. A tree may be as deep as `_revs_limit` (any positive integer),
// and a replicated `_revisions` path may be far deeper before it is stemmed, so no rev-tree code
// recurses per generation: a chain of 100,000 revisions would overflow the call stack.

import type { RevNode, RevTree } from './types.js';

/** Calls `visit` on every node of the tree with its generation, parents before children, siblings in order. */
export function forEachNode(tree: RevTree, visit: (node: RevNode, pos: number) => void): void {
  const nodes: RevNode[] = [];
  const gens: number[] = [];
  for (let b = tree.length - 1; b >= 0; b--) {
    nodes.push(tree[b]!.node);
    gens.push(tree[b]!.pos);
  }
  forEachFrom(nodes, gens, visit);
}

/** forEachNode for the subtree at `node` (generation `pos`). */
export function forEachBelow(node: RevNode, pos: number, visit: (node: RevNode, pos: number) => void): void {
  forEachFrom([node], [pos], visit);
}

function forEachFrom(nodes: RevNode[], gens: number[], visit: (node: RevNode, pos: number) => void): void {
  while (nodes.length > 0) {
    const node = nodes.pop()!;
    const pos = gens.pop()!;
    visit(node, pos);
    const kids = node.children;
    for (let i = kids.length - 1; i >= 0; i--) {
      nodes.push(kids[i]!);
      gens.push(pos + 1);
    }
  }
}

/**
 * The nodes from `root` down to the node `depth` generations below it whose hash is `hash`, root
 * first, with the index of each next node among its parent's children; null when there is none.
 */
export function pathBelow(root: RevNode, depth: number, hash: string): { nodes: RevNode[]; index: number[] } | null {
  if (depth < 0) return null;
  const nodes: RevNode[] = [root];
  // next[k]: the next child of nodes[k] to explore, so nodes[k + 1] is its child next[k] - 1.
  const next: number[] = [0];
  for (;;) {
    const top = nodes.length - 1;
    const node = nodes[top]!;
    if (top === depth) {
      if (node.hash === hash) {
        const index = next.slice(0, top).map((i) => i - 1);
        return { nodes, index };
      }
    } else {
      const i = next[top]!;
      if (i < node.children.length) {
        next[top] = i + 1;
        nodes.push(node.children[i]!);
        next.push(0);
        continue;
      }
    }
    nodes.pop();
    next.pop();
    if (nodes.length === 0) return null;
  }
}

/**
 * Replaces the last node of a path found by pathBelow with `replacement`, copying only the nodes
 * above it; returns the new root (the old one when `replacement` is the node it replaces).
 */
export function replaceAlong(path: { nodes: RevNode[]; index: number[] }, replacement: RevNode): RevNode {
  const { nodes, index } = path;
  let current = replacement;
  for (let k = nodes.length - 2; k >= 0; k--) {
    const parent = nodes[k]!;
    const at = index[k]!;
    if (parent.children[at] === current) return nodes[0]!;
    const children = parent.children.slice();
    children[at] = current;
    current = { hash: parent.hash, deleted: parent.deleted, available: parent.available, children };
  }
  return current;
}

/**
 * Rebuilds the subtree at `root` bottom-up without recursion: `build(node, pos, kids, from)` gets
 * the results of the node's children in `kids[from]`, `kids[from + 1]`, … (one per child, in
 * order) and returns the node's own result. One flat stack of results, so a chain of 100,000
 * revisions allocates no array per node.
 */
export function foldUp<R>(root: RevNode, pos: number, build: (node: RevNode, pos: number, kids: readonly R[], from: number) => R): R {
  const nodes: RevNode[] = [root];
  const gens: number[] = [pos];
  const next: number[] = [0];
  const results: R[] = [];
  for (;;) {
    const top = nodes.length - 1;
    const node = nodes[top]!;
    const i = next[top]!;
    if (i < node.children.length) {
      next[top] = i + 1;
      nodes.push(node.children[i]!);
      gens.push(gens[top]! + 1);
      next.push(0);
      continue;
    }
    const from = results.length - node.children.length;
    const own = build(node, gens[top]!, results, from);
    results.length = from;
    nodes.pop();
    gens.pop();
    next.pop();
    if (nodes.length === 0) return own;
    results.push(own);
  }
}
