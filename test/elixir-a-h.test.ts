// Behaviour Apache CouchDB's own HTTP suite (test/elixir/test/*.exs, files a–h) asserts and the
// other black-box tests did not reach. Each test names the .exs test it stands for; expected
// values come from those tests and from chttpd/couch_mrview, not from Chaise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type supertest from 'supertest';
import { nodeForFile } from './helpers/in-process-node.js';

let request: ReturnType<typeof supertest>;
nodeForFile((t) => {
  request = t.request;
});

test('basics_test "Default headers are returned for doc with open_revs=all": X-CouchDB-Body-Time on every answer', async () => {
  assert.equal((await request.put('/basics')).status, 201);
  const id = (await request.post('/basics').send({ foo: 'bar' })).body.id as string;
  const head = await request.head(`/basics/${id}?open_revs=all`);
  assert.ok(head.headers['x-couch-request-id']);
  assert.equal(head.headers['x-couchdb-body-time'], '0');
  assert.equal((await request.get('/')).headers['x-couchdb-body-time'], '0');
});

test('changes_async_test "live changes": feed=live is continuous (chttpd_db:parse_changes_query)', async () => {
  assert.equal((await request.put('/livefeed')).status, 201);
  const rev = (await request.put('/livefeed/foo').send({ bar: 'baz' })).body.rev as string;
  const res = await request.get('/livefeed/_changes?feed=live&timeout=100').buffer(true).parse((r, done) => {
    let text = '';
    r.on('data', (c: Buffer) => (text += c.toString()));
    r.on('end', () => done(null, text));
  });
  assert.equal(res.status, 200);
  const lines = (res.body as string).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  assert.equal(lines[0].changes[0].rev, rev);
  assert.match(lines[1].last_seq, /^1-/);
});

test('basics_test "\'+\' in document name should encode to space/\'+\'": chttpd decode_plus_to_space (default true)', async () => {
  assert.equal((await request.put('/plus')).status, 201);
  assert.equal((await request.put('/plus/test+doc+2').send({})).body.id, 'test doc 2');
  assert.equal((await request.put('/plus/a%2Bb').send({})).body.id, 'a+b');
  const cfg = '/_node/_local/_config/chttpd/decode_plus_to_space';
  assert.equal((await request.put(cfg).set('X-Couch-Persist', 'false').send('"false"')).status, 200);
  try {
    assert.equal((await request.put('/plus/test+doc').send({})).body.id, 'test+doc');
    assert.equal((await request.put('/random+test+db')).status, 201);
    assert.equal((await request.get('/random+test+db')).body.db_name, 'random+test+db');
  } finally {
    await request.delete(cfg).set('X-Couch-Persist', 'false');
  }
});

test('http_test "location header should include custom header": [httpd] x_forwarded_host names the header', async () => {
  assert.equal((await request.put('/fwd')).status, 201);
  assert.equal((await request.put('/fwd/test2').set('X-Forwarded-Host', 'mysite.com').send({})).headers.location, 'http://mysite.com/fwd/test2');
  const cfg = '/_node/_local/_config/httpd/x_forwarded_host';
  assert.equal((await request.put(cfg).set('X-Couch-Persist', 'false').send('"X-Host"')).status, 200);
  try {
    const res = await request.put('/fwd/test3').set('X-Host', 'mysite2.com').send({});
    assert.equal(res.headers.location, 'http://mysite2.com/fwd/test3');
  } finally {
    await request.delete(cfg).set('X-Couch-Persist', 'false');
  }
});

test('auth_lockout_test: after 5 wrong passwords from one address the account is locked (enforce), or only counted (warn)', async () => {
  const cfg = (section: string, key: string) => `/_node/_local/_config/${section}/${key}`;
  // A node without admins is an admin party; make one, as the suite's module config does.
  assert.equal((await request.put(cfg('admins', 'adm')).send('"pass"')).status, 200);
  const adm = (r: supertest.Test) => r.auth('adm', 'pass');
  assert.equal((await adm(request.put(cfg('admins', 'chttpd_auth_lockout'))).send('"bar"')).status, 200);
  const wrong = () => request.get('/_all_dbs').auth('chttpd_auth_lockout', 'baz');

  assert.equal((await adm(request.put(cfg('chttpd_auth_lockout', 'mode'))).send('"warn"')).status, 200);
  for (let i = 0; i < 6; i++) assert.equal((await wrong()).status, 401);

  assert.equal((await adm(request.put(cfg('chttpd_auth_lockout', 'mode'))).send('"enforce"')).status, 200);
  const locked = await wrong();
  assert.equal(locked.status, 403);
  assert.deepEqual(locked.body, { error: 'forbidden', reason: 'Account is temporarily locked due to multiple authentication failures' });
  // Locked even with the right password; another account is not.
  assert.equal((await request.get('/_all_dbs').auth('chttpd_auth_lockout', 'bar')).status, 403);
  assert.equal((await adm(request.get('/_all_dbs'))).status, 200);

  assert.equal((await adm(request.put(cfg('chttpd_auth_lockout', 'mode'))).send('"off"')).status, 200);
  assert.equal((await request.get('/_all_dbs').auth('chttpd_auth_lockout', 'bar')).status, 200);
  assert.equal((await adm(request.delete(cfg('admins', 'chttpd_auth_lockout')))).status, 200);
  assert.equal((await adm(request.delete(cfg('admins', 'adm')))).status, 200);
});

