// The shapes of a document's revision tree. See README.md in this folder for the rules.
//
// A revision is "N-hash": N is its generation (depth from the original root), hash is opaque
// (32 lowercase hex chars when we make it). Because old revisions are stemmed away, a tree is a
// forest: each branch starts at some generation `pos` and holds a node whose children extend it.

export interface RevNode {
  hash: string;
  /** This revision is a tombstone (`_deleted: true`). */
  deleted: boolean;
  /** The body of this revision is stored (false for ids known only from a `_revisions` path, or compacted away). */
  available: boolean;
  children: RevNode[];
}

export interface RevBranch {
  /** Generation of `node`. */
  pos: number;
  node: RevNode;
}

export type RevTree = RevBranch[];

/** A parsed revision id. */
export interface Rev {
  pos: number;
  hash: string;
}

/** A linear history to merge: `hashes` runs from the oldest (generation `pos`) to the newest (the leaf). */
export interface RevPath {
  pos: number;
  hashes: string[];
  /** Flags of the leaf (the last hash). Inner nodes of a path are `available: false, deleted: false` unless the tree already knows them. */
  leafDeleted: boolean;
  leafAvailable: boolean;
}

/** What a merge did, after couch_key_tree's merge outcome. */
export type MergeOutcome = 'new_leaf' | 'new_branch' | 'internal_node';

export interface Leaf {
  rev: string;
  pos: number;
  hash: string;
  deleted: boolean;
}

// ---- Added with the implementation (the shapes above are fixed; these only extend them). ----

/** What `merge` returns. `changed` is false exactly when `tree` is the input tree, untouched. */
export interface MergeResult {
  tree: RevTree;
  outcome: MergeOutcome;
  changed: boolean;
}

/** A revision's flags as the tree knows them. */
export interface FoundRev {
  deleted: boolean;
  available: boolean;
  isLeaf: boolean;
}

/** One entry of CouchDB's `_revs_info`. */
export interface RevInfo {
  rev: string;
  status: 'available' | 'missing' | 'deleted';
}
