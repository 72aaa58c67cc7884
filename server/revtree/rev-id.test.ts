import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { canonicalJson } from './canonical-json.js';
import { newRevHash } from './rev-id.js';

test('canonicalJson sorts keys at every depth and writes no whitespace', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
  assert.equal(canonicalJson('é"\n'), JSON.stringify('é"\n'));
  assert.equal(canonicalJson([1.5, -0, 1e21, true]), '[1.5,0,1e+21,true]');
});

test('canonicalJson follows JSON.stringify for values JSON cannot hold', () => {
  assert.equal(canonicalJson({ a: undefined, b: () => 1 }), '{}');
  assert.equal(canonicalJson([undefined, Number.NaN, Infinity]), '[null,null,null]');
  assert.equal(canonicalJson(undefined), 'null');
  assert.equal(canonicalJson({ when: new Date(0) }), '{"when":"1970-01-01T00:00:00.000Z"}');
  assert.throws(() => canonicalJson({ n: 1n }), TypeError);
});

test('newRevHash is md5 of the canonical encoding, 32 lowercase hex', () => {
  const input = { parentRev: null, deleted: false, body: { title: 'first', tags: ['a'] }, attachmentDigests: [] };
  const expected = createHash('md5').update('[null,false,{"tags":["a"],"title":"first"},[]]').digest('hex');
  assert.equal(newRevHash(input), expected);
  assert.match(newRevHash(input), /^[0-9a-f]{32}$/);
});

test('the same edit gives the same hash whatever the key or attachment order', () => {
  const one = newRevHash({
    parentRev: '1-abc',
    deleted: false,
    body: { a: 1, b: { c: 2, d: 3 } },
    attachmentDigests: [
      ['x.txt', 'text/plain', 'md5-AAA'],
      ['a.bin', 'application/octet-stream', 'md5-BBB'],
    ],
  });
  const two = newRevHash({
    parentRev: '1-abc',
    deleted: false,
    body: { b: { d: 3, c: 2 }, a: 1 },
    attachmentDigests: [
      ['a.bin', 'application/octet-stream', 'md5-BBB'],
      ['x.txt', 'text/plain', 'md5-AAA'],
    ],
  });
  assert.equal(one, two);
});

test('parent, deleted flag, body and attachments each change the hash', () => {
  const base = { parentRev: '1-abc', deleted: false, body: { a: 1 }, attachmentDigests: [] as [string, string, string][] };
  const hashes = new Set([
    newRevHash(base),
    newRevHash({ ...base, parentRev: '1-abd' }),
    newRevHash({ ...base, parentRev: null }),
    newRevHash({ ...base, deleted: true }),
    newRevHash({ ...base, body: { a: 2 } }),
    newRevHash({ ...base, attachmentDigests: [['f', 'text/plain', 'md5-x']] }),
  ]);
  assert.equal(hashes.size, 6);
});
