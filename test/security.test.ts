// Who may do what, table-driven: every protected endpoint × {anonymous, wrong password,
// non-member user, member, db admin, server admin}, with the status CouchDB 3 answers
// (anonymous → 401 "You are not authorized to access this db.", a known user without the
// right → 403 "You are not allowed to access this db.", wrong password → 401).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { inProcessNode, type TestNode } from './helpers/in-process-node.js';

type Role = 'anonymous' | 'wrongPassword' | 'outsider' | 'member' | 'dbAdmin' | 'serverAdmin';
const ROLES: Role[] = ['anonymous', 'wrongPassword', 'outsider', 'member', 'dbAdmin', 'serverAdmin'];
const AUTH: Record<Role, [string, string] | undefined> = {
  anonymous: undefined,
  wrongPassword: ['mem', 'nope'],
  outsider: ['out', 'pw-out'],
  member: ['mem', 'pw-mem'],
  dbAdmin: ['dba', 'pw-dba'],
  serverAdmin: ['adm', 'pw'],
};

const READ = { anonymous: 401, wrongPassword: 401, outsider: 403, member: 200, dbAdmin: 200, serverAdmin: 200 };
const WRITE = { anonymous: 401, wrongPassword: 401, outsider: 403, member: 201, dbAdmin: 201, serverAdmin: 201 };
const DB_ADMIN = { anonymous: 401, wrongPassword: 401, outsider: 403, member: 403, dbAdmin: 200, serverAdmin: 200 };
const DB_ADMIN_WRITE = { ...DB_ADMIN, dbAdmin: 201, serverAdmin: 201 };
// couch_httpd:verify_is_server_admin throws `unauthorized` whoever asks.
const SERVER_ADMIN = { anonymous: 401, wrongPassword: 401, outsider: 401, member: 401, dbAdmin: 401, serverAdmin: 200 };

interface Case {
  name: string;
  method: 'get' | 'put' | 'post' | 'delete';
  path: (role: Role) => string;
  body?: (role: Role) => unknown;
  expect: Record<Role, number>;
}

const fixed = (p: string) => () => p;
const CASES: Case[] = [
  { name: 'db info', method: 'get', path: fixed('/secure'), expect: READ },
  { name: 'read a doc', method: 'get', path: fixed('/secure/d1'), expect: READ },
  { name: 'read an attachment', method: 'get', path: fixed('/secure/d1/a.txt'), expect: READ },
  { name: '_all_docs', method: 'get', path: fixed('/secure/_all_docs'), expect: READ },
  { name: '_all_docs POST', method: 'post', path: fixed('/secure/_all_docs'), body: () => ({ keys: ['d1'] }), expect: READ },
  { name: '_changes', method: 'get', path: fixed('/secure/_changes'), expect: READ },
  { name: '_changes POST doc_ids', method: 'post', path: fixed('/secure/_changes?filter=_doc_ids'), body: () => ({ doc_ids: ['d1'] }), expect: READ },
  { name: '_bulk_get', method: 'post', path: fixed('/secure/_bulk_get'), body: () => ({ docs: [{ id: 'd1' }] }), expect: READ },
  { name: '_revs_diff', method: 'post', path: fixed('/secure/_revs_diff'), body: () => ({ d1: ['1-abc'] }), expect: READ },
  { name: 'read a _local doc', method: 'get', path: fixed('/secure/_local/l1'), expect: READ },
  { name: 'read _security', method: 'get', path: fixed('/secure/_security'), expect: READ },
  { name: 'write a doc', method: 'put', path: (r) => `/secure/new-${r}`, body: () => ({ v: 1 }), expect: WRITE },
  { name: 'POST a doc', method: 'post', path: fixed('/secure'), body: () => ({ v: 2 }), expect: WRITE },
  { name: '_bulk_docs', method: 'post', path: fixed('/secure/_bulk_docs'), body: (r) => ({ docs: [{ _id: `bulk-${r}` }] }), expect: WRITE },
  { name: 'write a _local doc', method: 'put', path: (r) => `/secure/_local/l-${r}`, body: () => ({ v: 1 }), expect: WRITE },
  { name: 'write an attachment', method: 'put', path: (r) => `/secure/att-${r}/x.bin`, body: () => Buffer.from([1, 2, 3]), expect: WRITE },
  { name: 'write a design doc', method: 'put', path: (r) => `/secure/_design/d-${r}`, body: () => ({ views: {} }), expect: DB_ADMIN_WRITE },
  { name: 'write _security', method: 'put', path: fixed('/secure/_security'), body: () => SECURITY, expect: DB_ADMIN },
  { name: 'set _revs_limit', method: 'put', path: fixed('/secure/_revs_limit'), body: () => 1000, expect: DB_ADMIN },
  { name: 'create a database', method: 'put', path: (r) => `/made-by-${r.toLowerCase()}`, expect: { ...SERVER_ADMIN, serverAdmin: 201 } },
  { name: '_all_dbs', method: 'get', path: fixed('/_all_dbs'), expect: SERVER_ADMIN },
  // `_users` is admin-only through its `_security` members, so the member rule answers (403 when signed in).
  { name: 'read _users', method: 'get', path: fixed('/_users/_all_docs'), expect: { ...READ, member: 403, dbAdmin: 403 } },
];

