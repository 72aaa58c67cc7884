// `/_cluster_setup` on one node, as CouchDB's setup app answers it (src/setup/src/setup_httpd.erl
// and setup.erl): the states GET reports from admins, system databases and `cluster/n`, and the
// actions a setup wizard (Fauxton, or a script) posts. CouchDB's 500s for thrown setup errors are
// Chaise's 400s with the same reason.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inProcessNode, nodeForFile, type TestNode } from './helpers/in-process-node.js';

let t: TestNode;
nodeForFile((n) => (t = n), { admins: [{ name: 'root', password: 'rootpw' }], auth: { iterations: 1000 } });
const ADMIN: [string, string] = ['root', 'rootpw'];

const state = async (node: TestNode, query = '', auth: [string, string] | null = ADMIN) => {
  const req = node.request.get('/_cluster_setup' + query);
  if (auth) req.auth(...auth);
  return ((await req.expect(200)).body as { state: string }).state;
};
const post = (node: TestNode, body: unknown, auth: [string, string] | null = ADMIN) => {
  const req = node.request.post('/_cluster_setup').set('content-type', 'application/json');
  if (auth) req.auth(...auth);
  return req.send(typeof body === 'string' ? body : JSON.stringify(body));
};

test('GET: single_node_enabled while there are admins and the system databases; ensure_dbs_exist names others', async () => {
  assert.equal(await state(t), 'single_node_enabled');
  await t.request.delete('/_replicator').auth(...ADMIN).expect(200);
  assert.equal(await state(t), 'single_node_disabled', '_replicator is one of setup:cluster_system_dbs()');
  assert.equal(await state(t, '?ensure_dbs_exist=' + encodeURIComponent('["_users"]')), 'single_node_enabled');
  assert.equal(await state(t, '?ensure_dbs_exist=' + encodeURIComponent('["_users","nope"]')), 'single_node_disabled');
  // finish_cluster creates what is missing, then reports the cluster finished.
  await post(t, { action: 'finish_cluster' }).expect(201, { ok: true });
  await t.request.get('/_replicator').auth(...ADMIN).expect(200);
  assert.equal(await state(t), 'single_node_enabled');
  await post(t, { action: 'finish_cluster' }).expect(400, { error: 'bad_request', reason: 'Cluster is already finished' });
});

test("errors: admins only, GET and POST only, JSON bodies only, CouchDB's texts", async () => {
  await t.request.get('/_cluster_setup').expect(401, { error: 'unauthorized', reason: 'You are not a server admin.' });
  await post(t, { action: 'finish_cluster' }, null).expect(401);
  await t.request.put('/_cluster_setup').auth(...ADMIN).expect(405, { error: 'method_not_allowed', reason: 'Only GET,POST allowed' });
  await t.request.post('/_cluster_setup').auth(...ADMIN).set('content-type', 'text/plain').send('{}').expect(415, { error: 'bad_content_type', reason: 'Content-Type must be application/json' });
  // setup_httpd:get_body/1 and handle_action/2, stray quote and all.
  await post(t, 'not json').expect(400, { error: 'bad_request', reason: "Missing JSON body'" });
  await post(t, [1]).expect(400, { error: 'bad_request', reason: "Missing JSON body'" });
  await post(t, {}).expect(400, { error: 'bad_request', reason: "Invalid Action'" });
  await post(t, { action: 'reticulate' }).expect(400, { error: 'bad_request', reason: "Invalid Action'" });
  await post(t, { action: 'add_node', host: 'x' }).expect(400, { error: 'bad_request', reason: 'Cluster is not enabled.' });
  await post(t, { action: 'remove_node' }).expect(201, { ok: true });
});

