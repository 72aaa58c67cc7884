// The HTTP details clients lean on beyond what the recorded fixtures reach: caching (ETags and
// If-None-Match on docs, _all_docs, views and attachments), write modes (batch=ok, w,
// X-HTTP-Method-Override), CouchDB's HTML form upload, Location behind a proxy, _uuids' cache
// headers, _design_docs, and parameters given both in the URL and in a body. Expected answers
// follow CouchDB 3.5's chttpd/chttpd_db/couch_mrview_http (each test says which).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type supertest from 'supertest';
import { nodeForFile } from './helpers/in-process-node.js';

let request: ReturnType<typeof supertest>;
nodeForFile((t) => {
  request = t.request;
});

const DB = 'details';

test('setup', async () => {
  assert.equal((await request.put('/' + DB)).status, 201);
  for (const id of ['a', 'b', 'c']) assert.equal((await request.put(`/${DB}/${id}`).send({ n: id })).status, 201);
  const ddoc = { views: { by_n: { map: 'function (doc) { if (doc.n) emit(doc.n, null); }' } } };
  assert.equal((await request.put(`/${DB}/_design/app`).send(ddoc)).status, 201);
});

test('If-None-Match (strong, weak, or in a list) → 304 with an empty body on docs, _all_docs, views and attachments', async () => {
  const paths = [`/${DB}/a`, `/${DB}/_all_docs`, `/${DB}/_design_docs`, `/${DB}/_design/app/_view/by_n`];
  for (const path of paths) {
    const first = await request.get(path);
    assert.equal(first.status, 200, path);
    const etag = first.headers.etag as string;
    assert.match(etag, /^".+"$/, `${path} has an ETag`);
    for (const form of [etag, `W/${etag}`, `"other", ${etag}`]) {
      const again = await request.get(path).set('if-none-match', form);
      assert.equal(again.status, 304, `${path} with ${form}`);
      assert.equal(again.headers['content-length'], '0');
      assert.equal(again.headers.etag, etag);
    }
    assert.equal((await request.get(path).set('if-none-match', '"stale"')).status, 200);
  }
  // A write changes the answers, so the old ETags no longer match.
  const allDocs = (await request.get(`/${DB}/_all_docs`)).headers.etag as string;
  const view = (await request.get(`/${DB}/_design/app/_view/by_n`)).headers.etag as string;
  await request.put(`/${DB}/d`).send({ n: 'd' });
  assert.equal((await request.get(`/${DB}/_all_docs`).set('if-none-match', allDocs)).status, 200);
  const fresh = await request.get(`/${DB}/_design/app/_view/by_n`).set('if-none-match', view);
  assert.equal(fresh.status, 200);
  assert.equal(fresh.body.rows.length, 4);
  // Different queries, different ETags.
  assert.notEqual((await request.get(`/${DB}/_all_docs?limit=1`)).headers.etag, (await request.get(`/${DB}/_all_docs?limit=2`)).headers.etag);

  const att = await request.put(`/${DB}/withatt/f.txt`).set('content-type', 'text/plain').send('hello');
  assert.equal(att.status, 201);
  const got = await request.get(`/${DB}/withatt/f.txt`);
  const etag = got.headers.etag as string;
  assert.equal((await request.get(`/${DB}/withatt/f.txt`).set('if-none-match', `W/${etag}`)).status, 304);
});

test('an error answer carries no ETag', async () => {
  const res = await request.get(`/${DB}/_all_docs?limit=x`);
  assert.equal(res.status, 400);
  assert.equal(res.headers.etag, undefined);
});

test('batch=ok is 202 {ok, id} for POST /db and PUT, and a failed batch write is dropped', async () => {
  const post = await request.post(`/${DB}?batch=ok`).send({ _id: 'batched', v: 1 });
  assert.deepEqual([post.status, post.body], [202, { ok: true, id: 'batched' }]);
  assert.equal(post.headers.location, undefined);
  const conflict = await request.put(`/${DB}/batched?batch=ok`).send({ v: 2 });
  assert.deepEqual([conflict.status, conflict.body], [202, { ok: true, id: 'batched' }]);
  assert.equal((await request.get(`/${DB}/batched`)).body.v, 1, 'the conflicting write was dropped');
  // A malformed request is still refused.
  assert.equal((await request.put(`/${DB}/batched2?batch=ok`).send('[1]').set('content-type', 'application/json')).status, 400);
});

