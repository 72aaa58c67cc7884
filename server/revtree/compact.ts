// Compaction keeps the bodies of leaves only (CouchDB's compactor replaces every inner node's value
// with ?REV_MISSING). The tree records that by marking every non-leaf node `available: false`, so
// `_revs_info` says "missing" and GET ?rev= of an old revision answers 404 after `_compact`.
// Pure and copy-on-write: the input tree is returned itself when no node changes.

import type { RevNode, RevTree } from './types.js';
import { foldUp } from './walk.js';

export function markCompacted(tree: RevTree): RevTree {
  let out: RevTree | null = null;
  for (let i = 0; i < tree.length; i++) {
    const branch = tree[i]!;
    const node = compactNode(branch.node);
    if (node !== branch.node) {
      out ??= tree.slice();
      out[i] = { pos: branch.pos, node };
    }
  }
  return out ?? tree;
}

function compactNode(root: RevNode): RevNode {
  return foldUp<RevNode>(root, 0, (node, _pos, kept, from) => {
    const kids = node.children;
    if (kids.length === 0) return node;
    let same = true;
    for (let i = 0; i < kids.length; i++) if (kept[from + i] !== kids[i]) same = false;
    if (!node.available && same) return node;
    return { hash: node.hash, deleted: node.deleted, available: false, children: same ? kids : kept.slice(from, from + kids.length) };
  });
}
