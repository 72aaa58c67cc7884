// `_show`, `_list`, `_update` and `_rewrite` over HTTP, with the behaviours CouchDB's own suites
// check (test/elixir/test/show_documents_test.exs, list_views_test.exs, update_documents_test.exs,
// rewrite_test.exs, design_docs_test.exs): expected values are theirs. Plus what Chaise promises
// beyond them: hostile functions are stopped and the node keeps serving, and a list streams.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inProcessNode, type TestNode } from './helpers/in-process-node.js';

/** Hostile code is stopped after this long here (the node's default is 5 s). */
const TEST_CALL_TIMEOUT_MS = 800;

let t: TestNode;
const json = { 'content-type': 'application/json' };

before(async () => {
  t = await inProcessNode({ sandbox: { timeoutMs: TEST_CALL_TIMEOUT_MS } });
  await t.request.put('/d').expect(201);
  const docs: Record<string, unknown>[] = [];
  for (let i = 0; i < 10; i++) docs.push({ _id: String(i), integer: i, string: String(i) });
  docs.push({ _id: 'test-doc-id', word: 'plankton', name: 'Rusty' }, { _id: 'a/b/c', a: 1 });
  await t.request.post('/d/_bulk_docs').set(json).send({ docs }).expect(201);
  await put('/d/_design/template', DDOC);
});
after(() => t.close());

async function put(path: string, body: unknown): Promise<void> {
  const r = await t.request.put(path).set(json).send(JSON.stringify(body));
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

function text(req: ReturnType<TestNode['request']['get']>) {
  return req.buffer(true).parse((res, cb) => {
    let data = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (data += c));
    res.on('end', () => cb(null, data));
  });
}

const DDOC = {
  language: 'javascript',
  views: {
    basicView: { map: 'function(doc) { if (doc.integer !== undefined) emit(doc.integer, doc.string); }' },
    withReduce: {
      map: 'function(doc) { if (doc.integer !== undefined) emit(doc.integer, doc.string); }',
      reduce: 'function(keys, values, rereduce) { if (rereduce) return sum(values); return values.length; }',
    },
  },
  shows: {
    hello: 'function(doc, req) { if (doc) return "Hello World"; if (req.id) return "New World"; return "Empty World"; }',
    'just-name': 'function(doc, req) { if (doc) return { body: "Just " + doc.name }; return { body: "No such doc", code: 404 }; }',
    'req-info': 'function(doc, req) { return { json: req }; }',
    fail: 'function(doc, req) { return doc._id; }',
    'no-set-etag': 'function(doc, req) { return { headers: { "Etag": "skipped" }, body: "something" }; }',
    'list-api-mix-with-header':
      'function(doc, req) { start({"X-Couch-Test-Header": "Yeah"}); send("Hey "); return { headers: { "X-Couch-Test-Header-Awesome": "Oh Yeah!" }, body: "Dude" }; }',
    'list-api-provides-and-return':
      'function(doc, req) { provides("text", function(){ send("4, "); send("5, "); send("6, "); return "7!"; }); send("1, "); send("2, "); return "3, "; }',
    provides:
      'function(doc, req) { registerType("foo", "application/foo", "application/x-foo"); provides("html", function() { return "Ha ha, you said \\"" + doc.word + "\\"."; }); provides("foo", function() { return "foofoo"; }); }',
    withSlash: 'function(doc, req) { return { json: doc }; }',
    base64: 'function(doc, req) { return { base64: "aGVsbG8gd29ybGQh", headers: { "Content-Type": "application/octet-stream" } }; }',
    loop: 'function(doc, req) { while (true) {} }',
    garbage: 'function(doc, req) { return { nonsense: 1 }; }',
  },
  lists: {
    basicBasic: 'function(head, req) { send("head"); var row; while (row = getRow()) { send(row.key); } return "tail"; }',
    simpleForm:
      'function(head, req) { send("<ul>"); var row, n = 0, prevKey, firstKey = null; while (row = getRow()) { n += 1; if (firstKey === null) firstKey = row.key; prevKey = row.key; send("\\n<li>Key: " + row.key + " Value: " + row.value + " LineNo: " + n + "</li>"); } return "</ul><p>FirstKey: " + firstKey + " LastKey: " + prevKey + "</p>"; }',
    stopIter: 'function(req) { send("head"); var row, n = 0; while (row = getRow()) { if (n > 2) break; send(" " + n); n += 1; } return " tail"; }',
    tooManyGetRows: 'function() { send("head"); var row; while (row = getRow()) { send(row.key); } getRow(); getRow(); row = getRow(); return "after row: " + toJSON(row); }',
    rowError: 'function(head, req) { send("head"); var row = getRow(); send(fooBarBam); return "tail"; }',
    setHeaderAfterGotRow: 'function(head, req) { getRow(); start({ code: 400, headers: { "X-My-Header": "MyHeader" } }); send("bad request"); }',
    acceptSwitch: 'function(head, req) { provides("html", function() { send("HTML <ul>"); var row; while (row = getRow()) { send("<li>" + row.key + "</li>"); } return "</ul>"; }); }',
    allDocs: 'function(head, req) { start({ headers: { "Content-Type": "application/json" } }); var resp = head; var rows = []; var row; while (row = getRow()) rows.push(row); resp.rows = rows; return toJSON(resp); }',
    sendForever: 'function(head, req) { while (true) { send("x"); } }',
    count: 'function(head, req) { var n = 0; while (getRow()) n++; return String(n); }',
  },
  updates: {
    hello:
      'function(doc, req) { if (!doc) { if (req.id) return [{ _id: req.id, reqs: [req.method] }, "<p>New World</p>"]; return [null, "<p>Empty World</p>"]; } doc.world = "hello"; return [doc, "<p>hello doc</p>"]; }',
    'in-place': 'function(doc, req) { doc[req.query.field] = req.query.value; return [doc, "set " + req.query.field + " to " + req.query.value]; }',
    'form-update': 'function(doc, req) { for (var f in req.form) doc[f] = req.form[f]; return [doc, "updated doc from form"]; }',
    'bump-counter': 'function(doc, req) { if (!doc.counter) doc.counter = 0; doc.counter += 1; return [doc, "<h1>bumped it!</h1>"]; }',
    'code-n-bump': 'function(doc, req) { if (!doc.counter) doc.counter = 0; doc.counter += 1; return [doc, { code: 302, body: "<h1>bumped it!</h1>" }]; }',
    'resp-code-and-json': 'function(doc, req) { return [{ _id: req.uuid }, { code: 302, json: { ok: true } }]; }',
    'get-uuid': 'function(doc, req) { return [null, req.uuid]; }',
    error: 'function(doc, req) { superFail.badCrash; }',
    empty: 'function(doc, req) { return [{}, "oops"]; }',
    garbage: 'function(doc, req) { return 42; }',
    design: 'function(doc, req) { return [{ _id: "_design/evil", views: {} }, "x"]; }',
  },
  rewrites: [
    { from: 'foo', to: '_show/hello' },
    { from: 'hello/:id', to: '_update/hello/:id', method: 'PUT' },
    { from: '/welcome/:name', to: '_show/req-info', query: { name: ':name' } },
    { from: 'basicView', to: '_view/basicView' },
    { from: 'simpleForm/basicViewFixed', to: '_list/simpleForm/basicView', query: { startkey: 3, endkey: 8 } },
    { from: 'simpleForm/basicViewPath/:start/:end', to: '_list/simpleForm/basicView', query: { startkey: ':start', endkey: ':end' }, formats: { start: 'int', end: 'int' } },
    { from: 'db/*', to: '../../*' },
    { from: 'loop', to: '_rewrite/loop' },
    { from: '/', to: '_view/basicView' },
  ],
};