test('w above the one copy a node keeps → 202 on PUT, POST, DELETE and _bulk_docs; w=1 → 201', async () => {
  const put = await request.put(`/${DB}/w?w=2`).send({});
  assert.equal(put.status, 202);
  assert.equal((await request.put(`/${DB}/w1?w=1`).send({})).status, 201);
  assert.equal((await request.post(`/${DB}?w=3`).send({ _id: 'wpost' })).status, 202);
  assert.equal((await request.delete(`/${DB}/w?w=2&rev=${put.body.rev}`)).status, 202);
  assert.equal((await request.post(`/${DB}/_bulk_docs`).send({ docs: [{ _id: 'wb' }], w: 2 })).status, 202);
  assert.equal((await request.post(`/${DB}/_bulk_docs?w=2`).send({ docs: [{ _id: 'wb2' }] })).status, 202);
});

test('X-HTTP-Method-Override works on POST only, with the methods chttpd lists', async () => {
  const res = await request.post(`/${DB}/overridden`).set('x-http-method-override', 'PUT').send({ v: 1 });
  assert.equal(res.status, 201);
  const del = await request.post(`/${DB}/overridden?rev=${res.body.rev}`).set('x-http-method-override', 'DELETE');
  assert.equal(del.status, 200);
  // On a GET the header is ignored.
  assert.equal((await request.get(`/${DB}/a`).set('x-http-method-override', 'DELETE')).status, 200);
  assert.equal((await request.get(`/${DB}/a`)).status, 200);
});

