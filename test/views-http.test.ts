// Every case of test/fixtures/views-couchdb.json (answers recorded from Apache CouchDB 3.5) asked
// over HTTP of a whole node: the docs and the design doc are written through the API, then each
// view query must give CouchDB's status and body. `update_seq` compares by its numeric prefix
// (CouchDB's is an opaque string); error bodies compare `error` and `reason`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { inProcessNode } from './helpers/in-process-node.js';

interface ViewCase {
  path: string;
  method?: string;
  request?: unknown;
  status: number;
  body: Record<string, unknown>;
}
const fixture = JSON.parse(readFileSync('test/fixtures/views-couchdb.json', 'utf8')) as {
  docs: Record<string, unknown>[];
  design: Record<string, unknown>;
  cases: ViewCase[];
};

function normalize(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  if ('update_seq' in out) out.update_seq = Number(String(out.update_seq).split('-')[0]);
  if ('ref' in out) delete out.ref;
  // `rev` of included docs is implementation-specific: compare the generation only.
  if (Array.isArray(out.rows)) {
    out.rows = (out.rows as Record<string, unknown>[]).map((r) => {
      if (!r.doc || typeof r.doc !== 'object') return r;
      const doc = { ...(r.doc as Record<string, unknown>) };
      if (typeof doc._rev === 'string') doc._rev = doc._rev.split('-')[0];
      return { ...r, doc };
    });
  }
  return out;
}

test('every recorded CouchDB 3.5 view query gives the same answer over HTTP', async (t) => {
  const { request, close } = await inProcessNode();
  try {
    await request.put('/views').expect(201);
    const bulk = await request.post('/views/_bulk_docs').set('content-type', 'application/json').send({ docs: fixture.docs });
    assert.equal(bulk.status, 201);
    await request.put('/views/_design/v').set('content-type', 'application/json').send(fixture.design).expect(201);
    for (const c of fixture.cases) {
      await t.test(`${c.method ?? 'GET'} ${c.path}`, async () => {
        const path = c.path.replace('{db}', 'views');
        const res =
          c.method === 'POST'
            ? await request.post(path).set('content-type', 'application/json').send(JSON.stringify(c.request))
            : await request.get(path);
        assert.equal(res.status, c.status, JSON.stringify(res.body).slice(0, 300));
        assert.deepEqual(normalize(res.body as Record<string, unknown>), normalize(c.body));
      });
    }
  } finally {
    await close();
  }
});

test('validate_doc_update runs on every write, replicated ones included', async () => {
  const { request, close } = await inProcessNode();
  try {
    await request.put('/guarded').expect(201);
    const vdu = 'function(newDoc, oldDoc, userCtx, secObj) { if (newDoc.bad) throw({forbidden: "no bad docs"}); if (newDoc.anon) throw({unauthorized: "log in"}); }';
    await request.put('/guarded/_design/rules').set('content-type', 'application/json').send({ validate_doc_update: vdu }).expect(201);
    const forbidden = await request.put('/guarded/x').set('content-type', 'application/json').send({ bad: true });
    assert.equal(forbidden.status, 403);
    assert.deepEqual(forbidden.body, { error: 'forbidden', reason: 'no bad docs' });
    const unauthorized = await request.put('/guarded/y').set('content-type', 'application/json').send({ anon: true });
    assert.equal(unauthorized.status, 401);
    assert.deepEqual(unauthorized.body, { error: 'unauthorized', reason: 'log in' });
    const bulk = await request
      .post('/guarded/_bulk_docs')
      .set('content-type', 'application/json')
      .send({ docs: [{ _id: 'ok' }, { _id: 'no', bad: true }] })
      .expect(201);
    assert.equal(bulk.body[0].ok, true);
    assert.deepEqual(bulk.body[1], { id: 'no', error: 'forbidden', reason: 'no bad docs' });
    const replicated = await request
      .post('/guarded/_bulk_docs')
      .set('content-type', 'application/json')
      .send({ new_edits: false, docs: [{ _id: 'r1', _rev: '1-abc', bad: true }, { _id: 'r2', _rev: '1-def' }] })
      .expect(201);
    assert.deepEqual(replicated.body, [{ id: 'r1', error: 'forbidden', reason: 'no bad docs' }]);
    await request.get('/guarded/r1').expect(404);
    await request.get('/guarded/r2').expect(200);
    const broken = await request.put('/guarded/_design/broken').set('content-type', 'application/json').send({ views: { v: { map: 'function(doc) { emit(' } } });
    assert.equal(broken.status, 400);
  } finally {
    await close();
  }
});

