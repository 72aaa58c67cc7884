// Merging a revision path into a document's tree: every write goes through here, interactive
// edits (parent + new child) and replicated ones (`new_edits=false` with `_revisions`) alike.
// After couch_key_tree:merge followed by stem, as couch_db_updater does. Pure; the input tree is
// never mutated (the result shares untouched subtrees with it, so treat trees as immutable).
//
// Guarantees: merging a path that is already in the tree is a no-op with outcome `internal_node`
// (except that a body the tree lacked for that leaf becomes available); so is retrying the same
// write after stemming. No revision of the tree or the path is lost except by stemming, and
// stemming never drops a leaf. `changed` is false exactly when the input tree is returned.

import { findRev } from './find.js';
import { mergeBranch } from './merge-branch.js';
import { stem } from './stem.js';
import type { MergeResult, RevNode, RevPath, RevTree } from './types.js';

export function merge(tree: RevTree, path: RevPath, revsLimit: number): MergeResult {
  const merged = mergeBranch(tree, { pos: path.pos, node: chainFromPath(path) });
  const stemmed = stem(merged.tree, revsLimit);
  if (stemmed === tree) return { tree, outcome: merged.outcome, changed: false };
  // Re-merging a path whose old end lies below a stemmed branch adds that end back, and stemming
  // takes it away again. Only then can the result equal the input, so only then (the path's leaf
  // was already known) is the structural comparison worth its cost. Such a retry is a no-op.
  const leafKnown =
    merged.outcome === 'internal_node' ||
    findRev(tree, { pos: path.pos + path.hashes.length - 1, hash: path.hashes[path.hashes.length - 1]! }) !== null;
  if (leafKnown && sameForest(stemmed, tree)) return { tree, outcome: 'internal_node', changed: false };
  return { tree: stemmed, outcome: merged.outcome, changed: true };
}

function sameForest(a: RevTree, b: RevTree): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.pos !== y.pos || !sameNode(x.node, y.node)) return false;
  }
  return true;
}

function sameNode(first: RevNode, second: RevNode): boolean {
  const pairs: [RevNode, RevNode][] = [[first, second]];
  while (pairs.length > 0) {
    const [a, b] = pairs.pop()!;
    if (a === b) continue;
    if (a.hash !== b.hash || a.deleted !== b.deleted || a.available !== b.available) return false;
    if (a.children.length !== b.children.length) return false;
    for (let i = 0; i < a.children.length; i++) pairs.push([a.children[i]!, b.children[i]!]);
  }
  return true;
}

/** The path as a single-child chain. Inner nodes are unknown bodies until the tree says otherwise. */
function chainFromPath(path: RevPath): RevNode {
  const { hashes } = path;
  if (hashes.length === 0) throw new RangeError('cannot merge an empty revision path');
  if (!Number.isSafeInteger(path.pos) || path.pos < 0) throw new RangeError(`bad path generation ${path.pos}`);
  let node: RevNode = {
    hash: hashes[hashes.length - 1]!,
    deleted: path.leafDeleted,
    available: path.leafAvailable,
    children: [],
  };
  for (let i = hashes.length - 2; i >= 0; i--) {
    node = { hash: hashes[i]!, deleted: false, available: false, children: [node] };
  }
  return node;
}
