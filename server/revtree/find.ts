// Reading one revision out of a tree: does it exist and is its body stored (GET ?rev=), its
// ancestry (`_revisions`, `_revs_info`), and the leaves that descend from it (`latest=true`).
// A revision is found by generation + hash, so only branches starting at or before its
// generation are searched, and only down to that depth.

import { collectLeaves } from './leaves.js';
import { formatRev } from './parse-rev.js';
import type { FoundRev, Leaf, Rev, RevInfo, RevNode, RevTree } from './types.js';
import { forEachNode, pathBelow } from './walk.js';
import { compareLeaves } from './winning-rev.js';

/** The nodes from the branch root down to `rev` (root first), or null if the tree lacks `rev`. */
function pathTo(tree: RevTree, rev: Rev): RevNode[] | null {
  for (const branch of tree) {
    if (branch.pos > rev.pos) continue;
    const found = pathBelow(branch.node, rev.pos - branch.pos, rev.hash);
    if (found !== null) return found.nodes;
  }
  return null;
}

export function findRev(tree: RevTree, rev: Rev): FoundRev | null {
  const path = pathTo(tree, rev);
  if (path === null) return null;
  const node = path[path.length - 1]!;
  return { deleted: node.deleted, available: node.available, isLeaf: node.children.length === 0 };
}

/**
 * Hashes from `rev` back to its branch root, newest first: `_revisions.ids` (with `start` = rev.pos).
 * At most `limit` entries (`revs_limit`) when given. Empty when the tree lacks `rev`.
 */
export function ancestry(tree: RevTree, rev: Rev, limit?: number): string[] {
  const path = pathTo(tree, rev);
  if (path === null) return [];
  const count = limit === undefined ? path.length : Math.max(0, Math.min(limit, path.length));
  const ids = new Array<string>(count);
  for (let i = 0; i < count; i++) ids[i] = path[path.length - 1 - i]!.hash;
  return ids;
}

/**
 * CouchDB's `_revs_info` for `rev`: the path from `rev` back to its branch root. A revision whose
 * body is not stored is "missing" (CouchDB's ?REV_MISSING wins over the deleted flag), a stored
 * tombstone is "deleted", anything else "available". Empty when the tree lacks `rev`.
 */
export function revsInfo(tree: RevTree, rev: Rev): RevInfo[] {
  const path = pathTo(tree, rev);
  if (path === null) return [];
  const out: RevInfo[] = [];
  for (let i = path.length - 1, pos = rev.pos; i >= 0; i--, pos--) {
    const node = path[i]!;
    const status = !node.available ? 'missing' : node.deleted ? 'deleted' : 'available';
    out.push({ rev: formatRev(pos, node.hash), status });
  }
  return out;
}

/** `latest=true`: the leaves descending from `rev` (itself if it is a leaf), winner first; empty if absent. */
export function latestLeaves(tree: RevTree, rev: Rev): Leaf[] {
  const path = pathTo(tree, rev);
  if (path === null) return [];
  const out: Leaf[] = [];
  collectLeaves(path[path.length - 1]!, rev.pos, out);
  return out.length > 1 ? out.sort(compareLeaves) : out;
}

/** Every revision in the tree as "N-hash", branch by branch, parents before children. */
export function allRevs(tree: RevTree): string[] {
  const out: string[] = [];
  forEachNode(tree, (node, pos) => out.push(formatRev(pos, node.hash)));
  return out;
}