// ---- _show (show_documents_test.exs) --------------------------------------------------------

test('_show: with a doc, without one, and a function of a missing doc', async () => {
  let r = await text(t.request.get('/d/_design/template/_show/hello/test-doc-id'));
  assert.equal(r.body, 'Hello World');
  assert.match(String(r.headers['content-type']), /charset=utf-8/);
  assert.equal(r.headers.vary, 'Accept');
  assert.equal((await text(t.request.get('/d/_design/template/_show/hello'))).body, 'Empty World');
  assert.equal((await text(t.request.get('/d/_design/template/_show/hello/nonExistingDoc'))).body, 'New World');
  r = await text(t.request.get('/d/_design/template/_show/just-name/missingdoc'));
  assert.equal(r.status, 404);
  assert.equal(r.body, 'No such doc');
  // A function that fails on a missing doc: 404 not_found, as CouchDB's render.js decides.
  r = await t.request.get('/d/_design/template/_show/fail/nonExistingDoc');
  assert.equal(r.status, 404);
  assert.equal(r.body.error, 'not_found');
  r = await t.request.get('/d/_design/template/_show/');
  assert.equal(r.status, 404);
  assert.equal(r.body.reason, 'Invalid path.');
  r = await t.request.get('/d/_design/missingddoc/_show/just-name/test-doc-id');
  assert.equal(r.status, 404);
});

