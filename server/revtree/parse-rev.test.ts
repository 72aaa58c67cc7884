import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidRevError, formatRev, parseRev, requireRev } from './parse-rev.js';

test('parses N-hash as CouchDB writes it', () => {
  assert.deepEqual(parseRev('1-f2b59888198e1f69a54e77f17f8b64cc'), { pos: 1, hash: 'f2b59888198e1f69a54e77f17f8b64cc' });
  assert.deepEqual(parseRev('1000-abc'), { pos: 1000, hash: 'abc' });
});

test('the hash is opaque: anything non-empty after the first dash', () => {
  assert.deepEqual(parseRev('2-a-b'), { pos: 2, hash: 'a-b' });
  assert.deepEqual(parseRev('3-XYZ not hex'), { pos: 3, hash: 'XYZ not hex' });
});

test('rejects what is not a rev', () => {
  for (const bad of ['', 'foobar', '-abc', '1-', '0-abc', '01-abc', '+1-abc', '-1-abc', '1.5-abc', 'a-b', ' 1-abc', '1e3-abc', '1234567890123456-abc']) {
    assert.equal(parseRev(bad), null, bad);
  }
  assert.equal(parseRev(5 as unknown as string), null);
});

test('requireRev throws the 400 CouchDB answers', () => {
  assert.deepEqual(requireRev('7-x'), { pos: 7, hash: 'x' });
  assert.throws(
    () => requireRev('foo-bar'),
    (err: unknown) =>
      err instanceof InvalidRevError && err.status === 400 && err.error === 'bad_request' && err.reason === 'Invalid rev format',
  );
  assert.throws(() => requireRev(5), InvalidRevError);
});

test('formatRev is the inverse of parseRev', () => {
  assert.equal(formatRev(2, '180e368ef1b52ce71ed0a43dcc76f873'), '2-180e368ef1b52ce71ed0a43dcc76f873');
  const rev = parseRev('12-a-b')!;
  assert.equal(formatRev(rev.pos, rev.hash), '12-a-b');
});
