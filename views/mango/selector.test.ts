// Mango selector semantics, with expectations taken from CouchDB's documented
// behaviour (docs/src/api/database/find.rst) and mango_selector.erl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchSelector, normalizeSelector, validateSelector, compileSelector } from './selector.js';

const doc = {
  _id: 'doc1',
  name: 'Paul',
  age: 42,
  tags: ['a', 'b', 'c'],
  scores: [80, 85, 90],
  address: { city: 'Berlin', zip: '10115', geo: [52.5, 13.4] },
  nested: [{ x: 1 }, { x: 5 }],
  map: { k1: 1, other: 2 },
  nil: null,
  'dotted.key': 'yes',
};

const cases: [string, unknown, boolean][] = [
  ['empty selector matches everything', {}, true],
  ['implicit $eq', { name: 'Paul' }, true],
  ['implicit $eq miss', { name: 'paul' }, false],
  ['implicit $and', { name: 'Paul', age: 42 }, true],
  ['implicit $and miss', { name: 'Paul', age: 41 }, false],
  ['dotted path', { 'address.city': 'Berlin' }, true],
  ['nested object = dotted path', { address: { city: 'Berlin' } }, true],
  ['array index in path', { 'tags.1': 'b' }, true],
  ['array index out of range', { 'tags.9': 'b' }, false],
  ['escaped dot is part of the key', { 'dotted\\.key': 'yes' }, true],
  ['$gt', { age: { $gt: 41 } }, true],
  ['$gte equal', { age: { $gte: 42 } }, true],
  ['$lt', { age: { $lt: 42 } }, false],
  ['$lte', { age: { $lte: 42 } }, true],
  ['$ne', { age: { $ne: 1 } }, true],
  ['$ne on missing field does not match', { missing: { $ne: 1 } }, false],
  ['collation: number < string', { age: { $lt: '' } }, true],
  ['collation: ICU case order a < B', { name: { $gt: 'paul' } }, true],
  ['$eq null', { nil: null }, true],
  ['$exists true', { nil: { $exists: true } }, true],
  ['$exists false on missing', { missing: { $exists: false } }, true],
  ['$exists false on present', { name: { $exists: false } }, false],
  ['$type string', { name: { $type: 'string' } }, true],
  ['$type null', { nil: { $type: 'null' } }, true],
  ['$type array', { tags: { $type: 'array' } }, true],
  ['$type object', { address: { $type: 'object' } }, true],
  ['$in scalar', { age: { $in: [1, 42] } }, true],
  ['$in array field matches any element', { tags: { $in: ['z', 'c'] } }, true],
  ['$nin', { age: { $nin: [1, 2] } }, true],
  ['$nin array field', { tags: { $nin: ['a'] } }, false],
  ['$size', { tags: { $size: 3 } }, true],
  ['$size miss', { tags: { $size: 2 } }, false],
  ['$mod', { age: { $mod: [5, 2] } }, true],
  ['$mod on non-integer is false', { name: { $mod: [5, 2] } }, false],
  ['$regex', { name: { $regex: '^P' } }, true],
  ['$regex on non-string', { age: { $regex: '4' } }, false],
  ['$all', { tags: { $all: ['c', 'a'] } }, true],
  ['$all miss', { tags: { $all: ['a', 'z'] } }, false],
  ['$all with the whole array', { tags: { $all: [['a', 'b', 'c']] } }, true],
  ['$all empty is false', { tags: { $all: [] } }, false],
  ['$elemMatch', { scores: { $elemMatch: { $gte: 82, $lt: 86 } } }, true],
  ['$elemMatch miss', { scores: { $elemMatch: { $gt: 90 } } }, false],
  ['$elemMatch on sub-objects', { nested: { $elemMatch: { x: 5 } } }, true],
  ['$allMatch', { scores: { $allMatch: { $gte: 80 } } }, true],
  ['$allMatch miss', { scores: { $allMatch: { $gt: 80 } } }, false],
  ['$allMatch on empty array is false', { empty: { $allMatch: { $gt: 0 } } }, false],
  ['$keyMapMatch', { map: { $keyMapMatch: { $eq: 'k1' } } }, true],
  ['$keyMapMatch miss', { map: { $keyMapMatch: { $eq: 'zz' } } }, false],
  ['$and', { $and: [{ age: 42 }, { name: 'Paul' }] }, true],
  ['$and empty is true', { $and: [] }, true],
  ['$or', { $or: [{ age: 1 }, { name: 'Paul' }] }, true],
  ['$or miss', { $or: [{ age: 1 }, { name: 'X' }] }, false],
  ['$or empty is true', { $or: [] }, true],
  ['$nor', { $nor: [{ age: 1 }, { name: 'X' }] }, true],
  ['$nor miss', { $nor: [{ age: 42 }] }, false],
  ['$not', { $not: { age: 1 } }, true],
  ['$not on a field', { age: { $not: { $gt: 50 } } }, true],
  ['$not of missing field does not match ($not becomes $ne)', { $not: { missing: 1 } }, false],
  ['$not of $regex', { name: { $not: { $regex: '^X' } } }, true],
  ['_id compares raw: "B" < "a"', { _id: { $gt: 'B' } }, true],
  ['$beginsWith', { name: { $beginsWith: 'Pa' } }, true],
];

