// Which leaf is "the" document. Every replica must pick the same one from the same tree without
// talking to the others, so the rule looks only at the leaves: a live leaf beats a deleted one,
// then the higher generation wins, then the greater hash (plain string comparison; our hashes are
// lowercase hex, so this is CouchDB's byte order). Same rule as CouchDB and PouchDB's winningRev.

import { formatRev } from './parse-rev.js';
import type { Leaf, RevNode, RevTree } from './types.js';
import { forEachNode } from './walk.js';

/** Negative when `a` wins over `b`: sorting with this puts the winner first. */
export function compareLeaves(a: Leaf, b: Leaf): number {
  if (a.deleted !== b.deleted) return a.deleted ? 1 : -1;
  if (a.pos !== b.pos) return b.pos - a.pos;
  return a.hash > b.hash ? -1 : a.hash < b.hash ? 1 : 0;
}

/** The winning leaf. Throws RangeError for an empty tree (a document always has a revision). */
export function winningRev(tree: RevTree): Leaf {
  let best: { pos: number; node: RevNode } | null = null;
  forEachNode(tree, (node, pos) => {
    if (node.children.length === 0 && (best === null || beats(node, pos, best.node, best.pos))) best = { pos, node };
  });
  if (best === null) throw new RangeError('an empty revision tree has no winner');
  const { pos, node } = best as { pos: number; node: RevNode };
  return { rev: formatRev(pos, node.hash), pos, hash: node.hash, deleted: node.deleted };
}

function beats(a: RevNode, aPos: number, b: RevNode, bPos: number): boolean {
  if (a.deleted !== b.deleted) return !a.deleted;
  if (aPos !== bPos) return aPos > bPos;
  return a.hash > b.hash;
}