test('_show: the req object', async () => {
  const r = await t.request
    .get('/d/_design/template/_show/req-info/test-doc-id?foo=bar&startkey=[1,2]')
    .set('Accept', 'text/html;text/plain;*/*')
    .set('X-Foo', 'bar')
    .set('Cookie', 'a=1; b=two');
  assert.equal(r.status, 200);
  const req = r.body as Record<string, any>;
  assert.deepEqual(Object.keys(req).sort(), ['body', 'cookie', 'form', 'headers', 'id', 'info', 'method', 'path', 'peer', 'query', 'raw_path', 'requested_path', 'secObj', 'userCtx', 'uuid']);
  assert.equal(req.headers['X-Foo'], 'bar');
  assert.equal(req.headers.Accept, 'text/html;text/plain;*/*');
  assert.deepEqual(req.query, { foo: 'bar', startkey: [1, 2] });
  assert.equal(req.method, 'GET');
  assert.equal(req.body, 'undefined');
  assert.deepEqual(req.path, ['d', '_design', 'template', '_show', 'req-info', 'test-doc-id']);
  assert.equal(req.raw_path, '/d/_design/template/_show/req-info/test-doc-id?foo=bar&startkey=[1,2]');
  assert.equal(req.id, 'test-doc-id');
  assert.equal(req.info.db_name, 'd');
  assert.deepEqual(req.cookie, { a: '1', b: 'two' });
  assert.equal(typeof req.uuid, 'string');
  assert.equal(req.userCtx.db, 'd');
});

test('_show: ETags follow the doc and Accept; JS cannot set its own', async () => {
  await put('/d/etagdoc', { name: 'Rusty' });
  const first = await t.request.get('/d/_design/template/_show/just-name/etagdoc');
  const etag = String(first.headers.etag);
  assert.match(etag, /^"[0-9A-Z]+"$/);
  assert.equal((await t.request.get('/d/_design/template/_show/just-name/etagdoc').set('If-None-Match', etag)).status, 304);
  const other = await t.request.get('/d/_design/template/_show/just-name/etagdoc').set('Accept', 'text/plain');
  assert.notEqual(other.headers.etag, etag);
  const rev = (await t.request.get('/d/etagdoc')).body._rev as string;
  await put('/d/etagdoc', { _rev: rev, name: 'Crusty' });
  assert.equal((await t.request.get('/d/_design/template/_show/just-name/etagdoc').set('If-None-Match', etag)).status, 200);
  const r = await t.request.get('/d/_design/template/_show/no-set-etag/test-doc-id');
  assert.notEqual(r.headers.etag, 'skipped');
});

test('_show: provides, registerType, and the list() API', async () => {
  let r = await text(t.request.get('/d/_design/template/_show/provides/test-doc-id').set('Accept', 'text/html,application/atom+xml; q=0.9'));
  assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(r.body, 'Ha ha, you said "plankton".');
  r = await text(t.request.get('/d/_design/template/_show/provides/test-doc-id').set('Accept', 'application/x-foo'));
  assert.equal(r.headers['content-type'], 'application/x-foo');
  assert.equal(r.body, 'foofoo');
  const refused = await t.request.get('/d/_design/template/_show/provides/test-doc-id').set('Accept', 'text/monkeys');
  assert.equal(refused.status, 406);
  assert.equal(refused.body.error, 'not_acceptable');
  r = await text(t.request.get('/d/_design/template/_show/list-api-provides-and-return/foo?format=text'));
  assert.equal(r.body, '1, 2, 3, 4, 5, 6, 7!');
  r = await text(t.request.get('/d/_design/template/_show/list-api-mix-with-header/foo'));
  assert.equal(r.body, 'Hey Dude');
  assert.equal(r.headers['x-couch-test-header'], 'Yeah');
  assert.equal(r.headers['x-couch-test-header-awesome'], 'Oh Yeah!');
  r = await t.request.get('/d/_design/template/_show/withSlash/a/b/c');
  assert.equal(r.status, 200);
  assert.equal(r.body._id, 'a/b/c');
  const bin = await t.request.get('/d/_design/template/_show/base64').buffer(true);
  assert.equal(bin.headers['content-type'], 'application/octet-stream');
  assert.equal(Buffer.from(bin.body as Buffer).toString(), 'hello world!');
});

// ---- _list (list_views_test.exs) ------------------------------------------------------------

test('_list: rows, parameters, keys, reduce, and stopping early', async () => {
  let r = await text(t.request.get('/d/_design/template/_list/basicBasic/basicView'));
  assert.equal(r.status, 200);
  assert.equal(r.body, 'head0123456789tail');
  r = await text(t.request.get('/d/_design/template/_list/simpleForm/basicView?startkey=3&endkey=8'));
  assert.doesNotMatch(r.body, /Key: 1 /);
  assert.match(r.body, /FirstKey: 3 LastKey: 8/);
  r = await text(t.request.get('/d/_design/template/_list/simpleForm/basicView?startkey=30'));
  assert.match(r.body, /<\/ul>/);
  r = await text(t.request.get('/d/_design/template/_list/tooManyGetRows/basicView'));
  assert.match(r.body, /9after row: null$/);
  r = await text(t.request.get('/d/_design/template/_list/simpleForm/withReduce?group=true'));
  assert.match(r.body, /Key: 1 Value: 1/);
  r = await text(t.request.get('/d/_design/template/_list/simpleForm/withReduce?startkey=30'));
  assert.match(r.body, /LastKey: undefined/);
  r = await text(t.request.post('/d/_design/template/_list/simpleForm/basicView').set(json).send({ keys: [2, 4, 5, 7] }));
  assert.match(r.body, /FirstKey: 2 LastKey: 7/);
  r = await text(t.request.get('/d/_design/template/_list/simpleForm/basicView?keys=[2,4,5,7]'));
  assert.match(r.body, /FirstKey: 2 LastKey: 7/);
  const bad = await t.request.post('/d/_design/template/_list/simpleForm/withReduce?group=false').set(json).send({ keys: [2, 4] });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error, 'query_parse_error');
  r = await text(t.request.get('/d/_design/template/_list/stopIter/basicView'));
  assert.equal(r.body, 'head 0 1 2 tail');
  r = await text(t.request.get('/d/_design/template/_list/stopIter/withReduce?group=true'));
  assert.equal(r.body, 'head 0 1 2 tail');
});

