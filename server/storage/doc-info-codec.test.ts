import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { docInfoCodec } from './doc-info-codec.js';
import type { DocInfo } from './records.js';
import type { RevNode } from '../revtree/index.js';

const node: fc.Memo<RevNode> = fc.memo((depth) =>
  fc.record({
    hash: fc.string({ unit: 'binary', maxLength: 40 }),
    deleted: fc.boolean(),
    available: fc.boolean(),
    children: depth > 1 ? fc.array(node(depth - 1), { maxLength: 3 }) : fc.constant([]),
  }),
);

const docInfo: fc.Arbitrary<DocInfo> = fc
  .record({
    tree: fc.array(fc.record({ pos: fc.nat({ max: 2 ** 32 - 1 }), node: node(5) }), { maxLength: 3 }),
    rev: fc.string({ unit: 'binary', maxLength: 50 }),
    deleted: fc.boolean(),
    seq: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    json: fc.json(),
    atts: fc.option(
      fc.dictionary(
        fc.string({ unit: 'binary' }),
        fc.record({ content_type: fc.string(), revpos: fc.nat(), digest: fc.string(), length: fc.nat(), stub: fc.constant(true as const) }),
      ),
      { nil: undefined },
    ),
  })
  .map(({ atts, ...rest }) => (atts === undefined ? rest : { ...rest, atts }));

test('a docs row decodes to exactly what was encoded', () => {
  fc.assert(
    fc.property(docInfo, (info) => {
      // (fast-check's records have no prototype; the JSON round trip makes plain objects of them.)
      assert.deepEqual(docInfoCodec.decode(docInfoCodec.encode(info)), JSON.parse(JSON.stringify(info)));
    }),
    { numRuns: 300 },
  );
});

test('a deep linear history (the default revs_limit of 1000) round-trips', () => {
  let leaf: RevNode = { hash: 'h999', deleted: true, available: true, children: [] };
  for (let i = 998; i >= 0; i--) leaf = { hash: `h${i}`, deleted: false, available: false, children: [leaf] };
  const info: DocInfo = { tree: [{ pos: 1, node: leaf }], rev: '1000-h999', deleted: true, seq: 7, json: '{"é":"\u{1F600}"}' };
  // Compared as text: deepEqual itself recurses too deep for a 1000-level tree.
  assert.equal(JSON.stringify(docInfoCodec.decode(docInfoCodec.encode(info))), JSON.stringify(info));
});

test('a row in an unknown format is refused, not misread', () => {
  assert.throws(() => docInfoCodec.decode(Buffer.from([0x85, 1, 2, 3])), /unknown format/);
});
