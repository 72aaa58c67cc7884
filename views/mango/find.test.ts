// Mango _find / _index / _explain through the view engine, with expectations
// from CouchDB's documented behaviour (docs.couchdb.org api/database/find.rst)
// and mango_cursor.erl / mango_opts.erl texts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ViewEngine } from '../engine/view-engine.js';
import { MemorySource } from '../testing/memory-source.js';
import { tempLmdb, type TempLmdb } from '../testing/temp-lmdb.js';
import type { DesignDoc } from '../sandbox/design-sandbox.js';

let lmdb: TempLmdb;
let engine: ViewEngine;
before(() => {
  lmdb = tempLmdb();
  engine = new ViewEngine({ db: lmdb.db });
});
after(async () => {
  await engine.close();
  await lmdb.close();
});

const NO_INDEX = 'No matching index found, create an index to optimize query time.';
const SCAN =
  'The number of documents examined is high in proportion to the number of results returned. Consider adding a more specific index to improve this.';

function movies(): MemorySource {
  const src = new MemorySource();
  const rows: [string, string, number, string][] = [
    ['m1', 'Totoro', 1988, 'miyazaki'],
    ['m2', 'Mononoke', 1997, 'miyazaki'],
    ['m3', 'Spirited Away', 2001, 'miyazaki'],
    ['m4', 'Akira', 1988, 'otomo'],
    ['m5', 'Paprika', 2006, 'kon'],
    ['m6', 'Perfect Blue', 1997, 'kon'],
  ];
  for (const [id, title, year, director] of rows) src.put({ _id: id, _rev: `1-${id}`, title, year, director, cast: { lead: `${title} lead` } });
  src.put({ _id: 'no-year', _rev: '1-x', title: 'Unknown' });
  return src;
}

function couch(status: number, error: string, reason?: string) {
  return (e: unknown): boolean => {
    const err = e as { status: number; error: string; reason: string };
    assert.equal(err.status, status);
    assert.equal(err.error, error);
    if (reason !== undefined) assert.equal(err.reason, reason);
    return true;
  };
}

/** A tiny stand-in for the server: applies createIndex/deleteIndex results to its ddoc list. */
class DdocStore {
  ddocs: DesignDoc[] = [];
  create(body: unknown): unknown {
    const r = engine.createIndex(this.ddocs, body);
    if (r.save !== null) this.ddocs = [...this.ddocs.filter((d) => d._id !== r.save!._id), r.save];
    return r.response;
  }
  remove(ddoc: string, name: string): unknown {
    const r = engine.deleteIndex(this.ddocs, ddoc, 'json', name);
    if (r.save !== null) this.ddocs = this.ddocs.map((d) => (d._id === r.save!._id ? r.save! : d));
    if (r.remove !== null) this.ddocs = this.ddocs.filter((d) => d._id !== r.remove!._id);
    return r.response;
  }
}

test('_find without an index scans _all_docs in _id order and warns', async () => {
  const src = movies();
  const res = await engine.find(src, [], { selector: { director: 'miyazaki' }, fields: ['_id', 'year'] });
  assert.deepEqual(res.docs, [
    { _id: 'm1', year: 1988 },
    { _id: 'm2', year: 1997 },
    { _id: 'm3', year: 2001 },
  ]);
  assert.equal(res.warning, NO_INDEX);
  assert.equal(typeof res.bookmark, 'string');
});

test('a poor _all_docs scan also gets the docs-examined warning, joined by a newline', async () => {
  const src = new MemorySource();
  for (let i = 0; i < 30; i++) src.put({ _id: `d${String(i).padStart(2, '0')}`, n: i });
  const res = await engine.find(src, [], { selector: { n: 7 }, execution_stats: true });
  assert.deepEqual(res.docs, [{ _id: 'd07', n: 7 }]);
  assert.equal(res.warning, `${NO_INDEX}\n${SCAN}`);
  assert.deepEqual({ ...res.execution_stats, execution_time_ms: 0 }, {
    total_keys_examined: 30,
    total_docs_examined: 30,
    total_quorum_docs_examined: 0,
    results_returned: 1,
    execution_time_ms: 0,
  });
});

test('limit, skip, nested fields, sort by _id desc, conflicts', async () => {
  const src = movies();
  src.put({ _id: 'm7', title: 'Conflicted', year: 2010, director: 'x', _conflicts: ['1-a'] });
  const res = await engine.find(src, [], {
    selector: { year: { $gte: 1990 } },
    sort: [{ _id: 'desc' }],
    skip: 1,
    limit: 2,
    fields: ['_id', 'cast.lead'],
  });
  assert.deepEqual(res.docs, [
    { _id: 'm6', cast: { lead: 'Perfect Blue lead' } },
    { _id: 'm5', cast: { lead: 'Paprika lead' } },
  ]);
  const c = await engine.find(src, [], { selector: { _id: 'm7' }, conflicts: true, fields: ['_id', '_conflicts'] });
  assert.deepEqual(c.docs, [{ _id: 'm7', _conflicts: ['1-a'] }]);
  const n = await engine.find(src, [], { selector: { _id: 'm7' } });
  assert.equal('_conflicts' in (n.docs[0] as object), false);
});

