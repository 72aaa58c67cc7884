// The console's field-level merge (merge.ts), checked without a browser: taking every field from
// one version gives that version back (its content, without revision bookkeeping), `differs`
// marks exactly the fields whose values are not all equal, and key order never makes equal
// values differ. Compiled by the root tsconfig (merge.ts uses no DOM) and run by `npm test`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ABSENT, canonical, fieldRows, initialChoice, merged, type Doc } from './merge.js';

const content = fc.dictionary(
  fc.constantFrom('name', 'city', 'n', 'tags', 'nested', '_id', '_rev', '_attachments'),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 6 },
) as fc.Arbitrary<Doc>;

const META = new Set(['_id', '_rev', '_attachments']);
const body = (d: Doc) => Object.fromEntries(Object.entries(d).filter(([k]) => !META.has(k)));

test('taking every field from one version gives that version back', () => {
  fc.assert(
    fc.property(fc.array(content, { minLength: 1, maxLength: 4 }), fc.nat(), (versions, pick) => {
      const i = pick % versions.length;
      const rows = fieldRows(versions);
      assert.equal(canonical(merged(rows, initialChoice(rows, i))), canonical(body(versions[i] as Doc)));
    }),
  );
});

test('differs marks exactly the fields whose values are not all equal', () => {
  fc.assert(
    fc.property(fc.array(content, { minLength: 1, maxLength: 4 }), (versions) => {
      for (const r of fieldRows(versions)) {
        const seen = new Set(r.values.map((v) => (v === ABSENT ? 'absent' : canonical(v))));
        assert.equal(r.differs, seen.size > 1, r.key);
      }
    }),
  );
});

test('key order does not make equal objects differ; a field-by-field merge takes each chosen value', () => {
  const a = { _id: 'x', _rev: '1-a', name: 'Ada', addr: { city: 'Paris', zip: '75' } };
  const b = { _id: 'x', _rev: '1-b', addr: { zip: '75', city: 'Paris' }, name: 'Ada Lovelace', phone: '1' };
  const rows = fieldRows([a, b]);
  assert.deepEqual(
    rows.map((r) => [r.key, r.differs]),
    [
      ['name', true],
      ['addr', false],
      ['phone', true],
    ],
  );
  assert.deepEqual(merged(rows, { name: 1, addr: 0, phone: 0 }), { name: 'Ada Lovelace', addr: { city: 'Paris', zip: '75' } });
});