test('disk_monitor_test: past the thresholds interactive writes and index-updating queries get 507', async () => {
  const cfg = (key: string) => `/_node/_local/_config/disk_monitor/${key}`;
  assert.equal((await request.put('/diskmon')).status, 201);
  assert.equal((await request.post('/diskmon').send({ _id: 'foo' })).status, 201);
  assert.equal((await request.put('/diskmon/_design/foo').send({ views: { bar: { map: 'function(doc) { emit(); }' } } })).status, 201);
  for (const [k, v] of [['interactive_view_indexing_threshold', '0'], ['interactive_database_writes_threshold', '0'], ['enable', 'true']]) {
    assert.equal((await request.put(cfg(k as string)).set('X-Couch-Persist', 'false').send(JSON.stringify(v))).status, 200);
  }
  try {
    // Any disk in use is more than 0% full.
    const write = await request.post('/diskmon').send({ _id: 'bar' });
    assert.equal(write.status, 507);
    assert.equal(write.body.error, 'insufficient_storage');
    assert.equal((await request.get('/diskmon/_design/foo/_view/bar')).status, 507);
    assert.equal((await request.get('/diskmon/_design/foo/_view/bar?stale=ok')).status, 200);
    // Replicated writes are not interactive.
    const replicated = await request.post('/diskmon/_bulk_docs').send({ docs: [{ _id: 'r', _rev: '1-abc' }], new_edits: false });
    assert.equal(replicated.status, 201);
  } finally {
    await request.put(cfg('enable')).set('X-Couch-Persist', 'false').send('"false"');
  }
  assert.equal((await request.post('/diskmon').send({ _id: 'bar' })).status, 201);
  assert.equal((await request.get('/diskmon/_design/foo/_view/bar')).body.total_rows, 3);
});

test('changes_test "erlang function filtered changes": a filter in a language Chaise does not run is refused before the feed starts', async () => {
  assert.equal((await request.put('/erlfilter')).status, 201);
  const ddoc = { language: 'erlang', filters: { foo: 'fun({Doc}, Req) -> true end.' } };
  assert.equal((await request.put('/erlfilter/_design/erlang').send(ddoc)).status, 201);
  const res = await request.get('/erlfilter/_changes?filter=erlang/foo');
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { error: 'unknown_query_language', reason: 'erlang' });
});

test('all_docs_test "all_docs ordering": a bound that is not a string sorts below every id (raw collation)', async () => {
  assert.equal((await request.put('/rawkeys')).status, 201);
  assert.equal((await request.post('/rawkeys/_bulk_docs').send({ docs: [{ _id: 'a' }, { _id: 'm' }, { _id: 'z' }] })).status, 201);
  const ids = async (qs: string) => {
    const res = await request.get('/rawkeys/_all_docs?' + qs);
    assert.equal(res.status, 200, qs);
    return (res.body.rows as { id: string }[]).map((r) => r.id);
  };
  for (const sk of ['false', '0', '[1,2]', '{}', 'null']) assert.deepEqual(await ids('startkey=' + encodeURIComponent(sk)), ['a', 'm', 'z'], sk);
  assert.deepEqual(await ids('end_key=0'), []);
  assert.deepEqual(await ids('descending=true&startkey=0'), []);
  assert.deepEqual(await ids('descending=true&endkey=0'), ['z', 'm', 'a']);
  assert.deepEqual(await ids('startkey="m"&endkey=0'), []);
});

