import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from './canonical-json.js';
import { newRevHash, type RevHashInput } from './rev-id.js';

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

/** Revisions Apache CouchDB 3.5 made (test/fixtures/api-couchdb*.json, and CouchDB's own suite). */
const COUCHDB_REVS: { what: string; input: RevHashInput; rev: string }[] = [
  { what: 'an empty doc', input: { parentRev: null, deleted: false, body: {}, attachmentDigests: [] }, rev: '967a00dff5e02add41819138abb3284d' },
  { what: 'partition_crud_test "POST and _bulk_get document"', input: { parentRev: null, deleted: false, body: { partitioned_doc: true }, attachmentDigests: [] }, rev: '43d86359741cb629c0953a2beb6e9d7a' },
  { what: 'strings and a list', input: { parentRev: null, deleted: false, body: { title: 'first', tags: ['a'] }, attachmentDigests: [] }, rev: 'f2b59888198e1f69a54e77f17f8b64cc' },
  { what: 'an update', input: { parentRev: '1-f2b59888198e1f69a54e77f17f8b64cc', deleted: false, body: { title: 'second' }, attachmentDigests: [] }, rev: '180e368ef1b52ce71ed0a43dcc76f873' },
  { what: 'an integer', input: { parentRev: null, deleted: false, body: { n: 2 }, attachmentDigests: [] }, rev: '43a36d04d31d38efc5b9245c53e00627' },
  { what: 'members in the order given', input: { parentRev: null, deleted: false, body: { n: 1, g: 'x' }, attachmentDigests: [] }, rev: '2023510f2454876533219b441ad74c3a' },
  {
    what: 'a design doc',
    input: { parentRev: null, deleted: false, body: { options: { partitioned: false }, views: { by_g: { map: 'function(doc){ emit(doc.g, doc.n); }', reduce: '_sum' } } }, attachmentDigests: [] },
    rev: '7f12b608a7c23a815f61aedd803305a8',
  },
  { what: 'a gzipped attachment (its digest is of the stored bytes)', input: { parentRev: null, deleted: false, body: {}, attachmentDigests: [['a.txt', 'text/plain', 'md5-FzOHe/HUCTkjIgYlBK3u7w==']] }, rev: '2d22b7dda2eff6b04047ea8cf663aab4' },
  {
    what: 'an identity attachment',
    input: { parentRev: null, deleted: false, body: {}, attachmentDigests: [['x.bin', 'application/octet-stream', 'md5-aEI7pOYCRBLTRQvvqYrrJQ==']] },
    rev: 'ad8d4590c8d8d2366a13ee91d4a6ff93',
  },
  {
    what: 'an attachment kept as a stub',
    input: { parentRev: '1-5b8d8a614233a30625888c97c32b1778', deleted: false, body: {}, attachmentDigests: [['foo.txt', 'text/plain', 'md5-qUUYqS41RhwF0TrCsTAxFg==']] },
    rev: 'd4916bcc0681dd1f0a92dc4af6a49303',
  },
  {
    what: 'a standalone attachment PUT (the new attachment first, as chttpd_db puts it)',
    input: {
      parentRev: '1-2d22b7dda2eff6b04047ea8cf663aab4',
      deleted: false,
      body: {},
      attachmentDigests: [
        ['b.bin', 'application/octet-stream', 'md5-Uonfc331cyb83SJZevsfrA=='],
        ['a.txt', 'text/plain', 'md5-FzOHe/HUCTkjIgYlBK3u7w=='],
      ],
    },
    rev: '8e90915ec6b731ea41773e84d6205063',
  },
];

for (const { what, input, rev } of COUCHDB_REVS) {
  test(`newRevHash makes CouchDB's revision: ${what}`, () => {
    assert.equal(newRevHash(input), rev);
  });
}

