// Merging one branch (a path, or a whole subtree) into a forest, without stemming: the core of
// couch_key_tree:merge. Pure and copy-on-write: neither input is mutated, untouched subtrees are
// shared with the result, and when nothing changes the input forest itself is returned.
//
// Rules (see README.md):
// - Nodes are identified by generation + hash. Siblings are kept sorted by hash and branches by
//   (pos, root hash), so equal histories always have the same shape.
// - Because of stemming, a branch and the incoming branch may start at different generations: the
//   one that starts later must have its root inside the other one, at the same generation
//   (couch_key_tree:merge_at). No such common node means a new root branch.
// - When a node exists on both sides the side with a stored body wins its flags (value_pref);
//   otherwise the existing tree keeps its flags, except that a tombstone flag is never lost.
// - Outcome as couch_key_tree: `internal_node` when the incoming leaf was already known,
//   `new_leaf` when it extended a leaf, `new_branch` when it added a sibling or a new root.
// - Unlike couch_key_tree, a path that bridges two stemmed branches joins them at once (CouchDB gets
//   the same tree later, when stemming finds the duplicate keys and rebuilds the tree).

import type { MergeOutcome, RevBranch, RevNode, RevTree } from './types.js';
import { pathBelow, replaceAlong } from './walk.js';

export interface BranchMerge {
  tree: RevTree;
  outcome: MergeOutcome;
  changed: boolean;
}

interface NodeMerge {
  node: RevNode;
  outcome: MergeOutcome;
  changed: boolean;
}

const outcomeRank: Record<MergeOutcome, number> = { internal_node: 0, new_leaf: 1, new_branch: 2 };

function strongerOutcome(a: MergeOutcome, b: MergeOutcome): MergeOutcome {
  return outcomeRank[a] >= outcomeRank[b] ? a : b;
}

/** Merges `incoming` into `tree`. */
export function mergeBranch(tree: RevTree, incoming: RevBranch): BranchMerge {
  if (tree.length === 0) return { tree: [incoming], outcome: 'new_leaf', changed: true };
  for (let i = 0; i < tree.length; i++) {
    const result = mergeIntoBranch(tree[i]!, incoming);
    if (result === null) continue;
    if (!result.changed) return { tree, outcome: result.outcome, changed: false };
    if (tree.length === 1) return { tree: [result.branch], outcome: result.outcome, changed: true };
    const rest = tree.slice(0, i).concat(tree.slice(i + 1));
    const joined = absorbOverlapping(result.branch, rest);
    joined.push(...rest);
    return { tree: sortBranches(joined), outcome: result.outcome, changed: true };
  }
  return { tree: sortBranches(tree.concat([incoming])), outcome: 'new_branch', changed: true };
}

/**
 * After `merged` grew, other branches may now share a node with it (a path that bridges two
 * stemmed branches). Joins them into `merged`, removing them from `rest`; returns [merged].
 */
function absorbOverlapping(merged: RevBranch, rest: RevBranch[]): RevBranch[] {
  let current = merged;
  for (let again = true; again; ) {
    again = false;
    for (let j = 0; j < rest.length; j++) {
      const joined = mergeIntoBranch(current, rest[j]!);
      if (joined === null) continue;
      current = joined.branch;
      rest.splice(j, 1);
      again = true;
      break;
    }
  }
  return [current];
}

/** Merges `incoming` into one branch if they share the node where the later of the two starts. */
function mergeIntoBranch(
  existing: RevBranch,
  incoming: RevBranch,
): { branch: RevBranch; outcome: MergeOutcome; changed: boolean } | null {
  if (existing.pos <= incoming.pos) {
    const found = graft(existing.node, incoming.pos - existing.pos, incoming.node.hash, (n) =>
      mergeNodes(n, incoming.node),
    );
    if (found === null) return null;
    const branch = found.changed ? { pos: existing.pos, node: found.node } : existing;
    return { branch, outcome: found.outcome, changed: found.changed };
  }
  // The incoming branch starts earlier: the existing root must lie inside it.
  const found = graft(incoming.node, existing.pos - incoming.pos, existing.node.hash, (n) =>
    mergeNodes(existing.node, n),
  );
  if (found === null) return null;
  return { branch: { pos: incoming.pos, node: found.node }, outcome: found.outcome, changed: true };
}

/**
 * Finds the node `depth` levels below `root` whose hash is `hash` and replaces it with
 * `replace(node)`, copying only the nodes on the way down. Null when there is no such node.
 * `changed` is what `replace` said about the merge, not whether `root` was copied.
 */
