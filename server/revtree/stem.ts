// Stemming bounds a document's history to `revs_limit`: of every root-to-leaf path only the newest
// `limit` revisions are kept (couch_key_tree:stem). A node survives exactly when some leaf below it
// is fewer than `limit` generations away. When a node goes, its surviving children become branch
// roots of their own, which is why a tree is a forest. Leaves always survive.
//
// Copy-on-write: when nothing needs dropping the input tree itself is returned.

import { mergeBranch, sortBranches } from './merge-branch.js';
import type { RevBranch, RevNode, RevTree } from './types.js';
import { foldUp } from './walk.js';

/** Keeps the newest `limit` revisions of every path. `limit` must be a positive integer (`_revs_limit`). */
export function stem(tree: RevTree, limit: number): RevTree {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`revs limit must be a positive integer, got ${limit}`);
  const roots: RevBranch[] = [];
  let changed = false;
  for (const branch of tree) {
    const kept = stemNode(branch.node, branch.pos, limit, roots);
    if (kept.node === branch.node) {
      roots.push(branch);
    } else {
      changed = true;
      if (kept.node !== null) roots.push({ pos: branch.pos, node: kept.node });
    }
  }
  if (!changed) return tree;
  return roots.length > 1 ? joinDuplicates(roots) : roots;
}

/**
 * Stems the subtree at `node` (generation `pos`). Returns the node to keep (the same object when
 * unchanged, null when dropped) and the distance to its nearest leaf. Surviving children of a
 * dropped node are pushed to `roots`.
 */
function stemNode(root: RevNode, rootPos: number, limit: number, roots: RevBranch[]): { node: RevNode | null; leafDistance: number } {
  return foldUp<{ node: RevNode | null; leafDistance: number }>(root, rootPos, (node, pos, results, from) => {
    const kids = node.children;
    if (kids.length === 0) return { node, leafDistance: 0 };
    let leafDistance = Number.POSITIVE_INFINITY;
    let out: RevNode[] | null = null;
    for (let i = 0; i < kids.length; i++) {
      const kid = kids[i]!;
      const kept = results[from + i]!;
      leafDistance = Math.min(leafDistance, kept.leafDistance + 1);
      if (out === null && kept.node !== kid) out = kids.slice(0, i);
      if (out !== null && kept.node !== null) out.push(kept.node);
    }
    if (leafDistance < limit) {
      if (out === null) return { node, leafDistance };
      return { node: { hash: node.hash, deleted: node.deleted, available: node.available, children: out }, leafDistance };
    }
    for (const kid of out ?? kids) roots.push({ pos: pos + 1, node: kid });
    return { node: null, leafDistance };
  });
}

/**
 * A well-formed forest never holds the same revision twice, but a tree written by older code (or
 * merged in a different order by a peer) might; couch_key_tree:stem repairs that by re-merging.
 * We do the same: merging each branch into the others joins any that overlap.
 */
function joinDuplicates(roots: RevBranch[]): RevTree {
  let tree: RevTree = [];
  for (const branch of roots) tree = mergeBranch(tree, branch).tree;
  return sortBranches(tree.slice());
}
