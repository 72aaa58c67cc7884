// JWT checks as CouchDB's jwtf and jwtauth_test.exs / jwt_roles_claim_test.exs expect them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { authHandlers, jwtUser, parseRequiredClaims } from './jwt.js';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

function token(header: Record<string, unknown>, claims: Record<string, unknown>, key: string | KeyObject): string {
  const msg = `${b64(header)}.${b64(claims)}`;
  const alg = header.alg as string;
  const hash = 'sha' + alg.slice(2);
  const sig = typeof key === 'string' ? createHmac(hash, key).update(msg).digest() : sign(hash, Buffer.from(msg), alg.startsWith('ES') ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${msg}.${sig.toString('base64url')}`;
}

const SECRET = 'zxczxc12zxczxc12';
const config = (extra: Record<string, string>) => (section: string, key: string) => extra[`${section}/${key}`];
const hmacConfig = { 'jwt_keys/hmac:_default': Buffer.from(SECRET).toString('base64'), 'jwt_auth/allowed_algorithms': 'HS256, HS384, HS512' };
const claims = { sub: 'couch@apache.org', '_couchdb.roles': ['testing'] };

test('HS256/384/512 with a base64 [jwt_keys] hmac key give the sub and _couchdb.roles', () => {
  for (const alg of ['HS256', 'HS384', 'HS512']) {
    assert.deepEqual(jwtUser(token({ alg, typ: 'JWT' }, claims, SECRET), config(hmacConfig)), { name: 'couch@apache.org', roles: ['testing'] });
  }
  assert.throws(() => jwtUser(token({ alg: 'HS256' }, claims, 'other'), config(hmacConfig)), { status: 400, reason: 'Bad HMAC' });
});

test('RS* and ES* verify with a PEM whose newlines are written as \\n', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const pem = (k: KeyObject) => (k.export({ type: 'spki', format: 'pem' }) as string).replace(/\n/g, '\\n');
  const get = config({ 'jwt_keys/rsa:_default': pem(rsa.publicKey), 'jwt_keys/ec:_default': pem(ec.publicKey), 'jwt_auth/allowed_algorithms': 'RS256, RS512, ES256, ES384, ES512' });
  for (const alg of ['RS256', 'RS512']) assert.equal(jwtUser(token({ alg }, claims, rsa.privateKey), get).name, 'couch@apache.org');
  for (const alg of ['ES256', 'ES384', 'ES512']) assert.equal(jwtUser(token({ alg }, claims, ec.privateKey), get).name, 'couch@apache.org');
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  assert.throws(() => jwtUser(token({ alg: 'RS256' }, claims, other.privateKey), get), { reason: 'Bad signature' });
});

test('algorithms outside allowed_algorithms (default HS256), malformed tokens and unknown kids are 400', () => {
  const get = config({ 'jwt_keys/hmac:_default': hmacConfig['jwt_keys/hmac:_default'] });
  assert.equal(jwtUser(token({ alg: 'HS256' }, claims, SECRET), get).name, 'couch@apache.org');
  assert.throws(() => jwtUser(token({ alg: 'HS512' }, claims, SECRET), get), { status: 400, reason: 'Invalid alg header parameter' });
  assert.throws(() => jwtUser('a.b', get), { status: 400, reason: 'Malformed token' });
  assert.throws(() => jwtUser(token({ alg: 'HS256', kid: 'nope' }, claims, SECRET), get), { status: 400 });
});

test('required claims, exp and nbf, a missing sub, and the roles claim path', () => {
  const now = 1_700_000_000;
  const get = config({ ...hmacConfig, 'jwt_auth/required_claims': '{iss, "hello"}, exp' });
  assert.equal(jwtUser(token({ alg: 'HS256' }, { ...claims, iss: 'hello', exp: now + 60 }, SECRET), get, now).name, 'couch@apache.org');
  assert.throws(() => jwtUser(token({ alg: 'HS256' }, { ...claims, iss: 'goodbye', exp: now + 60 }, SECRET), get, now), { status: 400, reason: 'Invalid iss claim' });
  assert.throws(() => jwtUser(token({ alg: 'HS256' }, { ...claims, iss: 'hello' }, SECRET), get, now), { status: 400, reason: 'Missing exp claim' });
  assert.throws(() => jwtUser(token({ alg: 'HS256' }, { ...claims, iss: 'hello', exp: now - 1 }, SECRET), get, now), { status: 401 });
  assert.throws(() => jwtUser(token({ alg: 'HS256' }, { ...claims, nbf: now + 60 }, SECRET), config(hmacConfig), now), { status: 401 });
  assert.throws(() => jwtUser(token({ alg: 'HS256' }, { roles: [] }, SECRET), config(hmacConfig), now), { status: 401 });
  const path = config({ ...hmacConfig, 'jwt_auth/roles_claim_path': 'my\\.ns.roles' });
  assert.deepEqual(jwtUser(token({ alg: 'HS256' }, { sub: 'u', 'my.ns': { roles: ['a', 'b'] } }, SECRET), path).roles, ['a', 'b']);
  assert.deepEqual(parseRequiredClaims('exp, iat'), [{ name: 'exp' }, { name: 'iat' }]);
});

test('handlers: as configured; without the setting JWT once a key exists, proxy never', () => {
  const list = '{chttpd_auth, jwt_authentication_handler}, {chttpd_auth, proxy_authentication_handler}, {chttpd_auth, default_authentication_handler}';
  assert.deepEqual(authHandlers(config({ 'chttpd/authentication_handlers': list }), () => false), { jwt: true, proxy: true });
  assert.deepEqual(authHandlers(config({ 'chttpd/authentication_handlers': '{chttpd_auth, default_authentication_handler}' }), () => true), { jwt: false, proxy: false });
  assert.deepEqual(authHandlers(config({}), () => true), { jwt: true, proxy: false });
  assert.deepEqual(authHandlers(config({}), () => false), { jwt: false, proxy: false });
});