test('_list: errors after output, headers after getRow, provides, _all_docs, another design doc', async () => {
  let r = await text(t.request.get('/d/_design/template/_list/rowError/basicView'));
  assert.match(r.body, /^head/);
  assert.match(r.body, /ReferenceError/);
  r = await text(t.request.get('/d/_design/template/_list/setHeaderAfterGotRow/basicView'));
  assert.equal(r.status, 400);
  assert.equal(r.headers['x-my-header'], 'MyHeader');
  assert.equal(r.body, 'bad request');
  r = await text(t.request.get('/d/_design/template/_list/acceptSwitch/basicView').set('Accept', 'text/html'));
  assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
  assert.match(r.body, /^HTML <ul><li>0<\/li>/);
  const list = await t.request.get('/d/_design/template/_list/allDocs/_all_docs');
  const all = await t.request.get('/d/_all_docs');
  assert.equal(list.status, 200);
  assert.deepEqual(list.body, all.body);
  await put('/d/_design/views', { views: { basicView: { map: 'function(doc) { if (doc.integer !== undefined) emit(-doc.integer, doc.string); }' } } });
  r = await text(t.request.get('/d/_design/template/_list/simpleForm/views/basicView?startkey=-3'));
  assert.match(r.body, /FirstKey: -3 LastKey: 0/);
  const missing = await t.request.get('/d/_design/template/_list/simpleForm/nope');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.reason, 'missing_named_view');
});

// ---- _update (update_documents_test.exs) ----------------------------------------------------

test('_update: create, update in place, forms, codes, uuids, slashes', async () => {
  await put('/d/upd', { word: 'plankton', name: 'Rusty' });
  let r = await text(t.request.put('/d/_design/template/_update/hello/upd'));
  assert.equal(r.status, 201);
  assert.equal(r.body, '<p>hello doc</p>');
  assert.match(String(r.headers['content-type']), /charset=utf-8/);
  assert.equal(r.headers['x-couch-id'], 'upd');
  const newRev = String(r.headers['x-couch-update-newrev']);
  const doc = (await t.request.get('/d/upd')).body;
  assert.equal(doc.world, 'hello');
  assert.equal(doc._rev, newRev);
  assert.equal(doc._revisions, undefined);
  r = await text(t.request.put('/d/_design/template/_update/hello'));
  assert.equal(r.status, 200);
  assert.equal(r.body, '<p>Empty World</p>');
  r = await text(t.request.put('/d/_design/template/_update/hello/newOne'));
  assert.equal(r.status, 201);
  assert.equal(r.body, '<p>New World</p>');
  assert.equal((await t.request.get('/d/newOne')).status, 200);
  r = await text(t.request.put('/d/_design/template/_update/in-place/upd?field=title&value=test'));
  assert.equal(r.body, 'set title to test');
  assert.equal((await t.request.get('/d/upd')).body.title, 'test');
  r = await text(t.request.put('/d/_design/template/_update/form-update/upd').set('Content-Type', 'application/x-www-form-urlencoded').send('formfoo=bar&formbar=foo'));
  assert.equal(r.status, 201);
  const formed = (await t.request.get('/d/upd')).body;
  assert.equal(formed.formfoo, 'bar');
  assert.equal(formed.formbar, 'foo');
  r = await text(t.request.put('/d/_design/template/_update/code-n-bump/upd'));
  assert.equal(r.status, 302);
  assert.equal((await t.request.get('/d/upd')).body.counter, 1);
  const coded = await t.request.put('/d/_design/template/_update/resp-code-and-json/');
  assert.equal(coded.status, 302);
  assert.equal(coded.body.ok, true);
  r = await text(t.request.put('/d/_design/template/_update/get-uuid/'));
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 32);
  await put('/d/with%2Fslash', { counter: 1 });
  r = await text(t.request.put('/d/_design/template/_update/bump-counter/with/slash'));
  assert.equal(r.status, 201);
  assert.equal(r.headers['x-couch-id'], 'with%2Fslash');
  assert.equal((await t.request.get('/d/with%2Fslash')).body.counter, 2);
});

