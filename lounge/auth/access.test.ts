import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync } from 'node:crypto';
import { isDbAdmin, isMember, isServerAdmin } from './access.js';
import { verifyAdminPassword, verifyUserDoc } from './password.js';

test('security rules follow CouchDB', () => {
  const bob = { name: 'bob', roles: ['staff'] };
  const admin = { name: 'root', roles: ['_admin'] };
  assert.equal(isMember(bob, {}), true, 'no members: public');
  assert.equal(isMember(bob, { members: { names: ['alice'] } }), false);
  assert.equal(isMember(bob, { members: { roles: ['staff'] } }), true);
  assert.equal(isMember(bob, { members: { names: ['alice'] }, admins: { names: ['bob'] } }), true, 'db admins are members');
  assert.equal(isDbAdmin(bob, { admins: { roles: ['staff'] } }), true);
  assert.equal(isDbAdmin(bob, {}), false);
  assert.equal(isServerAdmin(admin) && isDbAdmin(admin, {}) && isMember(admin, { members: { names: ['x'] } }), true);
});

test('passwords: plain and -pbkdf2- admins, pbkdf2 user docs', () => {
  assert.equal(verifyAdminPassword('secret', 'secret'), true);
  assert.equal(verifyAdminPassword('secreT', 'secret'), false);
  const key = pbkdf2Sync('pw', 'salty', 10, 20, 'sha1').toString('hex');
  assert.equal(verifyAdminPassword('pw', `-pbkdf2-${key},salty,10`), true);
  assert.equal(verifyAdminPassword('px', `-pbkdf2-${key},salty,10`), false);
  const k256 = pbkdf2Sync('pw', 'salt2', 5, 32, 'sha256').toString('hex');
  assert.equal(verifyUserDoc('pw', { password_scheme: 'pbkdf2', pbkdf2_prf: 'sha256', derived_key: k256, salt: 'salt2', iterations: 5 }), true);
  assert.equal(verifyUserDoc('pw', { password_scheme: 'simple', derived_key: k256, salt: 'salt2', iterations: 5 }), false);
});
