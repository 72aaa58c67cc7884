import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSince, encodeSince, type SeqEntry } from './since-token.js';

const entries: SeqEntry[] = [
  { range: '80000000-ffffffff', node: 'n2', seq: 7, uuid: '1795321123' },
  { range: '00000000-7fffffff', node: 'n1', seq: '12-g1AAAAB', uuid: 'abcdef01' },
];

test('tokens round-trip and look like CouchDB 2+ sequences', () => {
  const token = encodeSince(entries);
  assert.match(token, /^19-[A-Za-z0-9_-]+$/, 'numeric prefix is the sum of the entries');
  const back = decodeSince(token);
  assert.equal(back.kind, 'vector');
  assert.deepEqual(back.kind === 'vector' ? back.entries : [], [entries[1], entries[0]]);
  assert.equal(encodeSince([...entries].reverse()), token, 'equal vectors give equal tokens');
  assert.deepEqual(decodeSince(JSON.stringify(token)), back, 'JSON-quoted tokens are accepted');
});

test('0, "0", absent and now are understood', () => {
  assert.deepEqual(decodeSince(undefined), { kind: 'zero' });
  assert.deepEqual(decodeSince('0'), { kind: 'zero' });
  assert.deepEqual(decodeSince(0), { kind: 'zero' });
  assert.deepEqual(decodeSince('"0"'), { kind: 'zero' });
  assert.deepEqual(decodeSince('now'), { kind: 'now' });
});

test('malformed tokens are CouchDB 400s', () => {
  for (const bad of ['5', 'abc', '3-!!!', '3-AAAA', '12-' + Buffer.from('{"v":1}').toString('base64url'), {}, true]) {
    assert.throws(() => decodeSince(bad), (e: unknown) => {
      const x = e as { status: number; error: string; reason: string };
      return x.status === 400 && x.error === 'bad_request' && x.reason === "Malformed sequence supplied in 'since' parameter.";
    }, String(bad));
  }
});
