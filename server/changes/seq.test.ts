// The wire form of update sequences: what `since` values a database reads back, and which it
// refuses with CouchDB 3's 400 (fixture api-couchdb-2.json steps 6-9).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SeqCodec, seqSuffix } from './seq.js';

const NODE = 'a'.repeat(32);
const fresh = new SeqCodec(seqSuffix(NODE, 'b'.repeat(32)), undefined);
const upgraded = new SeqCodec(seqSuffix(NODE, 'c'.repeat(32)), 57);

function malformed(fn: () => unknown): void {
  assert.throws(fn, (e: { status?: number; error?: string; reason?: string }) => {
    assert.equal(e.status, 400);
    assert.equal(e.error, 'bad_request');
    assert.equal(e.reason, "Malformed sequence supplied in 'since' parameter.");
    return true;
  });
}

test('a sequence is "N-<opaque>" with N the integer, and JSON text splices the same string', () => {
  const s = fresh.format(12);
  assert.match(s, /^12-[A-Za-z0-9_-]{8}$/);
  assert.equal(fresh.json(12), JSON.stringify(s));
  assert.equal(fresh.format(13).slice(3), s.slice(3), 'the suffix is fixed per database');
});

test('the suffix names the database instance on this node', () => {
  assert.notEqual(seqSuffix(NODE, 'b'.repeat(32)), seqSuffix(NODE, 'c'.repeat(32)), 'another database');
  assert.notEqual(seqSuffix(NODE, 'b'.repeat(32)), seqSuffix('d'.repeat(32), 'b'.repeat(32)), 'another node');
  assert.equal(seqSuffix(NODE, 'b'.repeat(32)), fresh.suffix, 'stable across restarts');
});

test('since: 0, absent, now, and every sequence the database handed out', () => {
  assert.equal(fresh.parse(undefined, 9), 0);
  assert.equal(fresh.parse('0', 9), 0);
  assert.equal(fresh.parse('"0"', 9), 0);
  assert.equal(fresh.parse('now', 9), 9);
  fc.assert(
    fc.property(fc.nat(), (n) => {
      assert.equal(fresh.parse(fresh.format(n), 0), n);
      assert.equal(fresh.parse(fresh.json(n), 0), n, 'JSON-quoted, as some clients send it');
    }),
  );
});

test("since: another Chaise database's sequence starts over (CouchDB rewinds an unknown epoch)", () => {
  assert.equal(fresh.parse(upgraded.format(40), 0), 0);
});

test('since: a bare integer resumes only where an earlier version could have issued it', () => {
  malformed(() => fresh.parse('1', 5));
  assert.equal(upgraded.parse('1', 80), 1);
  assert.equal(upgraded.parse('57', 80), 57);
  malformed(() => upgraded.parse('58', 80));
});

test('since: anything else is CouchDB 3\'s 400', () => {
  for (const bad of ['garbage', '1-g1AAAABPeJzLYWBgYMxgTmEQTM4vTc5ISXIwNDLXMwBCwxygFFMiQx4Lw38gyMpgTmTMBQqxm5okpqZZGmPTkgUAG1AUsA', '-1', '1.5', '1-', `x-${fresh.suffix}`, '99999999999999999-' + fresh.suffix, 'now-1', 'A'.repeat(2000), '1-AAAAAAAA', '1-AQAAAAAAAAAAAAAA']) {
    malformed(() => fresh.parse(bad, 5));
    malformed(() => upgraded.parse(bad, 5));
  }
});
