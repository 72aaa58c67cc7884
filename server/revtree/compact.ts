// Compaction keeps the bodies of leaves only (CouchDB's compactor replaces every inner node's value
// with ?REV_MISSING). The tree records that by marking every non-leaf node `available: false`, so
// `_revs_info` says "missing" and GET ?rev= of an old revision answers 404 after `_compact`.
// Pure and copy-on-write: the input tree is returned itself when no node changes.

import type { RevNode, RevTree } from './types.js';

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

function compactNode(node: RevNode): RevNode {
  const kids = node.children;
  if (kids.length === 0) return node;
  let out: RevNode[] | null = null;
  for (let i = 0; i < kids.length; i++) {
    const kid = compactNode(kids[i]!);
    if (kid !== kids[i]) {
      out ??= kids.slice();
      out[i] = kid;
    }
  }
  if (!node.available && out === null) return node;
  return { hash: node.hash, deleted: node.deleted, available: false, children: out ?? kids };
}
