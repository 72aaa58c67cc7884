import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
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

/** The definition, written the slow and obvious way, to check canonicalJson's fast path against. */
function sortedJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(sortedJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

test('canonicalJson equals the sorted-keys definition for any JSON document', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const parsed: unknown = JSON.parse(JSON.stringify(value));
      assert.equal(canonicalJson(parsed), sortedJson(parsed));
    }),
    { numRuns: 500 },
  );
});

test('canonicalJson handles keys that a key-list serializer would get wrong', () => {
  // An own "__proto__" key (JSON.parse makes one), integer-like keys, and an inherited name.
  const parsed: unknown = JSON.parse('{"b":{"__proto__":{"x":1},"10":1,"9":2},"a":[{"constructor":3},{}],"toString":"s"}');
  assert.equal(canonicalJson(parsed), '{"a":[{"constructor":3},{}],"b":{"10":1,"9":2,"__proto__":{"x":1}},"toString":"s"}');
  // Many objects with many distinct keys take the walk; the answer is the same.
  const wide = Array.from({ length: 200 }, (_, i) => ({ [`k${199 - i}`]: i, [`j${i}`]: { z: i, a: -i } }));
  assert.equal(canonicalJson(wide), sortedJson(wide));
});
