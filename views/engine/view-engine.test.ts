// The engine's lifecycle guarantees: persistence across restarts, incremental
// updates (only changed docs are mapped), per-ddoc signatures, cleanup,
// compaction, stale reads, include_docs, parameter errors, and the
// validate_doc_update / filter entry points. Expected values follow CouchDB's
// documented behaviour (docs.couchdb.org api/ddoc/views.rst, couch_mrview_*).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ViewEngine } from './view-engine.js';
import { MemorySource } from '../testing/memory-source.js';
import { tempLmdb, type TempLmdb } from '../testing/temp-lmdb.js';
import type { ChangedDoc, DocSource } from '../index-store/doc-source.js';
import type { DesignDoc } from '../sandbox/design-sandbox.js';

let lmdb: TempLmdb;
let engine: ViewEngine;
const logs: string[] = [];
function newEngine(): ViewEngine {
  return new ViewEngine({ db: lmdb.db, sandbox: { logger: (_id, m) => logs.push(m), timeoutMs: 300 } });
}
before(() => {
  lmdb = tempLmdb();
  engine = newEngine();
});
after(async () => {
  await engine.close();
  await lmdb.close();
});

/** A DocSource that counts how many changes it handed out. */
class CountingSource implements DocSource {
  handed = 0;
  constructor(readonly inner: MemorySource) {}
  get dbKey(): string {
    return this.inner.dbKey;
  }
  updateSeq(): number {
    return this.inner.updateSeq();
  }
  changesSince(since: number, limit: number): ChangedDoc[] {
    const out = this.inner.changesSince(since, limit);
    this.handed += out.length;
    return out;
  }
  getDoc(id: string): Record<string, unknown> | null {
    return this.inner.getDoc(id);
  }
  purgeSeq(): number {
    return this.inner.purgeSeq();
  }
  purgedSince(since: number): string[] | null {
    return this.inner.purgedSince(since);
  }
}

const byType: DesignDoc = {
  _id: '_design/t',
  views: {
    by_type: { map: 'function(doc){ log("map " + doc._id); emit(doc.type, doc.n); }', reduce: '_sum' },
    by_n: { map: 'function(doc){ emit(doc.n, null); }' },
  },
};