const SECURITY = { admins: { names: ['dba'], roles: [] }, members: { names: ['mem'], roles: [] } };

let t: TestNode;

before(async () => {
  t = await inProcessNode({ admins: [{ name: 'adm', password: 'pw' }], auth: { iterations: 1000 } });
  const adm = (req: import('supertest').Test) => req.auth('adm', 'pw').set('content-type', 'application/json');
  // The table sends one wrong password per endpoint; CouchDB 3.5's lockout (on by default) would
  // turn the sixth into a 403, which elixir-a-h.test.ts checks on its own.
  await adm(t.request.put('/_node/_local/_config/chttpd_auth_lockout/mode')).send('"off"').expect(200);
  for (const [name, password] of [['mem', 'pw-mem'], ['dba', 'pw-dba'], ['out', 'pw-out']]) {
    await adm(t.request.put(`/_users/org.couchdb.user:${name}`)).send({ name, password, type: 'user', roles: [] }).expect(201);
  }
  await adm(t.request.put('/secure')).expect(201);
  await adm(t.request.put('/secure/_security')).send(SECURITY).expect(200);
  await adm(t.request.put('/secure/d1')).send({ _attachments: { 'a.txt': { content_type: 'text/plain', data: Buffer.from('hi').toString('base64') } } }).expect(201);
  await adm(t.request.put('/secure/_local/l1')).send({ x: 1 }).expect(201);
});

after(() => t.close());

for (const c of CASES) {
  test(`access: ${c.name}`, async () => {
    const got: Record<string, number> = {};
    for (const role of ROLES) {
      let req = t.request[c.method](c.path(role));
      const auth = AUTH[role];
      if (auth) req = req.auth(auth[0], auth[1]);
      const body = c.body?.(role);
      if (Buffer.isBuffer(body)) req = req.set('content-type', 'application/octet-stream').send(body);
      else if (body !== undefined) req = req.set('content-type', 'application/json').send(JSON.stringify(body));
      const res = await req;
      got[role] = res.status;
      if (res.status === 401 && role === 'anonymous' && c.expect === READ) {
        assert.deepEqual(res.body, { error: 'unauthorized', reason: 'You are not authorized to access this db.' });
      }
      if (res.status === 403 && role === 'outsider' && c.expect === READ) {
        assert.deepEqual(res.body, { error: 'forbidden', reason: 'You are not allowed to access this db.' });
      }
      if (role === 'wrongPassword') assert.equal(res.body.reason, 'Name or password is incorrect.');
    }
    assert.deepEqual(got, c.expect);
  });
}

test('a new database is admin-only until its _security says otherwise (CouchDB 3)', async () => {
  await t.request.put('/fresh').auth('adm', 'pw').expect(201);
  const sec = await t.request.get('/fresh/_security').auth('adm', 'pw').expect(200);
  assert.deepEqual(sec.body, { members: { roles: ['_admin'] }, admins: { roles: ['_admin'] } });
  await t.request.get('/fresh').auth('mem', 'pw-mem').expect(403);
  await t.request.get('/fresh').expect(401);
});