test('newRevHash is md5 of term_to_binary([Deleted, OldStart, OldRev, Body, Atts], [{minor_version, 1}])', () => {
  // Written out by hand: [true, 3, <<16 bytes>>, {[{<<"a">>, -1}, {<<"b">>, 1.5}, {<<"c">>, null}, {<<"d">>, 300}]}, []]
  const parent = 'ab'.repeat(16);
  const etf = Buffer.concat([
    Buffer.from([131, 108, 0, 0, 0, 5]),
    Buffer.from([100, 0, 4, ...Buffer.from('true')]),
    Buffer.from([97, 3]),
    Buffer.from([109, 0, 0, 0, 16]),
    Buffer.from(parent, 'hex'),
    Buffer.from([104, 1, 108, 0, 0, 0, 4]),
    Buffer.from([104, 2, 109, 0, 0, 0, 1, 97, 98, 0xff, 0xff, 0xff, 0xff]),
    Buffer.from([104, 2, 109, 0, 0, 0, 1, 98, 70, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]),
    Buffer.from([104, 2, 109, 0, 0, 0, 1, 99, 100, 0, 4, ...Buffer.from('null')]),
    Buffer.from([104, 2, 109, 0, 0, 0, 1, 100, 98, 0, 0, 1, 44]),
    Buffer.from([106, 106, 106]),
  ]);
  const expected = createHash('md5').update(etf).digest('hex');
  assert.equal(newRevHash({ parentRev: `3-${parent}`, deleted: true, body: { a: -1, b: 1.5, c: null, d: 300 }, attachmentDigests: [] }), expected);
});

test('big integers, unicode and a parent hash that is not hex are encoded as Erlang would', () => {
  const etf = Buffer.concat([
    Buffer.from([131, 108, 0, 0, 0, 5, 100, 0, 5, ...Buffer.from('false'), 97, 2, 109, 0, 0, 0, 3, ...Buffer.from('xyz')]),
    Buffer.from([104, 1, 108, 0, 0, 0, 2]),
    // 2^40 + 1 as SMALL_BIG_EXT: 6 bytes, positive, least significant first
    Buffer.from([104, 2, 109, 0, 0, 0, 1, 110, 110, 6, 0, 1, 0, 0, 0, 0, 1]),
    Buffer.from([104, 2, 109, 0, 0, 0, 1, 115, 109, 0, 0, 0, 2, 0xc3, 0xa9]),
    Buffer.from([106, 106, 106]),
  ]);
  const expected = createHash('md5').update(etf).digest('hex');
  assert.equal(newRevHash({ parentRev: '2-xyz', deleted: false, body: { n: 2 ** 40 + 1, s: 'é' }, attachmentDigests: [] }), expected);
});

test('the same edit gives the same hash; member order and attachment order are part of the edit, as in CouchDB', () => {
  const edit = (body: Record<string, unknown>, atts: [string, string, string][]): string => newRevHash({ parentRev: '1-abc', deleted: false, body, attachmentDigests: atts });
  const x: [string, string, string] = ['x.txt', 'text/plain', 'md5-AAAA'];
  const a: [string, string, string] = ['a.bin', 'application/octet-stream', 'md5-BBBB'];
  assert.equal(edit({ a: 1, b: { c: 2 } }, [x, a]), edit({ a: 1, b: { c: 2 } }, [x, a]));
  assert.notEqual(edit({ a: 1, b: 2 }, []), edit({ b: 2, a: 1 }, []));
  assert.notEqual(edit({}, [x, a]), edit({}, [a, x]));
});

test('parent, deleted flag, body and attachments each change the hash', () => {
  const base = { parentRev: '1-abc', deleted: false, body: { a: 1 }, attachmentDigests: [] as [string, string, string][] };
  const hashes = new Set([
    newRevHash(base),
    newRevHash({ ...base, parentRev: '1-abd' }),
    newRevHash({ ...base, parentRev: null }),
    newRevHash({ ...base, deleted: true }),
    newRevHash({ ...base, body: { a: 2 } }),
    newRevHash({ ...base, body: { a: 1.5 } }),
    newRevHash({ ...base, attachmentDigests: [['f', 'text/plain', 'md5-x']] }),
  ]);
  assert.equal(hashes.size, 7);
});

test('a body larger than the reused buffer hashes the same every time', () => {
  const big = { text: 'x'.repeat(200_000), list: Array.from({ length: 5000 }, (_, i) => ({ i, s: `é${i}` })) };
  const one = newRevHash({ parentRev: null, deleted: false, body: big, attachmentDigests: [] });
  assert.equal(newRevHash({ parentRev: null, deleted: false, body: { n: 2 }, attachmentDigests: [] }), '43a36d04d31d38efc5b9245c53e00627');
  assert.equal(newRevHash({ parentRev: null, deleted: false, body: big, attachmentDigests: [] }), one);
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
