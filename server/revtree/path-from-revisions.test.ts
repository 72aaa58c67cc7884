import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pathFromRev, pathFromRevisions, validateRevisions } from './path-from-revisions.js';

test('_revisions ids are newest first on the wire; the path runs oldest first', () => {
  // Fixture step "extend loser with _revisions via bulk new_edits=false".
  const path = pathFromRevisions(
    { start: 2, ids: ['cccccccccccccccccccccccccccccccc', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'] },
    false,
    true,
  );
  assert.deepEqual(path, {
    pos: 1,
    hashes: ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'cccccccccccccccccccccccccccccccc'],
    leafDeleted: false,
    leafAvailable: true,
  });
});

test('a stemmed _revisions starts above generation 1', () => {
  assert.deepEqual(pathFromRevisions({ start: 1003, ids: ['c', 'b', 'a'] }, true, true), {
    pos: 1001,
    hashes: ['a', 'b', 'c'],
    leafDeleted: true,
    leafAvailable: true,
  });
});

test('validateRevisions gives CouchDB reasons for malformed values', () => {
  assert.equal(validateRevisions({ start: 2, ids: ['b', 'a'] }), null);
  assert.equal(validateRevisions([1]), 'Bad special document member: _revisions');
  assert.equal(validateRevisions(null), 'Bad special document member: _revisions');
  assert.equal(validateRevisions({ start: true, ids: ['a'] }), "_revisions.start isn't an integer.");
  assert.equal(validateRevisions({ start: '3', ids: ['a'] }), "_revisions.start isn't an integer.");
  assert.equal(validateRevisions({ start: 1.5, ids: ['a'] }), "_revisions.start isn't an integer.");
  assert.equal(validateRevisions({ ids: ['a'] }), "_revisions.start isn't an integer.");
  assert.equal(validateRevisions({ start: 0, ids: 5 }), "_revisions.ids isn't a array.");
  assert.equal(validateRevisions({ start: 3, ids: ['c', 5, 'a'] }), "RevId isn't a string");
  assert.equal(validateRevisions({ start: 3, ids: ['c', null] }), "RevId isn't a string");
  assert.equal(validateRevisions({ start: 3, ids: [] }), '_revisions.ids is empty.');
  assert.equal(validateRevisions({ start: 3, ids: ['c', ''] }), 'RevId is empty.');
  assert.equal(validateRevisions({ start: 1, ids: ['b', 'a'] }), '_revisions.start is smaller than the number of ids.');
  assert.equal(validateRevisions({ start: 0, ids: ['a'] }), '_revisions.start is smaller than the number of ids.');
});

test('pathFromRevisions refuses what validateRevisions refuses', () => {
  assert.throws(() => pathFromRevisions({ start: 1, ids: ['b', 'a'] }, false, true), RangeError);
  assert.throws(() => pathFromRevisions({ start: 1, ids: [] }, false, true), RangeError);
});

test('pathFromRev: a first write is one node, an edit is parent then child', () => {
  assert.deepEqual(pathFromRev({ pos: 1, hash: 'a' }, null, false, true), {
    pos: 1,
    hashes: ['a'],
    leafDeleted: false,
    leafAvailable: true,
  });
  assert.deepEqual(pathFromRev({ pos: 2, hash: 'b' }, { pos: 1, hash: 'a' }, true, true), {
    pos: 1,
    hashes: ['a', 'b'],
    leafDeleted: true,
    leafAvailable: true,
  });
  assert.throws(() => pathFromRev({ pos: 3, hash: 'b' }, { pos: 1, hash: 'a' }, false, true), RangeError);
});