test('_find request errors have CouchDB texts', async () => {
  const src = movies();
  await assert.rejects(engine.find(src, [], { selector: {}, foo: 1 }), couch(400, 'invalid_key', 'Invalid key foo for this request.'));
  await assert.rejects(engine.find(src, [], { limit: 1 }), couch(400, 'missing_required_key', 'Missing required key: selector'));
  await assert.rejects(engine.find(src, [], { selector: {}, limit: -1 }), couch(400, 'invalid_non_neg_integer', '-1 is not an integer greater than or equal to zero'));
  await assert.rejects(engine.find(src, [], { selector: {}, fields: 'title' }), couch(400, 'invalid_fields', 'Fields must be an array of strings, not: <<"title">>'));
  await assert.rejects(engine.find(src, [], { selector: { year: { $gt: 1 } }, sort: ['year'] }), couch(400, 'no_usable_index', 'No index exists for this sort, try indexing by the sort fields.'));
  await assert.rejects(engine.find(src, [], { selector: {}, sort: [{ year: 'up' }] }), couch(400, 'invalid_sort_dir'));
  await assert.rejects(engine.find(src, [], { selector: {}, sort: ['a', { b: 'desc' }] }), couch(400, 'unsupported_mixed_sort', 'Sorts currently only support a single direction for all fields.'));
  await assert.rejects(engine.find(src, [], { selector: { year: { $foo: 1 } } }), couch(400, 'invalid_operator', 'Invalid operator: $foo'));
  await assert.rejects(engine.find(src, [], { selector: {}, bookmark: 'garbage!' }), couch(400, 'invalid_bookmark'));
});

test('_index: create, exists, stored design doc shape, listing, delete', async () => {
  const store = new DdocStore();
  assert.deepEqual(store.create({ index: { fields: ['year'] }, ddoc: 'by-year', name: 'year-idx' }), {
    result: 'created',
    id: '_design/by-year',
    name: 'year-idx',
  });
  assert.deepEqual(store.create({ index: { fields: ['year'] }, ddoc: 'by-year', name: 'year-idx' }), {
    result: 'exists',
    id: '_design/by-year',
    name: 'year-idx',
  });
  assert.deepEqual(store.ddocs, [
    {
      _id: '_design/by-year',
      language: 'query',
      views: {
        'year-idx': {
          map: { fields: { year: 'asc' }, partial_filter_selector: {} },
          reduce: '_count',
          options: { def: { fields: ['year'] } },
        },
      },
    },
  ]);
  const auto = store.create({ index: { fields: [{ director: 'asc' }, 'year'] } }) as { id: string; name: string };
  assert.match(auto.id, /^_design\/[0-9a-f]{40}$/);
  assert.match(auto.name, /^[0-9a-f]{40}$/);
  const list = engine.listIndexes(store.ddocs);
  assert.equal(list.total_rows, 3);
  assert.deepEqual(list.indexes[0], { ddoc: null, name: '_all_docs', type: 'special', def: { fields: [{ _id: 'asc' }] } });
  assert.deepEqual(list.indexes.find((i) => i['name'] === 'year-idx'), {
    ddoc: '_design/by-year',
    name: 'year-idx',
    type: 'json',
    partitioned: false,
    def: { fields: [{ year: 'asc' }] },
  });
  assert.deepEqual(store.remove('by-year', 'year-idx'), { ok: true });
  assert.equal(store.ddocs.some((d) => d._id === '_design/by-year'), false); // last index gone: ddoc deleted
  assert.throws(() => store.remove('by-year', 'year-idx'), couch(404, 'not_found', 'Index not found'));
  assert.throws(() => store.create({ index: {} }), couch(400, 'invalid_index', 'Index is missing its definition.'));
  assert.throws(() => store.create({ fields: ['x'] }), couch(400, 'invalid_key', 'Invalid key fields for this request.'));
  assert.throws(() => store.create({ index: { fields: ['x'] }, type: 'geo' }), couch(400, 'invalid_index', 'Invalid type for index: geo'));
  assert.throws(
    () => engine.createIndex([{ _id: '_design/js', views: {} }], { index: { fields: ['x'] }, ddoc: 'js' }),
    couch(400, 'invalid_ddoc_lang'),
  );
});