function graft(root: RevNode, depth: number, hash: string, replace: (node: RevNode) => NodeMerge): NodeMerge | null {
  const path = pathBelow(root, depth, hash);
  if (path === null) return null;
  const found = replace(path.nodes[path.nodes.length - 1]!);
  // replaceAlong compares identities, not `changed`: when the incoming side is the host, the
  // replacement is the existing subtree, which differs from the node it replaces even if the
  // merge changed nothing.
  return { node: replaceAlong(path, found.node), outcome: found.outcome, changed: found.changed };
}

/** One pair of nodes being merged by mergeNodes, with its children's merge so far. */
interface MergeFrame {
  existing: RevNode;
  incoming: RevNode;
  deleted: boolean;
  available: boolean;
  /** The merged children, once they differ from `existing.children`. */
  out: RevNode[] | null;
  /** The next child of `incoming` to merge. */
  next: number;
  /** Where the child being merged below sits in `out ?? existing.children`. */
  at: number;
  outcome: MergeOutcome;
}

/**
 * Merges two nodes with the same generation and hash; `existing` is the tree's, `incoming` the
 * new one. Iterative (an explicit stack of MergeFrames), since both may be thousands deep.
 */
function mergeNodes(existing: RevNode, incoming: RevNode): NodeMerge {
  const stack: MergeFrame[] = [openFrame(existing, incoming)];
  let finished: NodeMerge | null = null;
  for (;;) {
    const f = stack[stack.length - 1]!;
    if (finished !== null) {
      f.outcome = strongerOutcome(f.outcome, finished.outcome);
      if (finished.changed) {
        f.out ??= f.existing.children.slice();
        f.out[f.at] = finished.node;
      }
      finished = null;
    }
    let descended = false;
    const incomingKids = f.incoming.children;
    while (f.next < incomingKids.length) {
      const child = incomingKids[f.next++]!;
      const siblings: RevNode[] = f.out ?? f.existing.children;
      const at = siblings.findIndex((s) => s.hash === child.hash);
      if (at >= 0) {
        f.at = at;
        stack.push(openFrame(siblings[at]!, child));
        descended = true;
        break;
      }
      f.out ??= f.existing.children.slice();
      insertSorted(f.out, child);
      f.outcome = 'new_branch';
    }
    if (descended) continue;
    stack.pop();
    finished = closeFrame(f);
    if (stack.length === 0) return finished;
  }
}

function openFrame(existing: RevNode, incoming: RevNode): MergeFrame {
  // value_pref: a side that has the body knows the real flags. Without a body on either side, a
  // tombstone flag is kept from whichever side had it (a path's inner nodes say deleted: false only
  // because they do not know), so the result does not depend on merge order.
  let { deleted, available } = existing;
  if (incoming.available && !existing.available) {
    deleted = incoming.deleted;
    available = true;
  } else if (!existing.available && !incoming.available && incoming.deleted) {
    deleted = true;
  }
  const f: MergeFrame = { existing, incoming, deleted, available, out: null, next: 0, at: -1, outcome: 'internal_node' };
  // couch_key_tree:merge_extend: when the incoming side ends here it was an internal node (or
  // this leaf): outcome internal_node, nothing to merge below. When the existing side ends here,
  // the incoming side extends a leaf.
  if (incoming.children.length > 0 && existing.children.length === 0) {
    f.out = incoming.children;
    f.next = incoming.children.length;
    f.outcome = 'new_leaf';
  }
  return f;
}

function closeFrame(f: MergeFrame): NodeMerge {
  const { existing, deleted, available } = f;
  const flagsChanged = deleted !== existing.deleted || available !== existing.available;
  if (!flagsChanged && f.out === null) return { node: existing, outcome: f.outcome, changed: false };
  const node: RevNode = { hash: existing.hash, deleted, available, children: f.out ?? existing.children };
  return { node, outcome: f.outcome, changed: true };
}

function insertSorted(siblings: RevNode[], node: RevNode): void {
  let i = 0;
  while (i < siblings.length && siblings[i]!.hash < node.hash) i++;
  siblings.splice(i, 0, node);
}

/** Orders branches by generation then root hash (lists:sort in couch_key_tree). Sorts in place. */
export function sortBranches(branches: RevBranch[]): RevBranch[] {
  if (branches.length > 1) {
    branches.sort((a, b) =>
      a.pos !== b.pos ? a.pos - b.pos : a.node.hash < b.node.hash ? -1 : a.node.hash > b.node.hash ? 1 : 0,
    );
  }
  return branches;
}
