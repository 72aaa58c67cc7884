// `_show`, `_list`, `_update` and `_rewrite` through the lounge, in front of a real 3-node,
// q=4, n=2 cluster: a show reads its doc from the doc's range, an update writes to the doc's
// range (and so is readable through the lounge at once, from any replica), a list runs over the
// merged view in CouchDB's order, and a rewrite is served at its new path.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { useCluster } from '../test-support/cluster-fixture.js';
import { call } from '../test-support/http.js';

let L = '';
const DOCS = 40;

const fx = useCluster({ nodes: 3, q: 4, n: 2, inMemory: true });

before(async () => {
  await fx.ready;
  L = fx.url;
  assert.equal((await call(L, 'PUT', '/app')).status, 201);
  const docs = [];
  for (let i = 0; i < DOCS; i++) docs.push({ _id: `d${String(i).padStart(2, '0')}`, n: i, name: `name${i}` });
  assert.equal((await call(L, 'POST', '/app/_bulk_docs', { docs })).status, 201);
  const ddoc = {
    views: { byN: { map: 'function(doc) { if (doc.n !== undefined) emit(doc.n, doc.name); }', reduce: '_count' } },
    shows: {
      hello: 'function(doc, req) { return doc ? "Hello " + doc.name : "no doc " + req.id; }',
      fmt: 'function(doc, req) { provides("json", function() { return { json: { id: doc._id } }; }); provides("html", function() { return "<b>" + doc._id + "</b>"; }); }',
    },
    lists: {
      keys: 'function(head, req) { start({ headers: { "Content-Type": "text/plain" } }); send("total " + head.total_rows + ":"); var row; while ((row = getRow())) send(" " + row.key); return ""; }',
    },
    updates: {
      bump: 'function(doc, req) { if (!doc) return [{ _id: req.id || req.uuid, count: 1 }, "created"]; doc.count = (doc.count || 0) + 1; return [doc, "bumped"]; }',
    },
    rewrites: [
      { from: '/hi/:id', to: '_show/hello/:id' },
      { from: '/doc/:id', to: '../../:id' },
      { from: '/first', to: '../../_all_docs', query: { limit: '1' } },
    ],
  };
  assert.equal((await call(L, 'PUT', '/app/_design/d', ddoc)).status, 201);
});

test('_show through the lounge reads the doc from its range', async () => {
  for (const id of ['d00', 'd17', 'd39']) {
    const r = await call(L, 'GET', `/app/_design/d/_show/hello/${id}`);
    assert.equal(r.status, 200);
    assert.equal(r.text, `Hello name${Number(id.slice(1))}`);
    assert.equal(r.headers.get('vary'), 'Accept');
  }
  const missing = await call(L, 'GET', '/app/_design/d/_show/hello/nope');
  assert.equal(missing.text, 'no doc nope');
  const html = await call(L, 'GET', '/app/_design/d/_show/fmt/d05', undefined, { accept: 'text/html' });
  assert.equal(html.text, '<b>d05</b>');
  assert.match(String(html.headers.get('content-type')), /^text\/html/);
  const etag = String(html.headers.get('etag'));
  assert.equal((await call(L, 'GET', '/app/_design/d/_show/fmt/d05', undefined, { accept: 'text/html', 'if-none-match': etag })).status, 304);
  const nofn = await call(L, 'GET', '/app/_design/d/_show/nope');
  assert.equal(nofn.status, 404);
  assert.equal(nofn.body.reason, 'missing json key: nope');
});

test('_update through the lounge writes to the doc range, readable at once', async () => {
  const made = await call(L, 'PUT', '/app/_design/d/_update/bump/u1', '');
  assert.equal(made.status, 201);
  assert.equal(made.text, 'created');
  assert.equal(made.headers.get('x-couch-id'), 'u1');
  const bumped = await call(L, 'PUT', '/app/_design/d/_update/bump/u1', '');
  assert.equal(bumped.text, 'bumped');
  const rev = bumped.headers.get('x-couch-update-newrev');
  const doc = await call(L, 'GET', '/app/u1');
  assert.equal(doc.body.count, 2);
  assert.equal(doc.body._rev, rev);
  // No id in the URL: the function names the doc (here req.uuid); it lands in its own range.
  const posted = await call(L, 'POST', '/app/_design/d/_update/bump', '');
  assert.equal(posted.status, 201);
  const id = String(posted.headers.get('x-couch-id'));
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal((await call(L, 'GET', `/app/${id}`)).body.count, 1);
  // Every shard copy has it: the doc's shards answer it directly.
  const where = await call(L, 'GET', `/app/_shards/${id}`);
  assert.equal(where.body.nodes.length, 2);
});

test('_list through the lounge runs over the merged view', async () => {
  const r = await call(L, 'GET', '/app/_design/d/_list/keys/byN?reduce=false');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/plain');
  const expected = 'total 40:' + Array.from({ length: DOCS }, (_, i) => ` ${i}`).join('');
  assert.equal(r.text, expected);
  const limited = await call(L, 'GET', '/app/_design/d/_list/keys/byN?reduce=false&startkey=5&limit=3');
  assert.equal(limited.text, 'total 40: 5 6 7');
  const reduced = await call(L, 'GET', '/app/_design/d/_list/keys/byN');
  assert.equal(reduced.text, 'total undefined: null');
  const all = await call(L, 'GET', '/app/_design/d/_list/keys/_all_docs?startkey=%22d%22&limit=2');
  assert.equal(all.text, `total ${DOCS + 3}: d00 d01`);
});

test('_rewrite resolves at the lounge', async () => {
  assert.equal((await call(L, 'GET', '/app/_design/d/_rewrite/hi/d03')).text, 'Hello name3');
  assert.equal((await call(L, 'GET', '/app/_design/d/_rewrite/doc/d04')).body.name, 'name4');
  const first = await call(L, 'GET', '/app/_design/d/_rewrite/first');
  assert.equal(first.body.rows.length, 1);
  const none = await call(L, 'GET', '/app/_design/d/_rewrite/nothing');
  assert.equal(none.status, 404);
});