test('form posts: Referer required and matching the host, multipart/form-data only, then _doc or _rev with _attachments', async () => {
  const boundary = 'formboundary';
  const form = (fields: [string, string, string?][]) =>
    fields.map(([name, value, filename]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"\r\nContent-Type: text/plain` : ''}\r\n\r\n${value}\r\n`).join('') + `--${boundary}--\r\n`;
  const type = `multipart/form-data; boundary=${boundary}`;
  const noReferer = await request.post(`/${DB}/formdoc`).set('content-type', type).send(form([['_doc', '{}']]));
  assert.deepEqual(noReferer.body, { error: 'bad_request', reason: 'Referer header required.' });
  const elsewhere = await request.post(`/${DB}/formdoc`).set('referer', 'http://evil.example/page').set('content-type', type).send(form([['_doc', '{}']]));
  assert.deepEqual(elsewhere.body, { error: 'bad_request', reason: 'Referer header must match host.' });
  const host = (r: supertest.Test) => r.set('host', 'couch.local:5984').set('referer', 'http://couch.local:5984/_utils/');
  const wrongType = await host(request.post(`/${DB}/formdoc`)).set('content-type', 'application/x-www-form-urlencoded').send('a=1');
  assert.deepEqual([wrongType.status, wrongType.body], [415, { error: 'bad_content_type', reason: 'Content-Type must be multipart/form-data' }]);

  const created = await host(request.post(`/${DB}/formdoc`)).set('content-type', type).send(form([['_doc', '{"title":"from a form"}'], ['_attachments', 'file body', 'note.txt']]));
  assert.equal(created.status, 201);
  assert.equal(created.headers.etag, `"${created.body.rev}"`);
  assert.equal((await request.get(`/${DB}/formdoc/note.txt`)).text, 'file body');
  // From an existing revision: its attachments stay, the posted one is added.
  const more = await host(request.post(`/${DB}/formdoc`)).set('content-type', type).send(form([['_rev', created.body.rev], ['_attachments', 'second', 'two.txt']]));
  assert.equal(more.status, 201);
  const doc = (await request.get(`/${DB}/formdoc`)).body;
  assert.equal(doc.title, 'from a form');
  assert.deepEqual(Object.keys(doc._attachments).sort(), ['note.txt', 'two.txt']);
});

test('Location honours X-Forwarded-Host (and X-Forwarded-Proto), as chttpd:absolute_uri does', async () => {
  const res = await request.put(`/${DB}/located`).set('x-forwarded-host', 'db.example.com').set('x-forwarded-proto', 'https').send({});
  assert.equal(res.headers.location, `https://db.example.com/${DB}/located`);
  const plain = await request.put(`/${DB}/located2`).set('host', 'node.local:5984').send({});
  assert.equal(plain.headers.location, `http://node.local:5984/${DB}/located2`);
});

test('_uuids is never cached: no-cache, Pragma, a past Expires, and an ETag; other methods are 405', async () => {
  const res = await request.get('/_uuids?count=2');
  assert.equal(res.headers['cache-control'], 'no-cache');
  assert.equal(res.headers.pragma, 'no-cache');
  assert.equal(res.headers.expires, 'Mon, 01 Jan 1990 00:00:00 GMT');
  assert.match(res.headers.etag as string, /^"[0-9A-Z]+"$/);
  assert.deepEqual((await request.post('/_uuids').send({})).body, { error: 'method_not_allowed', reason: 'Only GET allowed' });
});

test('_uuids and POSTed doc ids follow [uuids] algorithm and utc_id_suffix as soon as they change', async () => {
  const set = (key: string, value: string) =>
    request.put(`/_node/_local/_config/uuids/${key}`).set('X-Couch-Persist', 'false').send(JSON.stringify(value)).expect(200);
  await set('algorithm', 'utc_id');
  await set('utc_id_suffix', 'frog');
  try {
    const ids = (await request.get('/_uuids?count=10')).body.uuids as string[];
    for (const id of ids) assert.match(id, /^[0-9a-f]{14}frog$/);
    const posted = await request.post('/' + DB).send({ x: 1 });
    assert.match(posted.body.id, /^[0-9a-f]{14}frog$/);
    await set('algorithm', 'random');
    assert.match((await request.get('/_uuids')).body.uuids[0], /^[0-9a-f]{32}$/);
  } finally {
    await request.delete('/_node/_local/_config/uuids/algorithm').set('X-Couch-Persist', 'false');
    await request.delete('/_node/_local/_config/uuids/utc_id_suffix').set('X-Couch-Persist', 'false');
  }
});

test('JSONP: ignored unless [httpd] allow_jsonp; then docs, views and _changes are wrapped; bad callbacks are 400', async () => {
  const doc = await request.get(`/${DB}/a?callback=cb`);
  assert.equal(doc.headers['content-type'], 'application/json');
  assert.equal(doc.body._id, 'a');
  await request.put('/_node/_local/_config/httpd/allow_jsonp').set('X-Couch-Persist', 'false').send('"true"').expect(200);
  try {
    const unwrap = (text: string, name: string) => {
      const m = /^\/\* CouchDB \*\/([\w.[\]]+)\((.*)\);\n$/s.exec(text);
      assert.ok(m, text);
      assert.equal(m[1], name);
      return JSON.parse(m[2] as string);
    };
    const raw = (path: string) => request.get(path).buffer(true).parse((res, cb) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => cb(null, data));
    });
    let r = await raw(`/${DB}/a?callback=jsonp_no_chunk`);
    assert.equal(r.headers['content-type'], 'application/javascript');
    assert.equal(unwrap(r.body as string, 'jsonp_no_chunk')._id, 'a');
    r = await raw(`/${DB}/_design/app/_view/by_n?callback=a.b[0]`);
    assert.equal(r.headers['content-type'], 'application/javascript');
    const view = unwrap(r.body as string, 'a.b[0]');
    assert.equal(view.rows.length, view.total_rows);
    r = await raw(`/${DB}/_changes?callback=feed`);
    assert.equal(r.headers['content-type'], 'application/javascript');
    assert.ok(Array.isArray(unwrap(r.body as string, 'feed').results));
    for (const bad of ['jsonp"', "jsonp'", 'a(b)']) {
      const e = await request.get(`/${DB}/a?callback=${encodeURIComponent(bad)}`);
      assert.equal(e.status, 400);
      assert.deepEqual(e.body, { error: 'bad_request', reason: 'invalid_callback' });
    }
  } finally {
    await request.delete('/_node/_local/_config/httpd/allow_jsonp').set('X-Couch-Persist', 'false');
  }
});