test('users read and update only their own user doc, never their roles', async () => {
  await t.request.get('/_users/org.couchdb.user:mem').auth('mem', 'pw-mem').expect(200);
  await t.request.get('/_users/org.couchdb.user:dba').auth('mem', 'pw-mem').expect(403);
  const own = await t.request.get('/_users/org.couchdb.user:out').auth('out', 'pw-out').expect(200);
  assert.equal(own.body.password, undefined, 'the clear password is never stored');
  assert.equal(typeof own.body.derived_key, 'string');
  const promote = await t.request
    .put('/_users/org.couchdb.user:out')
    .auth('out', 'pw-out')
    .set('content-type', 'application/json')
    .send({ ...own.body, roles: ['boss'] });
  assert.equal(promote.status, 403);
  const change = await t.request
    .put('/_users/org.couchdb.user:out')
    .auth('out', 'pw-out')
    .set('content-type', 'application/json')
    .send({ ...own.body, password: 'new-pw' });
  assert.equal(change.status, 201);
  await t.request.get('/_session').auth('out', 'pw-out').expect(401);
  const ses = await t.request.get('/_session').auth('out', 'new-pw').expect(200);
  assert.deepEqual(ses.body.userCtx, { name: 'out', roles: [] });
});

test('public sign-up is off by default', async () => {
  const res = await t.request.put('/_users/org.couchdb.user:eve').set('content-type', 'application/json').send({ name: 'eve', password: 'x', type: 'user', roles: [] });
  assert.equal(res.status, 401);
});

test('cookie sessions: POST /_session, then the cookie authenticates; DELETE ends it', async () => {
  const bad = await t.request.post('/_session').set('content-type', 'application/json').send({ name: 'mem', password: 'wrong' });
  assert.equal(bad.status, 401);
  assert.deepEqual(bad.body, { error: 'unauthorized', reason: 'Name or password is incorrect.' });
  const login = await t.request.post('/_session').type('form').send({ name: 'mem', password: 'pw-mem' }).expect(200);
  assert.deepEqual(login.body, { ok: true, name: 'mem', roles: [] });
  const setCookie = String(login.headers['set-cookie']);
  // CouchDB's attributes (couch_httpd_auth:cookie_attributes through mochiweb): the lifetime is what keeps clients like nano logged in.
  assert.match(setCookie, /^AuthSession=[^;]+; Version=1; Expires=\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT; Max-Age=600; Path=\/; HttpOnly$/);
  const cookie = setCookie.split(';')[0] as string;
  const s = await t.request.get('/_session').set('cookie', cookie).expect(200);
  assert.deepEqual(s.body.userCtx, { name: 'mem', roles: [] });
  assert.equal(s.body.info.authenticated, 'cookie');
  await t.request.get('/secure/d1').set('cookie', cookie).expect(200);
  await t.request.get('/secure/d1').set('cookie', 'AuthSession=' + Buffer.from('mem:FFFFFFFF:forged').toString('base64url')).expect(401);
  const out = await t.request.delete('/_session').set('cookie', cookie).expect(200);
  assert.match(String(out.headers['set-cookie']), /AuthSession=;/);
});

// ---- JWT, proxy authentication and [chttpd_auth] authentication_db (jwtauth_test.exs, proxyauth_test.exs) ----

const setConfig = (section: string, key: string, value: string) =>
  t.request.put(`/_node/_local/_config/${section}/${key}`).auth('adm', 'pw').set('X-Couch-Persist', 'false').set('content-type', 'application/json').send(JSON.stringify(value)).expect(200);
const unsetConfig = (section: string, key: string) => t.request.delete(`/_node/_local/_config/${section}/${key}`).auth('adm', 'pw').set('X-Couch-Persist', 'false');

