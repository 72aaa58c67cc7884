// Replays the revision history of the documents in the CouchDB 3.5 transcript
// (test/fixtures/api-couchdb.json) through the tree, and checks every answer CouchDB derived from
// its tree: winner, _conflicts, _deleted_conflicts, _revs_info, _revisions, latest, revs_diff and
// the `changes` list of `_changes?style=all_docs`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ancestry, findRev, latestLeaves, revsInfo } from './find.js';
import { conflicts, deletedConflicts, leaves } from './leaves.js';
import { merge } from './merge.js';
import { requireRev } from './parse-rev.js';
import { pathFromRev, pathFromRevisions } from './path-from-revisions.js';
import { revsDiff } from './revs-diff.js';
import type { RevTree } from './types.js';
import { winningRev } from './winning-rev.js';

interface Step {
  note: string;
  body?: Record<string, unknown>;
  response: Record<string, unknown> & { results?: Record<string, unknown>[] };
}
const steps: Step[] = JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/api-couchdb.json'), 'utf8')).steps;
const step = (note: string): Step => {
  const found = steps.find((s) => s.note === note);
  assert.ok(found, `fixture step "${note}"`);
  return found;
};
/** CouchDB's default `_revs_limit`. */
const revsLimit = 1000;

test('alpha: create then edit; _revisions and _revs_info as CouchDB answers', () => {
  const first = requireRev(step('create doc with PUT').response.rev);
  const second = requireRev(step('update with rev in body').response.rev);
  let tree: RevTree = [];
  tree = merge(tree, pathFromRev(first, null, false, true), revsLimit).tree;
  const edit = merge(tree, pathFromRev(second, first, false, true), revsLimit);
  assert.equal(edit.outcome, 'new_leaf');
  tree = edit.tree;
  const expected = step('read with revs and revs_info').response;
  assert.equal(winningRev(tree).rev, expected._rev);
  const winner = requireRev(expected._rev);
  assert.deepEqual({ start: winner.pos, ids: ancestry(tree, winner) }, expected._revisions);
  assert.deepEqual(revsInfo(tree, winner), expected._revs_info);
  // "read old rev": the first revision is still there until compaction.
  assert.deepEqual(findRev(tree, first), { deleted: false, available: true, isLeaf: false });
});

test('beta: deleting the only revision leaves a deleted winner that can still be read by rev', () => {
  const first = requireRev(step('create doc with POST').response.rev);
  const tombstone = requireRev(step('delete with rev').response.rev);
  let tree: RevTree = merge([], pathFromRev(first, null, false, true), revsLimit).tree;
  tree = merge(tree, pathFromRev(tombstone, first, true, true), revsLimit).tree;
  assert.deepEqual(winningRev(tree), {
    rev: step('read deleted rev explicitly').response._rev,
    pos: 2,
    hash: tombstone.hash,
    deleted: true,
  });
  assert.deepEqual(findRev(tree, tombstone), { deleted: true, available: true, isLeaf: true });
});

test('conf: replicated branches, an extended loser, a deleted loser', () => {
  // Two replicated writes with only a _rev make two root branches.
  let tree: RevTree = [];
  for (const note of ['replicated write creates a branch', 'second branch']) {
    const rev = requireRev(step(note).body!._rev);
    const result = merge(tree, pathFromRev(rev, null, false, true), revsLimit);
    assert.equal(result.outcome, tree.length === 0 ? 'new_leaf' : 'new_branch');
    tree = result.tree;
  }
  const withConflicts = step('winner with conflicts').response;
  assert.equal(winningRev(tree).rev, withConflicts._rev);
  assert.deepEqual(conflicts(tree), withConflicts._conflicts);

  // new_edits=false with _revisions extends the losing branch, which then wins.
  const doc = (step('extend loser with _revisions via bulk new_edits=false').body!.docs as Record<string, unknown>[])[0]!;
  const extended = merge(tree, pathFromRevisions(doc._revisions as { start: number; ids: string[] }, false, true), revsLimit);
  assert.equal(extended.outcome, 'new_leaf');
  tree = extended.tree;
  const changed = step('winner changed').response;
  assert.equal(winningRev(tree).rev, changed._rev);
  assert.deepEqual(conflicts(tree), changed._conflicts);
  assert.deepEqual(revsInfo(tree, requireRev(changed._rev)), changed._revs_info);

  // latest=true on the inner 1-aaa answers its leaf 2-ccc.
  const latest = latestLeaves(tree, requireRev('1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'));
  assert.deepEqual(
    latest.map((l) => l.rev),
    [step('latest=true on an inner rev').response._rev],
  );

  // Deleting the loser 1-bbb: a normal edit with a tombstone.
  const tombstone = requireRev(step('delete the loser').response.rev);
  const deletion = merge(tree, pathFromRev(tombstone, requireRev('1-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'), true, true), revsLimit);
  assert.equal(deletion.outcome, 'new_leaf');
  tree = deletion.tree;
  const afterDelete = step('deleted_conflicts').response;
  assert.equal(winningRev(tree).rev, afterDelete._rev);
  assert.deepEqual(deletedConflicts(tree), afterDelete._deleted_conflicts);
  assert.equal(afterDelete._conflicts, undefined);
  assert.deepEqual(conflicts(tree), []);

  // _revs_diff against this tree.
  const diffStep = step('revs_diff');
  const diff = revsDiff(tree, diffStep.body!.conf as string[]);
  const expected = diffStep.response.conf as { missing: string[]; possible_ancestors: string[] };
  assert.deepEqual(diff, { missing: expected.missing, possibleAncestors: expected.possible_ancestors });

  // _changes?style=all_docs lists every leaf, winner first.
  const row = step('changes style=all_docs include_docs').response.results!.find((r) => r.id === 'conf')!;
  assert.deepEqual(
    leaves(tree).map((l) => ({ rev: l.rev })),
    row.changes,
  );

  // Replaying the same replicated write again changes nothing.
  const again = merge(tree, pathFromRevisions(doc._revisions as { start: number; ids: string[] }, false, true), revsLimit);
  assert.equal(again.outcome, 'internal_node');
  assert.equal(again.tree, tree);
});
