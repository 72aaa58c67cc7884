// `_revs_diff`: the replicator asks which of the source's revisions the target lacks, and for each
// doc the target also names "possible ancestors" so the source can send only the missing part of
// the history (`atts_since`). Rule from CouchDB's couch_db:get_missing_revs and possible_ancestors:
// missing = requested revs not in the tree; possible ancestors = the tree's leaves, winner first,
// whose generation is below the highest missing generation (none when nothing is missing).

import { findRev } from './find.js';
import { leaves } from './leaves.js';
import { requireRev } from './parse-rev.js';
import type { Rev, RevTree } from './types.js';

export interface RevsDiff {
  missing: string[];
  possibleAncestors: string[];
}

/**
 * Pass `[]` as the tree for a document that does not exist: then every rev is missing.
 * Duplicate revs are reported once, in the order first given. Throws InvalidRevError (400
 * bad_request "Invalid rev format") for a malformed rev, as CouchDB does.
 */
export function revsDiff(tree: RevTree, revs: string[]): RevsDiff {
  const missing: string[] = [];
  const seen = new Set<string>();
  let maxMissingPos = 0;
  for (const text of revs) {
    const rev: Rev = requireRev(text);
    if (seen.has(text)) continue;
    seen.add(text);
    if (findRev(tree, rev) !== null) continue;
    missing.push(text);
    if (rev.pos > maxMissingPos) maxMissingPos = rev.pos;
  }
  if (missing.length === 0) return { missing, possibleAncestors: [] };
  const possibleAncestors = leaves(tree)
    .filter((leaf) => leaf.pos < maxMissingPos)
    .map((leaf) => leaf.rev);
  return { missing, possibleAncestors };
}
