// password_regexp as users_db_test.exs "users password requirements" sets it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPassword, parseTerm, PASSWORD_SERVER_ERROR, REQUIREMENT_ERROR } from './password-rules.js';

const RULES = '[{".{10,}"}, {"[A-Z]+", "Requirement 2."}, {"[a-z]+", ""}, {"\\\\d+", "Req 4."}, "[!.,()]+"]';

test('each requirement in turn, with its reason when it has one', () => {
  const bad = (reason: string) => ({ error: 'bad_request', reason });
  assert.deepEqual(checkPassword('funnybone', RULES), bad(REQUIREMENT_ERROR));
  assert.deepEqual(checkPassword('funnnnnybone', RULES), bad(`${REQUIREMENT_ERROR} Requirement 2.`));
  assert.deepEqual(checkPassword('FUNNNNNYBONE', RULES), bad(REQUIREMENT_ERROR));
  assert.deepEqual(checkPassword('funnnnnyBONE', RULES), bad(`${REQUIREMENT_ERROR} Req 4.`));
  assert.deepEqual(checkPassword('funnnnnyB0N3', RULES), bad(REQUIREMENT_ERROR));
  assert.equal(checkPassword('funnnnnyB0N3!', RULES), undefined);
});

test('no rules, and rules that are not a list of requirements', () => {
  for (const none of [undefined, '', '[]']) assert.equal(checkPassword('x', none), undefined);
  for (const broken of ['{{".{10,}"}}', '[{".{10,}"]', '[foo]', '[{".{10,}", "a", "b"}]']) {
    assert.deepEqual(checkPassword('x', broken), { error: 'forbidden', reason: PASSWORD_SERVER_ERROR }, broken);
  }
  assert.deepEqual(parseTerm('[{"a\\"b", "c"}, "d"].'), [{ tuple: ['a"b', 'c'] }, 'd']);
});