test('_changes filters: a design-doc filter with req.query, and _view', async () => {
  const { request, close } = await inProcessNode();
  try {
    await request.put('/f').expect(201);
    await request
      .put('/f/_design/app')
      .set('content-type', 'application/json')
      .send({
        filters: { by_type: 'function(doc, req) { return doc.type === req.query.type; }' },
        views: { typed: { map: 'function(doc) { if (doc.type === "b") emit(doc._id); }' } },
      })
      .expect(201);
    await request.post('/f/_bulk_docs').set('content-type', 'application/json').send({ docs: [{ _id: 'a1', type: 'a' }, { _id: 'b1', type: 'b' }, { _id: 'a2', type: 'a' }] }).expect(201);
    const byType = await request.get('/f/_changes?filter=app/by_type&type=a').expect(200);
    assert.deepEqual(byType.body.results.map((r: { id: string }) => r.id), ['a1', 'a2']);
    const byView = await request.get('/f/_changes?filter=_view&view=app/typed').expect(200);
    assert.deepEqual(byView.body.results.map((r: { id: string }) => r.id), ['b1']);
    const missing = await request.get('/f/_changes?filter=app/nope').expect(404);
    assert.equal(missing.body.error, 'not_found');
  } finally {
    await close();
  }
});

test('Mango: _index, _find with a selector, sort and fields, _explain', async () => {
  const { request, close } = await inProcessNode();
  try {
    await request.put('/m').expect(201);
    const docs = Array.from({ length: 20 }, (_, i) => ({ _id: `p${String(i).padStart(2, '0')}`, age: i * 3, kind: i % 2 ? 'odd' : 'even' }));
    await request.post('/m/_bulk_docs').set('content-type', 'application/json').send({ docs }).expect(201);
    const noIndex = await request.post('/m/_find').set('content-type', 'application/json').send({ selector: { age: { $gt: 50 } } }).expect(200);
    assert.deepEqual(noIndex.body.docs.map((d: { _id: string }) => d._id), ['p17', 'p18', 'p19']);
    assert.match(noIndex.body.warning, /No matching index found/);
    const idx = await request.post('/m/_index').set('content-type', 'application/json').send({ index: { fields: ['age'] }, name: 'by-age' }).expect(200);
    assert.equal(idx.body.result, 'created');
    const found = await request
      .post('/m/_find')
      .set('content-type', 'application/json')
      .send({ selector: { age: { $gte: 30 }, kind: 'odd' }, sort: [{ age: 'desc' }], fields: ['_id', 'age'], limit: 3 })
      .expect(200);
    assert.deepEqual(found.body.docs, [{ _id: 'p19', age: 57 }, { _id: 'p17', age: 51 }, { _id: 'p15', age: 45 }]);
    const explain = await request.post('/m/_explain').set('content-type', 'application/json').send({ selector: { age: { $gt: 1 } } }).expect(200);
    assert.equal(explain.body.index.name, 'by-age');
    const list = await request.get('/m/_index').expect(200);
    assert.ok(list.body.indexes.some((i: { name: string }) => i.name === 'by-age'));
  } finally {
    await close();
  }
});

test('a hostile map (infinite loop) fails its own index with a clear error while the node keeps serving', async () => {
  const { request, close } = await inProcessNode();
  try {
    await request.put('/hostile').expect(201);
    await request.put('/hostile/d1').set('content-type', 'application/json').send({ a: 1 }).expect(201);
    await request
      .put('/hostile/_design/evil')
      .set('content-type', 'application/json')
      .send({ views: { spin: { map: 'function(doc) { while (true) {} }' }, escape: { map: 'function(doc) { emit(typeof process, typeof require); }' } } })
      .expect(201);
    const started = Date.now();
    const spin = request.get('/hostile/_design/evil/_view/spin');
    // Other requests are answered while the runaway map burns its time budget in its isolate.
    const during = await request.get('/hostile/d1').expect(200);
    assert.equal(during.body.a, 1);
    assert.ok(Date.now() - started < 2000, 'answered while the map was still running');
    const res = await spin;
    assert.equal(res.status, 500);
    assert.equal(typeof res.body.error, 'string');
    assert.equal(typeof res.body.reason, 'string');
    await request.get('/').expect(200);
  } finally {
    await close();
  }
});

