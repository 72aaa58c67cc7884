// The leaves of a tree are the document's open revisions: `open_revs=all`, `_changes?style=all_docs`,
// `_conflicts` and `_deleted_conflicts` all come from here, always in winner-first order so that
// `leaves(t)[0]` is `winningRev(t)` and every replica lists them the same way.

import { formatRev } from './parse-rev.js';
import type { Leaf, RevNode, RevTree } from './types.js';
import { forEachBelow } from './walk.js';
import { compareLeaves } from './winning-rev.js';

/** All leaves, winner first (live before deleted, then higher generation, then greater hash). */
export function leaves(tree: RevTree): Leaf[] {
  const out: Leaf[] = [];
  for (const branch of tree) collectLeaves(branch.node, branch.pos, out);
  return out.length > 1 ? out.sort(compareLeaves) : out;
}

/** Leaves of the subtree at `node` (generation `pos`), unsorted, appended to `out`. */
export function collectLeaves(node: RevNode, pos: number, out: Leaf[]): void {
  forEachBelow(node, pos, (n, p) => {
    if (n.children.length === 0) out.push({ rev: formatRev(p, n.hash), pos: p, hash: n.hash, deleted: n.deleted });
  });
}

/** `_conflicts`: the live leaves other than the winner, in winner-first order. */
export function conflicts(tree: RevTree): string[] {
  return leaves(tree)
    .slice(1)
    .filter((leaf) => !leaf.deleted)
    .map((leaf) => leaf.rev);
}

/** `_deleted_conflicts`: the deleted leaves other than the winner, in winner-first order. */
export function deletedConflicts(tree: RevTree): string[] {
  return leaves(tree)
    .slice(1)
    .filter((leaf) => leaf.deleted)
    .map((leaf) => leaf.rev);
}
