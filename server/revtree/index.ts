// The revision tree: the pure core of MVCC (no I/O). Other parts use it only through this file.
// See README.md for the representation and the rules.

export type {
  FoundRev,
  Leaf,
  MergeOutcome,
  MergeResult,
  Rev,
  RevBranch,
  RevInfo,
  RevNode,
  RevPath,
  RevTree,
} from './types.js';
export { InvalidRevError, formatRev, parseRev, requireRev } from './parse-rev.js';
export type { Revisions } from './path-from-revisions.js';
export { pathFromRev, pathFromRevisions, validateRevisions } from './path-from-revisions.js';
export { merge } from './merge.js';
export { stem } from './stem.js';
export { compareLeaves, winningRev } from './winning-rev.js';
export { conflicts, deletedConflicts, leaves } from './leaves.js';
export { allRevs, ancestry, findRev, latestLeaves, revsInfo } from './find.js';
export type { RevsDiff } from './revs-diff.js';
export { revsDiff } from './revs-diff.js';
export { canonicalJson } from './canonical-json.js';
export type { RevHashInput } from './rev-id.js';
export { newRevHash } from './rev-id.js';
export { markCompacted } from './compact.js';
export { foldUp, forEachNode } from './walk.js';