test('all_docs_test "_local_docs POST with keys and limit": `_local` ids among `keys` answer with their 0-N rev', async () => {
  assert.equal((await request.put('/localkeys')).status, 201);
  const docs = [{ _id: '_local/one', value: 'one' }, { _id: '_local/two', value: 'two' }, { _id: 'three', value: 'three' }];
  assert.equal((await request.post('/localkeys/_bulk_docs').send({ docs })).status, 201);
  const res = await request.post('/localkeys/_all_docs').send({ keys: ['_local/one', '_local/two', 'three', 'missing', '_local/missing'], include_docs: true });
  assert.equal(res.status, 200);
  const rows = res.body.rows as Record<string, unknown>[];
  assert.deepEqual(rows[0], { doc: { _id: '_local/one', _rev: '0-1', value: 'one' }, id: '_local/one', key: '_local/one', value: { rev: '0-1' } });
  assert.deepEqual(rows[1], { doc: { _id: '_local/two', _rev: '0-1', value: 'two' }, id: '_local/two', key: '_local/two', value: { rev: '0-1' } });
  assert.equal(rows[2]?.id, 'three');
  assert.deepEqual(rows.slice(3), [{ error: 'not_found', key: 'missing' }, { error: 'not_found', key: '_local/missing' }]);
  // Ranges still list no `_local` docs.
  assert.deepEqual((await request.get('/localkeys/_all_docs')).body.rows.map((r: { id: string }) => r.id), ['three']);
});

test('attachments_test "COUCHDB-809 - stubs should only require the \'stub\' field": a stub naming another revpos is 412 missing_stub', async () => {
  assert.equal((await request.put('/stubs')).status, 201);
  const doc = { _id: 'stub_doc', _attachments: { 'foo.txt': { content_type: 'text/plain', data: 'VGhpcyBpcyBhIGJhc2U2NCBlbmNvZGVkIHRleHQ=' } } };
  const first = await request.put('/stubs/stub_doc').send(doc);
  assert.equal(first.status, 201);
  // A bare stub keeps the attachment (couch_att:merge_stubs: no revpos, nothing to match).
  const second = await request.put('/stubs/stub_doc').send({ ...doc, _rev: first.body.rev, _attachments: { 'foo.txt': { stub: true } } });
  assert.equal(second.status, 201);
  // The stub's revpos must be the stored attachment's (1 here).
  const bad = await request.put('/stubs/stub_doc').send({ ...doc, _rev: second.body.rev, _attachments: { 'foo.txt': { stub: true, revpos: 10 } } });
  assert.equal(bad.status, 412);
  assert.deepEqual(bad.body, { error: 'missing_stub', reason: 'Invalid attachment stub in stub_doc for foo.txt' });
  const good = await request.put('/stubs/stub_doc').send({ ...doc, _rev: second.body.rev, _attachments: { 'foo.txt': { stub: true, revpos: 1 } } });
  assert.equal(good.status, 201);
  assert.equal((await request.get('/stubs/stub_doc/foo.txt')).text, 'This is a base64 encoded text');
});

test('cluster_with_quorum_test "Attachments overriden quorum should return 202-Acepted": an attachment PUT with w above the copies made is 202', async () => {
  assert.equal((await request.put('/attw')).status, 201);
  const rev = (await request.put('/attw/0').send({ a: 1 })).body.rev as string;
  const put = await request.put(`/attw/0/foo.txt?rev=${rev}&w=3`).set('content-type', 'text/plain').send('This is a no bas64 encoded text');
  assert.equal(put.status, 202);
  assert.equal(put.body.ok, true);
  const one = await request.put(`/attw/0/bar.txt?rev=${put.body.rev}&w=1`).set('content-type', 'text/plain').send('x');
  assert.equal(one.status, 201);
  // A DELETE answers 200 whatever `w` says (chttpd_db).
  assert.equal((await request.delete(`/attw/0/bar.txt?rev=${one.body.rev}&w=3`)).status, 200);
});

test('attachments_test "digest header for attachments": a Content-MD5 that does not match the bytes is 400 content_md5_mismatch (couch_util:check_md5)', async () => {
  assert.equal((await request.put('/md5')).status, 201);
  const md5 = 'MntvB0NYESObxH4VRDUycw=='; // md5("foo bar")
  const good = await request.put('/md5/bin_doc8/attachment.txt').set('content-type', 'application/octet-stream').set('content-md5', md5).send(Buffer.from('foo bar'));
  assert.equal(good.status, 201);
  assert.equal((await request.get('/md5/bin_doc8/attachment.txt')).headers['content-md5'], md5);
  const bad = await request.put(`/md5/bin_doc8/other.txt?rev=${good.body.rev}`).set('content-type', 'application/octet-stream').set('content-md5', md5).send(Buffer.from('something else'));
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body, { error: 'content_md5_mismatch', reason: 'Possible message corruption.' });
  assert.equal((await request.get('/md5/bin_doc8/other.txt')).status, 404);
});