test('_update: errors as CouchDB gives them', async () => {
  let r = await t.request.get('/d/_design/template/_update/hello');
  assert.equal(r.body.error, 'method_not_allowed');
  r = await t.request.put('/d/_design/template/_update/empty/foo');
  assert.equal(r.status, 400);
  assert.equal(r.body.reason, 'Document id must not be empty');
  r = await t.request.post('/d/_design/template/_update/');
  assert.equal(r.status, 404);
  assert.equal(r.body.reason, 'Invalid path.');
  r = await t.request.post('/d/_design/template/_update/error');
  assert.equal(r.status, 500);
  assert.equal(r.body.error, 'render_error');
  r = await t.request.post('/d/_design/template/_update/nope');
  assert.equal(r.status, 404);
  assert.equal(r.body.reason, 'missing json key: nope');
});

test('_update writes pass validate_doc_update, revision checks and the design-doc rule', async () => {
  await put('/v', {});
  await put('/v/_design/guard', {
    validate_doc_update: 'function(newDoc, oldDoc, userCtx) { if (newDoc.counter > 2) throw({ forbidden: "too high" }); }',
    updates: DDOC.updates,
  });
  await put('/v/c', { counter: 1 });
  assert.equal((await t.request.put('/v/_design/guard/_update/bump-counter/c')).status, 201);
  const refused = await t.request.put('/v/_design/guard/_update/bump-counter/c');
  assert.equal(refused.status, 403);
  assert.equal(refused.body.reason, 'too high');
  assert.equal((await t.request.get('/v/c')).body.counter, 2);
  // A stale _rev in what the function returns is a conflict, as for any write.
  await put('/v/_design/stale', { updates: { old: 'function(doc, req) { doc._rev = "1-00000000000000000000000000000000"; return [doc, "x"]; }' } });
  assert.equal((await t.request.put('/v/_design/stale/_update/old/c')).status, 409);
});

test('_update: who may write is decided as for any write (members, design docs for admins)', async () => {
  const node = await inProcessNode({ admins: [{ name: 'admin', password: 'pw' }], sandbox: { timeoutMs: TEST_CALL_TIMEOUT_MS } });
  try {
    const admin = (r: ReturnType<TestNode['request']['get']>) => r.auth('admin', 'pw');
    assert.equal((await admin(node.request.put('/s'))).status, 201);
    await admin(node.request.put('/s/_design/u').set(json).send(JSON.stringify({ updates: DDOC.updates }))).expect(201);
    await admin(node.request.put('/s/_security').set(json).send({ members: { names: ['nobody'] }, admins: { names: [] } })).expect(200);
    // Not a member: refused before the function runs.
    const anon = await node.request.put('/s/_design/u/_update/hello/x');
    assert.equal(anon.status, 401);
    assert.equal((await admin(node.request.get('/s/x'))).status, 404);
    // An admin may; and the design-doc write an update returns goes through the design-doc rule.
    assert.equal((await admin(node.request.put('/s/_design/u/_update/hello/x'))).status, 201);
    assert.equal((await admin(node.request.post('/s/_design/u/_update/design'))).status, 201);
  } finally {
    await node.close();
  }
});

// ---- _rewrite (rewrite_test.exs) ------------------------------------------------------------

test('_rewrite: array rules, bindings, formats, query overrides and the database prefix', async () => {
  let r = await text(t.request.get('/d/_design/template/_rewrite/foo'));
  assert.equal(r.body, 'Empty World');
  r = await text(t.request.put('/d/_design/template/_rewrite/hello/rw1'));
  assert.equal(r.status, 201);
  assert.equal(r.body, '<p>New World</p>');
  const welcome = await t.request.get('/d/_design/template/_rewrite/welcome/user');
  assert.equal(welcome.body.query.name, 'user');
  assert.deepEqual(welcome.body.requested_path, ['d', '_design', 'template', '_rewrite', 'welcome', 'user']);
  assert.deepEqual(welcome.body.path, ['d', '_design', 'template', '_show', 'req-info']);
  const view = await t.request.get('/d/_design/template/_rewrite/basicView');
  assert.equal(view.body.total_rows, 10);
  assert.equal((await t.request.get('/d/_design/template/_rewrite')).body.total_rows, 10);
  r = await text(t.request.get('/d/_design/template/_rewrite/simpleForm/basicViewFixed?startkey=4'));
  assert.match(r.body, /FirstKey: 3 LastKey: 8/);
  r = await text(t.request.get('/d/_design/template/_rewrite/simpleForm/basicViewPath/3/8'));
  assert.match(r.body, /FirstKey: 3 LastKey: 8/);
  const meta = await t.request.get('/d/_design/template/_rewrite/db/_design/template?meta=true');
  assert.equal(meta.body._id, '_design/template');
  assert.ok('_revs_info' in meta.body);
  const missing = await t.request.get('/d/_design/template/_rewrite/nomatch');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.reason, 'missing');
});