test('_design_docs counts, offsets and looks up design docs only', async () => {
  await request.put(`/${DB}/_design/zz`).send({});
  const all = await request.get(`/${DB}/_design_docs`);
  assert.deepEqual([all.body.total_rows, all.body.offset], [2, 0]);
  assert.deepEqual(all.body.rows.map((r: { id: string }) => r.id), ['_design/app', '_design/zz']);
  const from = await request.get(`/${DB}/_design_docs?startkey="_design/b"`);
  assert.deepEqual([from.body.offset, from.body.rows.length], [1, 1]);
  const desc = await request.get(`/${DB}/_design_docs?descending=true&limit=1`);
  assert.deepEqual(desc.body.rows.map((r: { id: string }) => r.id), ['_design/zz']);
  const keys = await request.post(`/${DB}/_design_docs`).send({ keys: ['_design/app', 'a'] });
  assert.deepEqual(keys.body.rows.map((r: { id?: string; error?: string }) => r.id ?? r.error), ['_design/app', 'not_found']);
});

test('a parameter in both the URL and a POSTed body takes the URL value (_all_docs and views)', async () => {
  const all = await request.post(`/${DB}/_all_docs?limit=1`).send({ limit: 3 });
  assert.equal(all.body.rows.length, 1);
  const bodyOnly = await request.post(`/${DB}/_all_docs`).send({ limit: 2 });
  assert.equal(bodyOnly.body.rows.length, 2);
  const view = await request.post(`/${DB}/_design/app/_view/by_n?limit=1`).send({ limit: 3 });
  assert.equal(view.body.rows.length, 1);
  // Members of `queries` override the URL's.
  const multi = await request.post(`/${DB}/_design/app/_view/by_n/queries?limit=1`).send({ queries: [{ limit: 2 }, {}] });
  assert.deepEqual(multi.body.results.map((r: { rows: unknown[] }) => r.rows.length), [2, 1]);
});

test('_all_docs keys: reversed by descending, one key may come with key, several may not come with a range', async () => {
  const desc = await request.post(`/${DB}/_all_docs?descending=true`).send({ keys: ['a', 'nope', 'c'] });
  assert.deepEqual(desc.body.rows.map((r: { key: string }) => r.key), ['c', 'nope', 'a']);
  const one = await request.post(`/${DB}/_all_docs?key="a"`).send({ keys: ['a'] });
  assert.deepEqual([one.status, one.body.offset, one.body.rows.length], [200, null, 1]);
  const many = await request.post(`/${DB}/_all_docs?startkey="a"`).send({ keys: ['a', 'b'] });
  assert.deepEqual([many.status, many.body], [400, { error: 'query_parse_error', reason: '`keys` is incompatible with `key`, `start_key` and `end_key`' }]);
  // startkey after endkey is no rows (not an error, unlike a view), with the offset where the walk would start.
  const none = await request.get(`/${DB}/_all_docs?startkey="z"&endkey="a"`);
  assert.deepEqual([none.status, none.body.rows, none.body.offset], [200, [], none.body.total_rows]);
});

test('_changes?filter=_design shows design documents only', async () => {
  const res = await request.get(`/${DB}/_changes?filter=_design`);
  assert.deepEqual(res.body.results.map((r: { id: string }) => r.id).sort(), ['_design/app', '_design/zz']);
});

test('_local_docs: POSTed body members are parameters (the URL wins), GET takes keys; /db/_local%2F is 400', async () => {
  for (const id of ['foo', 'foo2']) assert.equal((await request.put(`/${DB}/_local/${id}`).send({ bar: id })).status, 201);
  const keys = ['_local/foo', '_local/foo2'];
  assert.equal((await request.post(`/${DB}/_local_docs`).send({ keys, limit: 1 })).body.rows.length, 1);
  assert.equal((await request.post(`/${DB}/_local_docs?limit=0`).send({ keys, limit: 2 })).body.rows.length, 0);
  assert.equal((await request.post(`/${DB}/_local_docs?limit=1`).send({ keys })).body.rows.length, 1);
  const byKey = await request.get(`/${DB}/_local_docs`).query({ keys: JSON.stringify(['_local/foo2']) });
  assert.deepEqual(byKey.body.rows.map((r: { id: string }) => r.id), ['_local/foo2']);
  for (const path of [`/${DB}/_local`, `/${DB}/_local%2F`]) {
    const res = await request.put(path).send({});
    assert.deepEqual([res.status, res.body.error], [400, 'bad_request'], path);
  }
});