for (const [name, selector, expected] of cases) {
  test(`match: ${name}`, () => {
    assert.equal(matchSelector(selector, doc), expected);
  });
}

test('ICU: $gt uses view collation for non-_id fields ("B" > "a")', () => {
  assert.equal(matchSelector({ v: { $gt: 'a' } }, { v: 'B' }), true);
  assert.equal(matchSelector({ _id: { $gt: 'a' } }, { _id: 'B' }), false);
});

test('normal form pushes fields down and negations to the leaves', () => {
  assert.deepEqual(normalizeSelector({ foo: { $and: [{ $gt: 5 }, { $lt: 10 }] } }), {
    $and: [{ foo: { $gt: 5 } }, { foo: { $lt: 10 } }],
  });
  assert.deepEqual(normalizeSelector({ foo: { bar: { $gt: 10 } } }), { 'foo.bar': { $gt: 10 } });
  assert.deepEqual(normalizeSelector({ $not: { $and: [{ foo: { $gt: 10 } }, { foo: { $lt: 5 } }] } }), {
    $or: [{ foo: { $lte: 10 } }, { foo: { $gte: 5 } }],
  });
});

function throwsCouch(fn: () => unknown, status: number, error: string, reason?: string): void {
  assert.throws(fn, (e: unknown) => {
    const err = e as { status: number; error: string; reason: string };
    assert.equal(err.status, status);
    assert.equal(err.error, error);
    if (reason !== undefined) assert.equal(err.reason, reason);
    return true;
  });
}

test('malformed selectors throw CouchDB-shaped 400 errors', () => {
  throwsCouch(() => validateSelector({ a: { $in: 1 } }), 400, 'bad_arg', 'Bad argument for operator $in: 1');
  throwsCouch(() => validateSelector({ a: { $exists: 'yes' } }), 400, 'bad_arg', 'Bad argument for operator $exists: <<"yes">>');
  throwsCouch(() => validateSelector({ $and: { a: 1 } }), 400, 'bad_arg', 'Bad argument for operator $and: {[{<<"a">>,1}]}');
  throwsCouch(() => validateSelector({ a: { $size: -1 } }), 400, 'bad_arg');
  throwsCouch(() => validateSelector({ a: { $mod: [0, 1] } }), 400, 'bad_arg');
  throwsCouch(() => validateSelector({ a: { $regex: '(' } }), 400, 'bad_arg');
  throwsCouch(() => validateSelector({ a: { $foo: 1 } }), 400, 'invalid_operator', 'Invalid operator: $foo');
  throwsCouch(() => validateSelector({ a: { $where: 'x' } }), 400, 'not_supported', 'Unsupported operator: $where');
  throwsCouch(() => validateSelector({ $gt: 5 }), 400, 'invalid_selector', 'One or more conditions is missing a field name.');
  throwsCouch(() => validateSelector([1]), 400, 'invalid_selector_json', 'Selector must be a JSON object, not: [1]');
  throwsCouch(() => matchSelector({ 'a..b': 1 }, doc), 400, 'invalid_field_name');
});

test('compileSelector returns a reusable matcher', () => {
  const m = compileSelector({ age: { $gte: 18 } });
  assert.equal(m({ age: 18 }), true);
  assert.equal(m({ age: 17 }), false);
  assert.equal(m({}), false);
});