test('_rewrite: loops stop, climbing out of the database is refused', async () => {
  const loop = await t.request.get('/d/_design/template/_rewrite/loop');
  assert.equal(loop.status, 400);
  assert.equal(loop.body.reason, 'Exceeded rewrite recursion limit');
  await put('/d/_design/climb', { rewrites: [{ from: 'uuids', to: '../../../_uuids' }] });
  const climb = await t.request.get('/d/_design/climb/_rewrite/uuids');
  assert.equal(climb.status, 500);
  assert.equal(climb.body.error, 'insecure_rewrite_rule');
  // A bound value of ".." is one segment, not a way up.
  await put('/d/_design/bound', { rewrites: [{ from: 'x/:id', to: '../../:id' }] });
  const dots = await t.request.get('/d/_design/bound/_rewrite/x/..');
  assert.notEqual(dots.status, 200);
  // A function's path is not bounded (rewrite_js_test.exs "path relative to server").
  await put('/d/_design/jsclimb', { rewrites: 'function(req) { return "../../../_uuids"; }' });
  const js = await t.request.get('/d/_design/jsclimb/_rewrite/x');
  assert.equal(js.status, 200);
  assert.equal(js.body.uuids.length, 1);
});

test('_rewrite: httpd/secure_rewrites = false lets rules climb; rewrite_limit is read live', async () => {
  const setConfig = (key: string, value: string) =>
    t.request.put(`/_node/_local/_config/httpd/${key}`).set('X-Couch-Persist', 'false').set(json).send(JSON.stringify(value)).expect(200);
  await setConfig('secure_rewrites', 'false');
  await setConfig('rewrite_limit', '2');
  try {
    const climb = await t.request.get('/d/_design/climb/_rewrite/uuids');
    assert.equal(climb.status, 200);
    assert.equal(climb.body.uuids.length, 1);
    // Serial requests are not counted as one loop (rewrite_test.exs).
    for (let i = 0; i < 3; i++) assert.equal((await t.request.get('/d/_design/template/_rewrite/basicView')).status, 200);
    assert.equal((await t.request.get('/d/_design/template/_rewrite/loop')).status, 400);
  } finally {
    await t.request.delete('/_node/_local/_config/httpd/secure_rewrites').set('X-Couch-Persist', 'false');
    await t.request.delete('/_node/_local/_config/httpd/rewrite_limit').set('X-Couch-Persist', 'false');
  }
});

test('_rewrite: a function that reads the request keeps its body for the rewritten request', async () => {
  await put('/d/_design/qs', { rewrites: "function (r) { return {path: '../../_changes', query: {'filter': '_doc_ids'}};};" });
  const r = await t.request.post('/d/_design/qs/_rewrite').set(json).send(JSON.stringify({ doc_ids: ['test-doc-id'] }));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.results.map((x: { id: string }) => x.id), ['test-doc-id']);
});

test('_rewrite: a JS function sets path, query, method, body, or answers itself', async () => {
  await put('/d/_design/js', {
    rewrites:
      'function(req) { var p = req.path.slice(4).join("/"); if (p === "doc") return { path: "../../test-doc-id" }; if (p === "q") return { path: "_show/req-info", query: { a: "b" } }; if (p === "post") return { path: "../../_design/template/_update/get-uuid", method: "POST" }; if (p === "teapot") return { code: 418, headers: { "X-T": "1" }, body: "short and stout" }; if (p === "bad") return { path: 5 }; return null; }',
  });
  assert.equal((await t.request.get('/d/_design/js/_rewrite/doc')).body.name, 'Rusty');
  // `_show/req-info` of the `js` ddoc does not exist: it answers 404 for the missing function.
  assert.equal((await t.request.get('/d/_design/js/_rewrite/q')).status, 404);
  const post = await text(t.request.get('/d/_design/js/_rewrite/post'));
  assert.equal(post.status, 200);
  assert.equal(post.body.length, 32);
  const tea = await text(t.request.get('/d/_design/js/_rewrite/teapot'));
  assert.equal(tea.status, 418);
  assert.equal(tea.body, 'short and stout');
  assert.equal(tea.headers['x-t'], '1');
  const bad = await t.request.get('/d/_design/js/_rewrite/bad');
  assert.equal(bad.status, 500);
  assert.equal(bad.body.reason, 'bad path');
  const none = await t.request.get('/d/_design/js/_rewrite/none');
  assert.equal(none.status, 404);
  assert.equal(none.body.error, 'rewrite_error');
});

// ---- languages, compilation, require (design_docs_test.exs, erlang/coffee) -------------------