test('JWT: a bearer token signed with a [jwt_keys] key authenticates its sub with its roles', async () => {
  const { createHmac } = await import('node:crypto');
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const msg = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ nbf: now - 60, exp: now + 60, sub: 'couch@apache.org', '_couchdb.roles': ['testing'] })}`;
  const jwt = `${msg}.${createHmac('sha256', 'zxczxc12zxczxc12').update(msg).digest('base64url')}`;
  // Without a key the header is not a JWT handler's business.
  assert.equal((await t.request.get('/_session').set('authorization', `Bearer ${jwt}`)).body.userCtx.name, null);
  await setConfig('jwt_keys', 'hmac:_default', Buffer.from('zxczxc12zxczxc12').toString('base64'));
  try {
    const s = await t.request.get('/_session').set('authorization', `Bearer ${jwt}`).expect(200);
    assert.deepEqual(s.body.userCtx, { name: 'couch@apache.org', roles: ['testing'] });
    assert.equal(s.body.info.authenticated, 'jwt');
    assert.deepEqual(s.body.info.authentication_handlers, ['jwt', 'cookie', 'default']);
    const bad = await t.request.get('/_session').set('authorization', `Bearer ${jwt}x`);
    assert.equal(bad.status, 400);
  } finally {
    await unsetConfig('jwt_keys', 'hmac:_default');
  }
});

test('proxy auth: only when configured; with proxy_use_secret the token must be the HMAC of the name', async () => {
  await adminPut('/proxied');
  await t.request.put('/proxied/_security').auth('adm', 'pw').set('content-type', 'application/json').send(JSON.stringify({ members: { roles: ['test'] } })).expect(200);
  const headers = { 'X-Auth-CouchDB-UserName': 'couch@apache.org', 'X-Auth-CouchDB-Roles': 'test,other' };
  // Not configured: the headers prove nothing.
  assert.equal((await t.request.get('/_session').set(headers)).body.userCtx.name, null);
  await setConfig('chttpd', 'authentication_handlers', '{chttpd_auth, proxy_authentication_handler}, {chttpd_auth, cookie_authentication_handler}, {chttpd_auth, default_authentication_handler}');
  try {
    const s = await t.request.get('/_session').set(headers).expect(200);
    assert.deepEqual(s.body.userCtx, { name: 'couch@apache.org', roles: ['test', 'other'] });
    assert.equal(s.body.info.authenticated, 'proxy');
    await t.request.get('/proxied').set(headers).expect(200);
    await setConfig('couch_httpd_auth', 'proxy_use_secret', 'true');
    await setConfig('chttpd_auth', 'secret', 'sekrit');
    assert.equal((await t.request.get('/_session').set(headers)).body.userCtx.name, null);
    const { createHmac } = await import('node:crypto');
    const signed = { ...headers, 'X-Auth-CouchDB-Token': createHmac('sha1', 'sekrit').update('couch@apache.org').digest('hex') };
    assert.equal((await t.request.get('/_session').set(signed)).body.userCtx.name, 'couch@apache.org');
  } finally {
    await unsetConfig('chttpd_auth', 'secret');
    await unsetConfig('couch_httpd_auth', 'proxy_use_secret');
    await unsetConfig('chttpd', 'authentication_handlers');
  }
});

test('[chttpd_auth] authentication_db: users log in from that database, whose passwords are hashed', async () => {
  await adminPut('/other_users');
  await setConfig('chttpd_auth', 'authentication_db', 'other_users');
  try {
    const created = await t.request.post('/other_users').auth('adm', 'pw').set('content-type', 'application/json')
      .send(JSON.stringify({ _id: 'org.couchdb.user:elsewhere', type: 'user', name: 'elsewhere', roles: [], password: 'pw-e' }));
    assert.equal(created.status, 201);
    const stored = await t.request.get('/other_users/org.couchdb.user:elsewhere').auth('adm', 'pw').expect(200);
    assert.equal(stored.body.password, undefined);
    assert.equal(stored.body.password_scheme, 'pbkdf2');
    const s = await t.request.get('/_session').auth('elsewhere', 'pw-e').expect(200);
    assert.deepEqual(s.body.userCtx, { name: 'elsewhere', roles: [] });
    assert.equal(s.body.info.authentication_db, 'other_users');
    // Only the hashing applies there, not `_users`' _design/_auth rules (security_validation_test.exs
    // saves users without a type).
    const untyped = await t.request.post('/other_users').auth('adm', 'pw').set('content-type', 'application/json')
      .send(JSON.stringify({ _id: 'org.couchdb.user:jerry', name: 'jerry', roles: [], password: 'mouse' }));
    assert.equal(untyped.status, 201, JSON.stringify(untyped.body));
    assert.equal((await t.request.get('/_session').auth('jerry', 'mouse').expect(200)).body.userCtx.name, 'jerry');
    // The users of `_users` are not looked up meanwhile.
    await t.request.get('/_session').auth('mem', 'pw-mem').expect(401);
  } finally {
    await unsetConfig('chttpd_auth', 'authentication_db');
  }
  await t.request.get('/_session').auth('mem', 'pw-mem').expect(200);
  await t.request.get('/_session').auth('elsewhere', 'pw-e').expect(401);
});

async function adminPut(path: string): Promise<void> {
  await t.request.put(path).auth('adm', 'pw').expect(201);
}

test('_users: a user doc in conflict logs nobody in; `_:_` is logged out; _design/_auth role messages', async () => {
  const adm = (req: import('supertest').Test) => req.auth('adm', 'pw').set('content-type', 'application/json');
  const created = await adm(t.request.put('/_users/org.couchdb.user:conflicted')).send({ name: 'conflicted', password: 'pw-c', type: 'user', roles: [] }).expect(201);
  await t.request.get('/_session').auth('conflicted', 'pw-c').expect(200);
  // A second branch, as replication brings one (users_db_test.exs "users db").
  const doc = (await adm(t.request.get('/_users/org.couchdb.user:conflicted'))).body;
  for (const branch of ['0123456789abcdef0123456789abcdef', 'fedcba9876543210fedcba9876543210']) {
    const revisions = { start: 2, ids: [branch, created.body.rev.split('-')[1]] };
    await adm(t.request.put('/_users/org.couchdb.user:conflicted?new_edits=false')).send({ ...doc, _rev: `2-${branch}`, _revisions: revisions, foo: branch }).expect(201);
  }
  const refused = await t.request.get('/_session').auth('conflicted', 'pw-c');
  assert.equal(refused.status, 401);
  assert.match(refused.body.reason, /conflicts must be resolved/);
  const out = await t.request.get('/_session').set('authorization', 'Basic ' + Buffer.from('_:_').toString('base64')).expect(200);
  assert.equal(out.body.userCtx.name, null);
  const bad = (roles: unknown) => adm(t.request.put('/_users/org.couchdb.user:rolesy')).send({ name: 'rolesy', type: 'user', roles });
  assert.equal((await bad('not an array')).body.reason, 'doc.roles must be an array');
  assert.equal((await bad([12])).body.reason, 'doc.roles can only contain strings');
  assert.equal((await bad(undefined)).body.reason, 'doc.roles must exist');
});

test('[couch_httpd_auth] password_regexp refuses passwords that miss a requirement (400) and a broken setting (403)', async () => {
  await setConfig('couch_httpd_auth', 'password_regexp', '[{".{10,}"}, {"[A-Z]+", "Requirement 2."}]');
  try {
    const put = (password: string) => t.request.put('/_users/org.couchdb.user:ruled').auth('adm', 'pw').set('content-type', 'application/json').send({ name: 'ruled', type: 'user', roles: [], password });
    const short = await put('funnybone');
    assert.deepEqual([short.status, short.body.reason], [400, 'Password does not conform to requirements.']);
    const lower = await put('funnnnnybone');
    assert.deepEqual([lower.status, lower.body.reason], [400, 'Password does not conform to requirements. Requirement 2.']);
    await setConfig('couch_httpd_auth', 'password_regexp', '{{".{10,}"}}');
    const broken = await put('funnnnnyBONE');
    assert.deepEqual([broken.status, broken.body.reason], [403, 'Server cannot hash passwords at this time.']);
    await setConfig('couch_httpd_auth', 'password_regexp', '[{".{10,}"}, {"[A-Z]+", "Requirement 2."}]');
    assert.equal((await put('funnnnnyBONE')).status, 201);
  } finally {
    await unsetConfig('couch_httpd_auth', 'password_regexp');
  }
});

test('_security with names or roles that are not lists of strings is refused as CouchDB does (500, reader_acl_test.exs)', async () => {
  await adminPut('/badsec');
  const put = (sec: unknown) => t.request.put('/badsec/_security').auth('adm', 'pw').set('content-type', 'application/json').send(JSON.stringify(sec));
  for (const sec of [
    { members: { roles: ['super-secret-club', { 'top-secret': 'awesome' }], names: ['joe', 'barb'] } },
    { members: { roles: ['super-secret-club', 'top-secret'], names: ['joe', 22] } },
    { members: { roles: ['super-secret-club', 'top-secret'], names: 'joe' } },
    { readers: { names: [1] } },
    { admins: 'nobody' },
  ]) {
    const res = await put(sec);
    assert.equal(res.status, 500, JSON.stringify(sec));
    assert.match(res.body.reason, /must be a JSON list of strings/);
  }
  assert.equal((await put(['not', 'an', 'object'])).status, 400);
  await put({ readers: { roles: ['r'], names: [] } }).expect(200);
});