function fill(src: MemorySource, n: number): void {
  for (let i = 0; i < n; i++) src.put({ _id: `d${i}`, type: i % 2 ? 'odd' : 'even', n: i });
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

test('only changed docs are mapped again; deleted docs leave the index', async () => {
  const mem = new MemorySource();
  fill(mem, 20);
  const src = new CountingSource(mem);
  logs.length = 0;
  const r1 = await engine.queryView(src, byType, 'by_type', { group: 'true' });
  assert.deepEqual(r1.rows, [
    { key: 'even', value: 90 },
    { key: 'odd', value: 100 },
  ]);
  assert.equal(logs.length, 20);
  logs.length = 0;
  mem.put({ _id: 'd3', type: 'even', n: 1000 });
  mem.delete('d4');
  const r2 = await engine.queryView(src, byType, 'by_type', { group: 'true' });
  assert.deepEqual(r2.rows, [
    { key: 'even', value: 90 - 4 + 1000 },
    { key: 'odd', value: 100 - 3 },
  ]);
  assert.deepEqual(logs, ['map d3']); // the deletion needs no map call
  const byN = await engine.queryView(src, byType, 'by_n', { keys: '[3,4,1000]' });
  assert.deepEqual(byN.rows, [{ id: 'd3', key: 1000, value: null }]);
});

test('the index persists: a new engine answers without reading changes again', async () => {
  const mem = new MemorySource('persist-db');
  fill(mem, 50);
  await engine.queryView(mem, byType, 'by_n', { limit: '1' });
  await engine.flush();
  const again = newEngine();
  try {
    const src = new CountingSource(mem);
    const r = await again.queryView(src, byType, 'by_n', { startkey: '10', limit: '2' });
    assert.deepEqual(r, {
      total_rows: 50,
      offset: 10,
      rows: [
        { id: 'd10', key: 10, value: null },
        { id: 'd11', key: 11, value: null },
      ],
    });
    assert.equal(src.handed, 0);
  } finally {
    await again.close();
  }
});

test('editing one design doc does not rebuild another; cleanup removes the stale index', async () => {
  const mem = new MemorySource('two-ddocs');
  fill(mem, 10);
  const other: DesignDoc = { _id: '_design/o', views: { v: { map: 'function(doc){ emit(doc._id, 1); }' } } };
  await engine.queryView(mem, byType, 'by_n', {});
  await engine.queryView(mem, other, 'v', {});
  const sigOther = engine.group(mem.dbKey, other).signature;
  const edited: DesignDoc = { ...byType, views: { by_n: { map: 'function(doc){ emit(-doc.n, null); }' } } };
  await engine.queryView(mem, edited, 'by_n', { limit: '1' });
  assert.equal(engine.group(mem.dbKey, other).signature, sigOther);
  assert.equal(engine.group(mem.dbKey, other).indexedSeq, mem.updateSeq());
  await engine.flush();
  assert.equal(engine.storedSignatures(mem.dbKey).length, 3);
  await engine.cleanup(mem.dbKey, [edited, other]);
  const left = engine.storedSignatures(mem.dbKey).sort();
  assert.deepEqual(left, [engine.group(mem.dbKey, edited).signature, sigOther].sort());
  // The remaining indexes still answer.
  const r = await engine.queryView(mem, edited, 'by_n', { limit: '1' });
  assert.deepEqual(r.rows, [{ id: 'd9', key: -9, value: null }]);
  await engine.dropDatabase(mem.dbKey);
  assert.deepEqual(engine.storedSignatures(mem.dbKey), []);
});

test('update=false and stale=ok answer from the index as it is; update=lazy refreshes afterwards', async () => {
  const mem = new MemorySource();
  fill(mem, 4);
  await engine.queryView(mem, byType, 'by_n', {});
  mem.put({ _id: 'late', type: 'odd', n: 99 });
  const stale = await engine.queryView(mem, byType, 'by_n', { update: 'false' });
  assert.equal(stale.total_rows, 4);
  const stale2 = await engine.queryView(mem, byType, 'by_n', { stale: 'ok' });
  assert.equal(stale2.total_rows, 4);
  const lazy = await engine.queryView(mem, byType, 'by_n', { update: 'lazy', update_seq: 'true' });
  assert.equal(lazy.total_rows, 4);
  assert.equal(lazy.update_seq, 4);
  await engine.updateIndex(mem, byType); // waits for the lazy refresh (or does it)
  const fresh = await engine.queryView(mem, byType, 'by_n', { update: 'false', update_seq: 'true' });
  assert.equal(fresh.total_rows, 5);
  assert.equal(fresh.update_seq, 5);
});

test('include_docs: linked docs via {_id}, missing docs are null, _conflicts only with conflicts=true', async () => {
  const mem = new MemorySource();
  mem.put({ _id: 'a', _rev: '1-a', link: 'b', _conflicts: ['1-x'] });
  mem.put({ _id: 'b', _rev: '1-b' });
  mem.put({ _id: 'c', _rev: '1-c', link: 'nope' });
  const ddoc: DesignDoc = {
    _id: '_design/l',
    views: { v: { map: 'function(doc){ if (doc.link) emit(doc._id, {_id: doc.link}); else emit(doc._id, 1); }' } },
  };
  const r = await engine.queryView(mem, ddoc, 'v', { include_docs: 'true' });
  assert.deepEqual(r.rows, [
    { id: 'a', key: 'a', value: { _id: 'b' }, doc: { _id: 'b', _rev: '1-b' } },
    { id: 'b', key: 'b', value: 1, doc: { _id: 'b', _rev: '1-b' } },
    { id: 'c', key: 'c', value: { _id: 'nope' }, doc: null },
  ]);
  const rc = await engine.queryView(mem, { ...ddoc, views: { v: { map: 'function(doc){ emit(doc._id, 1); }' } } }, 'v', {
    include_docs: 'true',
    conflicts: 'true',
    limit: '1',
  });
  assert.deepEqual(rc.rows[0], { id: 'a', key: 'a', value: 1, doc: { _id: 'a', _rev: '1-a', link: 'b', _conflicts: ['1-x'] } });
  const rn = await engine.queryView(mem, { ...ddoc, views: { v: { map: 'function(doc){ emit(doc._id, 1); }' } } }, 'v', {
    include_docs: 'true',
    limit: '1',
  });
  assert.deepEqual(rn.rows[0], { id: 'a', key: 'a', value: 1, doc: { _id: 'a', _rev: '1-a', link: 'b' } });
});

test('design docs are not mapped unless options.include_design; local_seq adds _local_seq', async () => {
  const mem = new MemorySource();
  mem.put({ _id: 'x' });
  mem.put({ _id: '_design/zzz' });
  const plain: DesignDoc = { _id: '_design/p', views: { v: { map: 'function(doc){ emit(doc._id, doc._local_seq || null); }' } } };
  assert.deepEqual((await engine.queryView(mem, plain, 'v', {})).rows, [{ id: 'x', key: 'x', value: null }]);
  const incl: DesignDoc = { ...plain, options: { include_design: true, local_seq: true } };
  assert.deepEqual((await engine.queryView(mem, incl, 'v', {})).rows, [
    { id: '_design/zzz', key: '_design/zzz', value: 2 },
    { id: 'x', key: 'x', value: 1 },
  ]);
});

test('raw collation orders keys by Erlang term order', async () => {
  const mem = new MemorySource();
  for (const [i, k] of ['b', 'B', 'a', 1, null, ['x'], { y: 1 }].entries()) mem.put({ _id: `r${i}`, k });
  const ddoc: DesignDoc = { _id: '_design/raw', views: { v: { map: 'function(doc){ emit(doc.k, null); }', options: { collation: 'raw' } } } };
  const r = await engine.queryView(mem, ddoc, 'v', {});
  assert.deepEqual(
    r.rows.map((x) => x.key),
    [1, null, { y: 1 }, ['x'], 'B', 'a', 'b'],
  );
});

test('compaction keeps every answer and shrinks an index thinned by deletions', async () => {
  const mem = new MemorySource();
  for (let i = 0; i < 600; i++) mem.put({ _id: `c${String(i).padStart(4, '0')}`, type: i % 3 === 0 ? 'a' : 'b', n: i });
  await engine.queryView(mem, byType, 'by_n', {});
  for (let i = 0; i < 600; i++) if (i % 10 !== 0) mem.delete(`c${String(i).padStart(4, '0')}`);
  const before = await engine.queryView(mem, byType, 'by_type', { group: 'true' });
  const rowsBefore = await engine.queryView(mem, byType, 'by_n', { skip: '3', limit: '5' });
  await engine.flush();
  const g = engine.group(mem.dbKey, byType);
  const bytesBefore = g.activeBytes;
  await engine.compact(mem, byType);
  assert.deepEqual(await engine.queryView(mem, byType, 'by_type', { group: 'true' }), before);
  assert.deepEqual(await engine.queryView(mem, byType, 'by_n', { skip: '3', limit: '5' }), rowsBefore);
  assert.ok(g.activeBytes < bytesBefore, `${g.activeBytes} < ${bytesBefore}`);
  assert.deepEqual(before.rows, [
    { key: 'a', value: [0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 330, 360, 390, 420, 450, 480, 510, 540, 570].reduce((s, x) => s + x, 0) },
    { key: 'b', value: [...Array(60).keys()].map((i) => i * 10).filter((x) => x % 3 !== 0).reduce((s, x) => s + x, 0) },
  ]);
});

test('_info has CouchDB shape and tracks the indexed seq', async () => {
  const mem = new MemorySource();
  fill(mem, 3);
  await engine.queryView(mem, byType, 'by_n', {});
  mem.put({ _id: 'more', n: 1 });
  const info = engine.info(mem, byType);
  assert.equal(info.name, 't');
  const vi = info.view_index;
  assert.equal(vi['language'], 'javascript');
  assert.equal(vi['update_seq'], 3);
  assert.deepEqual(vi['updates_pending'], { minimum: 1, preferred: 1, total: 1 });
  assert.equal(vi['compact_running'], false);
  assert.equal(vi['updater_running'], false);
  assert.equal(typeof vi['signature'], 'string');
  assert.match(vi['signature'] as string, /^[0-9a-f]{32}$/);
  const sizes = vi['sizes'] as Record<string, number>;
  assert.ok(sizes['active']! > 0);
});

test('query parameter errors carry CouchDB reasons', async () => {
  const mem = new MemorySource();
  fill(mem, 2);
  const q = (view: string, p: Record<string, string>, body?: unknown) => engine.queryView(mem, byType, view, p, body);
  await assert.rejects(q('by_n', { limit: '-1' }), couch(400, 'query_parse_error', 'Invalid value for positive integer: "-1"'));
  await assert.rejects(q('by_n', { skip: 'x' }), couch(400, 'query_parse_error', 'Invalid value for integer: "x"'));
  await assert.rejects(q('by_n', { descending: 'yes' }), couch(400, 'query_parse_error', 'Invalid boolean parameter: "yes"'));
  await assert.rejects(q('by_n', { reduce: 'true' }), couch(400, 'query_parse_error', 'Reduce is invalid for map-only views.'));
  await assert.rejects(q('by_n', { group_level: '1' }), couch(400, 'query_parse_error', 'Invalid use of grouping on a map view.'));
  await assert.rejects(q('by_n', { include_docs: 'true', reduce: 'true' }), couch(400, 'query_parse_error'));
  await assert.rejects(q('by_type', { include_docs: 'true' }), couch(400, 'query_parse_error', '`include_docs` is invalid for reduce'));
  await assert.rejects(q('by_type', { conflicts: 'true' }), couch(400, 'query_parse_error', '`conflicts` is invalid for reduce views.'));
  await assert.rejects(q('by_type', { keys: '["a","b"]' }), couch(400, 'query_parse_error', 'Multi-key fetchs for reduce views must use `group=true`'));
  await assert.rejects(q('by_type', { group: 'false', group_level: '2' }), couch(400, 'query_parse_error', "Can't specify group=false and group_level>0 at the same time"));
  await assert.rejects(q('by_n', { keys: '[1,2]', startkey: '1' }), couch(400, 'query_parse_error', '`keys` is incompatible with `key`, `start_key` and `end_key`'));
  await assert.rejects(q('by_n', { keys: '{"a":1}' }), couch(400, 'query_parse_error', '`keys` must be an array of strings.'));
  await assert.rejects(q('by_n', { stale: 'maybe' }), couch(400, 'query_parse_error', 'Invalid value for `stale`.'));
  await assert.rejects(q('by_n', { update: 'sometimes' }), couch(400, 'query_parse_error', 'Invalid value for `update`.'));
  await assert.rejects(q('by_n', { startkey: '{bad json' }), couch(400, 'bad_request', 'invalid UTF-8 JSON'));
  await assert.rejects(q('by_n', { startkey: '1', endkey: '5', descending: 'true' }), couch(400, 'query_parse_error', 'No rows can match your key range, reverse your start_key and end_key or set descending=false'));
  await assert.rejects(q('by_n', {}, { keys: 'x' }), couch(400, 'bad_request', '`keys` member must be an array.'));
  await assert.rejects(q('nope', {}), couch(404, 'not_found', 'missing_named_view'));
  // A single-element keys is a key lookup, so it is fine on a reduce view (CouchDB 3.3.1+).
  assert.deepEqual((await q('by_type', { keys: '["odd"]' })).rows, [{ key: null, value: 1 }]);
  // POST body members are decoded JSON; where the query string names the same parameter, its
  // value wins (couch_mrview_http:parse_body_and_query applies the query string last).
  assert.deepEqual((await q('by_n', { limit: '5' }, { keys: [1, 0], limit: 1 })).rows, [
    { id: 'd1', key: 1, value: null },
    { id: 'd0', key: 0, value: null },
  ]);
  assert.deepEqual((await q('by_n', {}, { keys: [1, 0], limit: 1 })).rows, [{ id: 'd1', key: 1, value: null }]);
  // A member of `queries` is the other way round: it overrides the URL's parameters.
  assert.deepEqual((await engine.queryView(mem, byType, 'by_n', { limit: '5' }, { keys: [1, 0], limit: 1 }, true)).rows, [{ id: 'd1', key: 1, value: null }]);
});

test('a map function that never returns fails the query with 500 and leaves other indexes working', async () => {
  const mem = new MemorySource();
  fill(mem, 3);
  const loop: DesignDoc = { _id: '_design/loop', views: { v: { map: 'function(doc){ while (true) {} }' } } };
  await assert.rejects(engine.queryView(mem, loop, 'v', {}), couch(500, 'os_process_error'));
  assert.equal((await engine.queryView(mem, byType, 'by_n', {})).total_rows, 3);
  await assert.rejects(engine.queryView(mem, loop, 'v', {}), couch(500, 'os_process_error'));
});

test('validateDocUpdate runs every ddoc; filters and _view filters run batched', async () => {
  const a: DesignDoc = { _id: '_design/a', validate_doc_update: 'function(n, o, u){ if (n.bad) throw({forbidden: "bad doc"}); }' };
  const b: DesignDoc = { _id: '_design/b', validate_doc_update: 'function(n, o, u, s){ if (!u.name) throw({unauthorized: "login"}); }' };
  const c: DesignDoc = {
    _id: '_design/c',
    filters: { big: 'function(doc, req){ return doc.n > Number(req.query.min); }' },
    views: { odd: { map: 'function(doc){ if (doc.n % 2) emit(null); }' } },
  };
  await engine.validateDocUpdate([a, b, c], { ok: 1 }, null, { name: 'u', roles: [] }, {});
  await assert.rejects(engine.validateDocUpdate([a, b], { bad: 1 }, null, { name: 'u' }, {}), couch(403, 'forbidden', 'bad doc'));
  await assert.rejects(engine.validateDocUpdate([a, b], {}, null, { name: null }, {}), couch(401, 'unauthorized', 'login'));
  const docs = [{ n: 1 }, { n: 5 }, { n: 10 }];
  assert.deepEqual(await engine.runFilter(c, 'big', docs, { query: { min: '4' } }), [false, true, true]);
  assert.deepEqual(await engine.runViewFilter(c, 'odd', docs), [true, true, false]);
  await assert.rejects(engine.runViewFilter(c, 'missing', docs), couch(404, 'not_found'));
});

test('validateDesignDoc rejects what CouchDB rejects at save time', async () => {
  await engine.validateDesignDoc(byType);
  await assert.rejects(
    engine.validateDesignDoc({ _id: '_design/x', views: { v: { map: 'function(doc){ emit(1) }', reduce: '_nope' } } }),
    couch(400, 'invalid_design_doc', '`_nope` is not a supported reduce function.'),
  );
  await assert.rejects(engine.validateDesignDoc({ _id: '_design/x', views: { v: { map: 'function(doc){' } } }), couch(400, 'compilation_error'));
  await assert.rejects(engine.validateDesignDoc({ _id: '_design/x', filters: { f: 'not a function' } }), couch(400, 'compilation_error'));
  await engine.validateDesignDoc({ _id: '_design/q', language: 'query', views: {} });
});

test('a purge is replayed into the index: purged docs lose their rows, survivors are mapped again, nothing else is read', async () => {
  const mem = new MemorySource('purges');
  fill(mem, 40);
  const src = new CountingSource(mem);
  await engine.queryView(src, byType, 'by_n', {});
  src.handed = 0;
  mem.purge('d3');
  mem.purge('d4', { _id: 'd4', type: 'even', n: 104 });
  mem.purge('nosuchdoc');
  const r = await engine.queryView(src, byType, 'by_n', { startkey: '2', endkey: '6' });
  assert.deepEqual(r.rows, [
    { id: 'd2', key: 2, value: null },
    { id: 'd5', key: 5, value: null },
    { id: 'd6', key: 6, value: null },
  ]);
  assert.equal(src.handed, 0, 'no change was read again: the index was not rebuilt');
  const sums = await engine.queryView(src, byType, 'by_type', { group: 'true' });
  const odd = Array.from({ length: 20 }, (_, i) => 2 * i + 1).filter((n) => n !== 3);
  const even = Array.from({ length: 20 }, (_, i) => 2 * i).filter((n) => n !== 4).concat(104);
  assert.deepEqual(sums.rows, [
    { key: 'even', value: even.reduce((a, b) => a + b) },
    { key: 'odd', value: odd.reduce((a, b) => a + b) },
  ]);
  assert.equal((await engine.queryView(src, byType, 'by_n', {})).total_rows, 39);
});

test('an index whose purges the log no longer holds starts over and is then correct', async () => {
  const mem = new MemorySource('purges-cut');
  fill(mem, 30);
  const src = new CountingSource(mem);
  await engine.queryView(src, byType, 'by_n', {});
  for (const id of ['d1', 'd2', 'd3']) mem.purge(id);
  mem.forgetPurges(1);
  src.handed = 0;
  const r = await engine.queryView(src, byType, 'by_n', { limit: '3' });
  assert.deepEqual(r.rows.map((row) => (row as { id: string }).id), ['d0', 'd4', 'd5']);
  assert.equal(r.total_rows, 27);
  assert.equal(src.handed, 27, 'rebuilt from the changes');
  // Later purges are replayed again.
  src.handed = 0;
  mem.purge('d0');
  assert.deepEqual((await engine.queryView(src, byType, 'by_n', { limit: '1' })).rows.map((row) => (row as { id: string }).id), ['d4']);
  assert.equal(src.handed, 0);
});