test('languages: any is stored; code of one Chaise does not run answers unknown_query_language', async () => {
  await put('/d/_design/erl', { language: 'erlang', views: { v: { map: 'fun({Doc}) -> Emit(null, null) end.' } }, shows: { s: 'fun(Doc, Req) -> ok end.' } });
  await put('/d/_design/cobol', { language: 'cobol', views: { v: { map: 'x' } } });
  for (const path of ['/d/_design/erl/_view/v', '/d/_design/erl/_show/s', '/d/_design/cobol/_view/v']) {
    const r = await t.request.get(path);
    assert.equal(r.status, 400, path);
    assert.equal(r.body.error, 'unknown_query_language');
  }
  assert.equal((await t.request.get('/d/_design/erl/_view/v')).body.reason, 'erlang');
});

test('function sources with a trailing semicolon or comments compile', async () => {
  await put('/d/_design/semi', {
    views: {
      a: { map: 'function (doc) { if (doc.integer === 1) emit(doc._id, 1); };' },
      b: { map: '// leading comment\nfunction (doc) { if (doc.integer === 1) emit(doc._id, 2); } // trailing' },
      c: { map: '/* block */ function (doc) { if (doc.integer === 1) emit(doc._id, 3); } ;\n' },
    },
  });
  for (const [v, value] of [['a', 1], ['b', 2], ['c', 3]] as const) {
    const r = await t.request.get(`/d/_design/semi/_view/${v}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.rows, [{ id: '1', key: '1', value }]);
  }
  const broken = await t.request.put('/d/_design/broken').set(json).send({ views: { v: { map: 'function (doc) { emit(' } } });
  assert.equal(broken.status, 400);
  assert.equal(broken.body.error, 'compilation_error');
});

test('require(): relative paths, module.id, circular requires, views.lib in maps', async () => {
  await put('/d/_design/cjs', {
    whatever: {
      stringzone: "exports.string = 'plankton';",
      commonjs: {
        whynot: "exports.test = require('../stringzone'); exports.foo = require('whatever/stringzone');",
        upper: "exports.testing = require('./whynot').test.string.toUpperCase()+module.id+require('./whynot').foo.string",
        circular_one: "require('./circular_two'); exports.name = 'One';",
        circular_two: "require('./circular_one'); exports.name = 'Two';",
      },
      idtest1: { a: { b: { d: "module.exports = require('../c/e').id;" }, c: { e: 'exports.id = module.id;' } } },
      idtest2: { a: { b: { d: "module.exports = require('../../a/c/e').id;" }, c: { e: 'exports.id = module.id;' } } },
      idtest3: { a: { b: "module.exports = require('./c/d').id;", c: { d: "module.exports = require('./e');", e: 'exports.id = module.id;' } } },
      idtest4: { a: { b: "module.exports = require('../a/./c/d').id;", c: { d: "module.exports = require('./e');", e: 'exports.id = module.id;' } } },
      idtest5: { a: "module.exports = require('whatever/idtest5/b').id;", b: 'exports.id = module.id;' },
    },
    views: {
      lib: { foo: { boom: "exports.boom = 'ok';" } },
      commonjs: { map: "function(doc) { emit(null, require('views/lib/foo/boom').boom); }" },
    },
    shows: {
      requirey: "function() { return require('whatever/commonjs/upper').testing; }",
      circular: "function() { require('whatever/commonjs/upper'); return JSON.stringify(this); }",
      circular_require: "function() { return require('whatever/commonjs/circular_one').name; }",
      idtest1: "function() { return require('whatever/idtest1/a/b/d'); }",
      idtest2: "function() { return require('whatever/idtest2/a/b/d'); }",
      idtest3: "function() { return require('whatever/idtest3/a/b'); }",
      idtest4: "function() { return require('whatever/idtest4/a/b'); }",
      idtest5: "function() { return require('whatever/idtest5/a'); }",
    },
  });
  const show = async (name: string) => (await text(t.request.get(`/d/_design/cjs/_show/${name}`))).body;
  assert.equal(await show('requirey'), 'PLANKTONwhatever/commonjs/upperplankton');
  assert.equal((JSON.parse(await show('circular')) as { _id: string })._id, '_design/cjs');
  assert.equal(await show('circular_require'), 'One');
  assert.equal(await show('idtest1'), 'whatever/idtest1/a/c/e');
  assert.equal(await show('idtest2'), 'whatever/idtest2/a/c/e');
  assert.equal(await show('idtest3'), 'whatever/idtest3/a/c/e');
  assert.equal(await show('idtest4'), 'whatever/idtest4/a/c/e');
  assert.equal(await show('idtest5'), 'whatever/idtest5/b');
  const v = await t.request.get('/d/_design/cjs/_view/commonjs?limit=1');
  assert.equal(v.body.rows[0].value, 'ok');
});

// ---- hostile functions ----------------------------------------------------------------------

test('hostile design functions are stopped and the node keeps serving', async () => {
  const loop = await t.request.get('/d/_design/template/_show/loop');
  assert.equal(loop.status, 500);
  assert.equal(loop.body.error, 'os_process_error');
  assert.match(loop.body.reason, /timed out/);
  const garbage = await t.request.get('/d/_design/template/_show/garbage');
  assert.equal(garbage.status, 500);
  assert.equal(garbage.body.error, 'external_response_error');
  const upd = await t.request.post('/d/_design/template/_update/garbage');
  assert.equal(upd.status, 500);
  assert.equal(upd.body.error, 'render_error');
  // A list that sends forever never asks for a row: it is stopped at the call timeout (or when its
  // isolate's memory runs out), the client gets the error, and nothing is left running.
  const forever = await text(t.request.get('/d/_design/template/_list/sendForever/basicView'));
  assert.ok(forever.status === 500 || /os_process_error/.test(forever.body), `${forever.status} ${forever.body.slice(0, 200)}`);
  // Still serving: a show of the same design doc, and a plain read.
  assert.equal((await text(t.request.get('/d/_design/template/_show/hello/test-doc-id'))).body, 'Hello World');
  assert.equal((await t.request.get('/d/test-doc-id')).status, 200);
});

// ---- streaming ------------------------------------------------------------------------------

test('a list streams: output arrives before the list ends, and a client that leaves stops it', async () => {
  await t.request.put('/big').expect(201);
  const docs: unknown[] = [];
  for (let i = 0; i < 5000; i++) docs.push({ _id: `r${String(i).padStart(5, '0')}`, n: i });
  await t.request.post('/big/_bulk_docs').set(json).send({ docs }).expect(201);
  await put('/big/_design/l', {
    views: { all: { map: 'function(doc) { emit(doc.n, null); }' } },
    lists: {
      count: DDOC.lists.count,
      slow: 'function(head, req) { var row; while (row = getRow()) { var until = Date.now() + 2; while (Date.now() < until) {} send(row.key + "\\n"); } return "end"; }',
    },
  });
  assert.equal((await text(t.request.get('/big/_design/l/_list/count/all'))).body, '5000');

  const server = http.createServer(t.node.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    // 5000 rows at ≥2 ms each take ≥10 s; the first bytes must come long before that.
    const started = Date.now();
    const firstBytes = await new Promise<number>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/big/_design/l/_list/slow/all' }, (res) => {
        assert.equal(res.headers['transfer-encoding'], 'chunked');
        res.once('data', () => {
          resolve(Date.now() - started);
          req.destroy();
        });
      });
      req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    });
    assert.ok(firstBytes < 5000, `first output after ${firstBytes} ms`);
    // The client left: the list stops at its next crossing (it would run ≥10 s otherwise), and
    // the node answers meanwhile.
    assert.equal((await t.request.get('/d/test-doc-id')).status, 200);
    const views = t.node.services.views;
    for (let waited = 0; views.listsRunning > 0 && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    assert.equal(views.listsRunning, 0);
    assert.ok(Date.now() - started < 9000, 'the list stopped early');
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

// ---- CoffeeScript (coffee_test.exs) -----------------------------------------------------------

test('CoffeeScript design docs: views, shows, lists and filters run compiled', async () => {
  await t.request.put('/coffee').expect(201);
  const docs = [{ _id: 'a', foo: 100 }, { foo: 1 }, { foo: 1 }, { foo: 2 }, { foo: 2 }, { bar: 1 }, { bar: 1 }, { bar: 2 }, { bar: 2 }];
  await t.request.post('/coffee/_bulk_docs').set(json).send({ docs }).expect(201);
  await put('/coffee/_design/coffee', {
    language: 'coffeescript',
    views: { myview: { map: '(doc) -> if doc.foo\n  emit(doc.foo, 1)', reduce: '(keys, values, rereduce) ->\n  sum = 0\n  for x in values\n    sum = sum + x\n  sum' } },
    shows: { myshow: '(doc) ->\n  "Foo #{doc.foo}"' },
    lists: { mylist: '(head, req) ->\n  while row = getRow()\n    send(toJSON({"resp": "Foo #{row.value}"}))\n  return' },
    filters: { filter: '(doc) ->\n  doc.foo' },
  });
  assert.equal((await t.request.get('/coffee/_design/coffee/_view/myview')).body.rows[0].value, 5);
  assert.equal((await text(t.request.get('/coffee/_design/coffee/_show/myshow/a'))).body, 'Foo 100');
  assert.equal(JSON.parse((await text(t.request.get('/coffee/_design/coffee/_list/mylist/myview'))).body).resp, 'Foo 5');
  assert.equal((await t.request.get('/coffee/_changes?filter=coffee/filter')).body.results.length, 5);
  const broken = await t.request.put('/coffee/_design/broken').set(json).send({ language: 'coffeescript', views: { v: { map: '(doc) -> emit(' } } });
  assert.equal(broken.status, 400);
  assert.equal(broken.body.error, 'compilation_error');
});
