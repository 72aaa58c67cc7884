// Authentication ends at the lounge: clients use the same credentials as with a node
// (a server admin, or a `_users` user by Basic auth or session cookie), `_security` is
// enforced by the lounge, and the nodes — which require an admin — only ever see the
// lounge's service credential. A 2-node, q=2, n=2 cluster started with an admin.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { useCluster } from '../test-support/cluster-fixture.js';
import { call } from '../test-support/http.js';

let L = '';
const basic = (user: string, pw: string) => ({ authorization: 'Basic ' + Buffer.from(`${user}:${pw}`).toString('base64') });
const ADMIN = basic('boss', 's3cret');

const fx = useCluster({ nodes: 2, q: 2, n: 2, admin: { name: 'boss', password: 's3cret' } });

before(async () => {
  await fx.ready;
  L = fx.url;
});

test('admins, users, cookies and _security are checked at the lounge', async () => {
  assert.equal((await call(L, 'GET', '/')).status, 200, 'the welcome is public');
  assert.equal((await call(L, 'PUT', '/secure')).status, 401);
  assert.equal((await call(L, 'PUT', '/secure', undefined, basic('boss', 'wrong'))).status, 401);
  assert.equal((await call(L, 'GET', '/_all_dbs')).status, 401);
  const made = await call(L, 'PUT', '/secure', undefined, ADMIN);
  assert.equal(made.status, 201, made.text);
  // The nodes themselves refuse anonymous writes: the lounge used its service credential.
  const node = fx.cluster.nodes[0]?.url as string;
  assert.equal((await call(node, 'PUT', '/anything')).status, 401);

  // A user in the cluster's _users database.
  const users = await call(L, 'PUT', '/_users', undefined, ADMIN);
  assert.equal(users.status, 201, users.text);
  const u = await call(L, 'PUT', '/_users/org.couchdb.user:joe', { name: 'joe', type: 'user', roles: ['staff'], password: 'pw' }, ADMIN);
  assert.ok([201, 202].includes(u.status), u.text);
  const stored = await call(L, 'GET', '/_users/org.couchdb.user:joe', undefined, ADMIN);
  assert.equal(stored.body.password, undefined, 'the password is never stored in clear');
  assert.equal(stored.body.password_scheme, 'pbkdf2');
  const session = await call(L, 'GET', '/_session', undefined, basic('joe', 'pw'));
  assert.deepEqual(session.body.userCtx, { name: 'joe', roles: ['staff'] });
  assert.equal((await call(L, 'GET', '/_session', undefined, basic('joe', 'nope'))).status, 401);

  // _security: members only.
  assert.equal((await call(L, 'PUT', '/secure/_security', { members: { names: ['joe'] }, admins: { roles: ['boss-role'] } }, ADMIN)).status, 200);
  assert.equal((await call(L, 'GET', '/secure')).status, 401, 'anonymous is not a member');
  assert.equal((await call(L, 'GET', '/secure', undefined, basic('joe', 'pw'))).status, 200);
  assert.ok([201, 202].includes((await call(L, 'PUT', '/secure/doc1', { a: 1 }, basic('joe', 'pw'))).status));
  assert.equal((await call(L, 'PUT', '/secure/_design/d', { views: {} }, basic('joe', 'pw'))).status, 403, 'design docs need a db admin');
  assert.equal((await call(L, 'PUT', '/secure/_security', {}, basic('joe', 'pw'))).status, 403);
  const bulk = await call(L, 'POST', '/secure/_bulk_docs', { docs: [{ _id: 'ok1' }, { _id: '_design/x' }] }, basic('joe', 'pw'));
  assert.equal(bulk.body[1].error, 'unauthorized');
  assert.equal(bulk.body[0].ok, true);

  // Cookie sessions.
  const login = await fetch(`${L}/_session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'joe', password: 'pw' }) });
  assert.equal(login.status, 200);
  const cookie = String(login.headers.get('set-cookie')).split(';')[0] as string;
  assert.match(cookie, /^AuthSession=/);
  const viaCookie = await call(L, 'GET', '/secure/doc1', undefined, { cookie });
  assert.equal(viaCookie.status, 200);
  assert.equal((await call(L, 'GET', '/secure/doc1', undefined, { cookie: 'AuthSession=forged' })).status, 401);
  // The registry keeps _security, so the syncer can restore it on a shard that missed it.
  assert.deepEqual(fx.cluster.lounge.lounge.registry.get('secure')?.security, { members: { names: ['joe'] }, admins: { roles: ['boss-role'] } });
});