test('a JSON index serves range queries and sorts, without the warning; paging by bookmark', async () => {
  const src = movies();
  const store = new DdocStore();
  store.create({ index: { fields: ['year'] }, ddoc: 'y', name: 'year' });
  const res = await engine.find(src, store.ddocs, {
    selector: { year: { $gt: 1990 } },
    sort: ['year'],
    fields: ['_id', 'year'],
    execution_stats: true,
  });
  assert.deepEqual(res.docs, [
    { _id: 'm2', year: 1997 },
    { _id: 'm6', year: 1997 },
    { _id: 'm3', year: 2001 },
    { _id: 'm5', year: 2006 },
  ]);
  assert.equal(res.warning, undefined);
  // The index holds only docs that have `year`, starting at 1990.
  assert.equal(res.execution_stats?.total_docs_examined, 4);
  const desc = await engine.find(src, store.ddocs, { selector: { year: { $gt: 0 } }, sort: [{ year: 'desc' }], fields: ['_id'], limit: 3 });
  assert.deepEqual(desc.docs, [{ _id: 'm5' }, { _id: 'm3' }, { _id: 'm6' }]);
  // Paging: limit 2, then follow the bookmark until the results run out.
  const seen: string[] = [];
  let bookmark: string | undefined;
  for (let page = 0; page < 5; page++) {
    const r = await engine.find(src, store.ddocs, { selector: { year: { $gte: 1988 } }, fields: ['_id'], limit: 2, ...(bookmark ? { bookmark } : {}) });
    seen.push(...r.docs.map((d) => d['_id'] as string));
    if (r.docs.length === 0) {
      assert.equal(r.bookmark, 'nil');
      break;
    }
    bookmark = r.bookmark;
  }
  assert.deepEqual(seen, ['m1', 'm4', 'm2', 'm6', 'm3', 'm5']);
  // The index follows writes.
  src.put({ _id: 'm8', year: 1999 });
  const after = await engine.find(src, store.ddocs, { selector: { year: 1999 } });
  assert.deepEqual(after.docs, [{ _id: 'm8', year: 1999 }]);
});

test('index choice: constant leading fields allow sorting on the next; use_index; partial indexes', async () => {
  const src = movies();
  const store = new DdocStore();
  store.create({ index: { fields: ['director', 'year'] }, ddoc: 'dy', name: 'dy' });
  store.create({
    index: { fields: ['year'], partial_filter_selector: { director: 'kon' } },
    ddoc: 'kon',
    name: 'kon-years',
  });
  const r = await engine.find(src, store.ddocs, { selector: { director: 'kon' }, sort: ['year'], fields: ['_id'] });
  assert.deepEqual(r.docs, [{ _id: 'm6' }, { _id: 'm5' }]);
  assert.equal(r.warning, undefined);
  const ex = engine.explain('movies', store.ddocs, { selector: { director: 'kon' }, sort: ['year'] });
  assert.equal((ex['index'] as { name: string }).name, 'dy');
  // A partial index is used only when named; its docs are the filtered ones.
  const p = await engine.find(src, store.ddocs, { selector: { year: { $gt: 0 } }, use_index: ['kon', 'kon-years'], fields: ['_id'] });
  assert.deepEqual(p.docs, [{ _id: 'm6' }, { _id: 'm5' }]);
  // Naming an index that cannot serve the query falls back with a warning.
  const w = await engine.find(src, store.ddocs, { selector: { title: 'Akira' }, use_index: 'dy', fields: ['_id'] });
  assert.deepEqual(w.docs, [{ _id: 'm4' }]);
  assert.equal(w.warning, `_design/dy was not used because it does not contain a valid index for this query.\n${NO_INDEX}`);
  await assert.rejects(
    engine.find(src, store.ddocs, { selector: { title: 'Akira' }, use_index: 'dy', allow_fallback: false }),
    couch(400, 'no_usable_index'),
  );
});

test('_explain reports the chosen index, normalized selector and options', () => {
  const ex = engine.explain('db', [], { selector: { year: { $gt: 2000 } }, limit: 5 });
  assert.deepEqual(ex['index'], { ddoc: null, name: '_all_docs', type: 'special', def: { fields: [{ _id: 'asc' }] } });
  assert.deepEqual(ex['selector'], { year: { $gt: 2000 } });
  assert.equal(ex['dbname'], 'db');
  assert.equal(ex['limit'], 5);
  assert.equal(ex['skip'], 0);
  assert.equal((ex['opts'] as { limit: number }).limit, 5);
});

test('a top-level empty $or matches nothing (maybe_noop_range)', async () => {
  const src = movies();
  const r = await engine.find(src, [], { selector: { $or: [] } });
  assert.deepEqual(r.docs, []);
});

test('Mango index design docs can also be queried through _view', async () => {
  const src = movies();
  const store = new DdocStore();
  store.create({ index: { fields: ['director'] }, ddoc: 'd', name: 'dir' });
  const ddoc = store.ddocs[0] as DesignDoc;
  const r = await engine.queryView(src, ddoc, 'dir', { reduce: 'false', key: '["kon"]' });
  assert.deepEqual(r.rows, [
    { id: 'm5', key: ['kon'], value: null },
    { id: 'm6', key: ['kon'], value: null },
  ]);
  assert.deepEqual((await engine.queryView(src, ddoc, 'dir', {})).rows, [{ key: null, value: 6 }]);
});