test('several queries of one view in one request answer as each would alone (`/queries`)', async () => {
  const { request, close } = await inProcessNode();
  try {
    await request.put('/multi').expect(201);
    await request.post('/multi/_bulk_docs').set('content-type', 'application/json').send({ docs: fixture.docs }).expect(201);
    await request.put('/multi/_design/v').set('content-type', 'application/json').send(fixture.design).expect(201);
    // Every recorded GET of one view becomes a member of `queries`, its parameters JSON-decoded.
    const recorded = fixture.cases.filter((c) => c.method === undefined && c.status === 200 && /\/_design\/v\/_view\/by_key(\?|$)/.test(c.path));
    assert.ok(recorded.length >= 10);
    const queries = recorded.map((c) => {
      const params: Record<string, unknown> = {};
      for (const [k, v] of new URL(c.path.replace('{db}', 'multi'), 'http://x').searchParams) {
        try {
          params[k] = JSON.parse(v);
        } catch {
          params[k] = v;
        }
      }
      return params;
    });
    for (const path of ['/multi/_design/v/_view/by_key/queries', '/multi/_design/v/_view/by_key']) {
      const res = await request.post(path).set('content-type', 'application/json').send({ queries });
      assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
      const results = (res.body as { results: Record<string, unknown>[] }).results;
      assert.equal(results.length, recorded.length);
      results.forEach((r, i) => assert.deepEqual(normalize(r), normalize(recorded[i]!.body), recorded[i]!.path));
    }
    const both = await request.post('/multi/_design/v/_view/by_key').set('content-type', 'application/json').send({ keys: ['a'], queries });
    assert.equal(both.status, 400);
    assert.deepEqual(both.body, { error: 'bad_request', reason: '`keys` and `queries` are mutually exclusive' });
  } finally {
    await close();
  }
});

test('a reduce whose output does not shrink answers a reduce_overflow_error row (view_errors_test.exs)', async () => {
  const { request, close } = await inProcessNode();
  try {
    await request.put('/overflow').expect(201);
    await request.put('/overflow/d1').set('content-type', 'application/json').send({ integer: 1 }).expect(201);
    const reduce = "function (keys, values) { var chars = []; for (var i=0; i < 1000; i++) {chars.push('wazzap');};return chars; };";
    await request
      .put('/overflow/_design/testbig')
      .set('content-type', 'application/json')
      .send({ views: { reduce_too_big: { map: 'function (doc) {emit(doc.integer, doc.integer)};', reduce } } })
      .expect(201);
    for (const query of [{}, { group: true }]) {
      const res = await request.get('/overflow/_design/testbig/_view/reduce_too_big').query(query).expect(200);
      const row = res.body.rows[0];
      // fabric_view:transform_row: a null key, the error, and the message as its reason; no value.
      assert.deepEqual(Object.keys(row).sort(), ['error', 'key', 'reason']);
      assert.equal(row.key, null);
      assert.equal(row.error, 'reduce_overflow_error');
      assert.match(row.reason, /^Reduce output must shrink more rapidly: Current output: '\["wazzap"/);
    }
  } finally {
    await close();
  }
});

test('include_docs: a value with `_rev` (and `_id`) fetches that revision (view_include_docs_test.exs "emitted _rev controls things")', async () => {
  const { request, close } = await inProcessNode();
  const json = (req: import('supertest').Test) => req.set('content-type', 'application/json');
  try {
    await request.put('/incdocs').expect(201);
    const first = await json(request.put('/incdocs/0')).send({ integer: 0 }).expect(201);
    const map = "function(doc){if(doc.prev) emit(doc._id,{'_rev':doc.prev}); else emit(doc._id,{'_rev':doc._rev});}";
    await json(request.put('/incdocs/_design/test')).send({ views: { with_prev: { map }, link: { map: "function(doc){ if (doc.link) emit(doc._id, {_id: doc.link, _rev: doc.linkRev}); }" } } }).expect(201);
    await json(request.put('/incdocs/0')).send({ _rev: first.body.rev, integer: 100, prev: first.body.rev }).expect(201);
    const res = await json(request.post('/incdocs/_design/test/_view/with_prev?include_docs=true')).send({ keys: ['0'] }).expect(200);
    assert.deepEqual(res.body.rows[0].doc, { _id: '0', _rev: first.body.rev, integer: 0 });
    // Another document's revision; a revision it does not have gives a null doc.
    await json(request.put('/incdocs/l1')).send({ link: '0', linkRev: first.body.rev }).expect(201);
    await json(request.put('/incdocs/l2')).send({ link: '0', linkRev: '9-deadbeef' }).expect(201);
    const linked = await request.get('/incdocs/_design/test/_view/link?include_docs=true').expect(200);
    assert.equal(linked.body.rows[0].doc.integer, 0);
    assert.equal(linked.body.rows[1].doc, null);
  } finally {
    await close();
  }
});