test('enable_single_node on an admin party: refuses without credentials, then creates the admin and the system databases', async () => {
  const party = await inProcessNode({ auth: { iterations: 1000 } });
  try {
    assert.equal(await state(party, '', null), 'single_node_disabled', 'no admin yet');
    await post(party, { action: 'enable_single_node' }, null).expect(400, { error: 'bad_request', reason: 'Cluster setup requires admin account to be configured' });
    await party.request.delete('/_users').expect(200);
    await party.request.delete('/_replicator').expect(200);
    await post(party, { action: 'enable_single_node', username: 'setup', password: 'setuppw' }, null).expect(201, { ok: true });
    // The admin exists at once, stored hashed; anonymous requests are no longer admins.
    await party.request.get('/_cluster_setup').expect(401);
    const creds: [string, string] = ['setup', 'setuppw'];
    assert.equal(await state(party, '', creds), 'single_node_enabled');
    const hash = (await party.request.get('/_node/_local/_config/admins/setup').auth(...creds).expect(200)).body as string;
    assert.match(hash, /^-pbkdf2:sha256-[0-9a-f]{64},[0-9a-f]{32},1000$/);
    await party.request.get('/_node/_local/_config/cluster/n').auth(...creds).expect(200, '"1"\n');
    await party.request.get('/_replicator').auth(...creds).expect(200);
    await party.request.get('/_users/_design/_auth').auth(...creds).expect(200);
    // Again: still ok (CouchDB ignores that the databases exist), and a further admin may be added.
    await post(party, { action: 'enable_single_node', username: 'second', password: 'secondpw' }, creds).expect(201, { ok: true });
    await party.request.get('/_all_dbs').auth('second', 'secondpw').expect(200);
    await post(party, { action: 'enable_single_node', username: 'half' }, creds).expect(400, { error: 'bad_request', reason: 'Cluster setup requires both username and password' });
  } finally {
    await party.close();
  }
});

test('with single_node off and cluster/n above 1: cluster_disabled, enable_cluster, cluster_finished', async () => {
  const node = await inProcessNode({ admins: [{ name: 'root', password: 'rootpw' }], auth: { iterations: 1000 } });
  try {
    await node.request.delete('/_node/_local/_config/couchdb/single_node').auth(...ADMIN).expect(200, '"true"\n');
    // No cluster/n: CouchDB's default of 3; bound to 127.0.0.1, so not a cluster yet.
    assert.equal(await state(node), 'cluster_disabled');
    await post(node, { action: 'enable_cluster', node_count: 3 }).expect(400, { error: 'bad_request', reason: 'Cluster setup requires a remote bind_address (not 127.0.0.1 nor ::1)' });
    await post(node, { action: 'enable_cluster', bind_address: '0.0.0.0' }).expect(400, { error: 'bad_request', reason: 'Cluster setup requires node_count to be configured' });
    await post(node, { action: 'enable_cluster', bind_address: 'not-an-ip', node_count: 3 }).expect(400, { error: 'bad_request', reason: 'Setup requires a valid IP bind_address. "not-an-ip" is invalid.' });
    await post(node, { action: 'enable_cluster', bind_address: '0.0.0.0', node_count: 5, port: 5984 }).expect(201, { ok: true });
    await node.request.get('/_node/_local/_config/cluster/n').auth(...ADMIN).expect(200, '"3"\n');
    await node.request.get('/_node/_local/_config/chttpd/bind_address').auth(...ADMIN).expect(200, '"0.0.0.0"\n');
    assert.equal(await state(node), 'cluster_finished', 'bound beyond loopback, an admin, and the system databases exist');
    await post(node, { action: 'enable_cluster', bind_address: '0.0.0.0', node_count: 3 }).expect(400, { error: 'bad_request', reason: 'Cluster is already enabled' });
    await node.request.delete('/_replicator').auth(...ADMIN).expect(200);
    assert.equal(await state(node), 'cluster_enabled');
    await post(node, { action: 'finish_cluster' }).expect(201, { ok: true });
    assert.equal(await state(node), 'cluster_finished');
  } finally {
    await node.close();
  }
});
