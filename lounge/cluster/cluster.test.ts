// The lounge in front of real node processes: a 3-node, q=8, n=2 cluster (plus one single
// node to compare against), started once for the whole file.
//
// What a client must not be able to tell — apart from the format of sequences — is that it
// talks to a cluster: the recorded CouchDB 3.5 API calls replay through the lounge with the
// same statuses and bodies, and `_all_docs`, `_changes` (as a set) and views answer exactly
// what one node holding the same documents answers. Failure handling and PouchDB sync are in
// failover.test.ts and pouchdb-sync.test.ts.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TRIGGERED_SYNC, useCluster } from '../test-support/cluster-fixture.js';
import { NodeProcess } from './node-process.js';
import { REV, RevMap } from '../../test/helpers/rev-map.js';
import { call } from '../test-support/http.js';
import { crc32, hex8 } from '../placement/crc32.js';
import { memoryPouch, type Pouch, type PouchDoc } from '../test-support/pouch.js';

const fx = useCluster({ nodes: 3, q: 8, n: 2, tune: { sync: TRIGGERED_SYNC } });
let single: NodeProcess;
let L = '';
let S = '';
let sdir = '';

before(async () => {
  await fx.ready;
  L = fx.url;
  sdir = mkdtempSync(join(tmpdir(), 'chaise-'));
  single = new NodeProcess({ id: 'single', dir: sdir, port: 0 });
  await single.start();
  S = single.url;
});

after(async () => {
  await single?.stop();
  if (sdir) rmSync(sdir, { recursive: true, force: true });
});

describe('introspection', () => {
  test('placement and the CouchDB-shaped endpoints', async () => {
    assert.equal((await call(L, 'PUT', '/intro')).status, 201);
    assert.equal((await call(L, 'PUT', '/intro')).status, 412);
    const joan = await call(L, 'GET', '/intro/_shards/joan');
    assert.equal(joan.body.range, 'e0000000-ffffffff');
    assert.equal(joan.body.nodes.length, 2);
    assert.equal((await call(L, 'GET', '/intro/_shards/robert')).body.range, '60000000-7fffffff');
    const shards = await call(L, 'GET', '/intro/_shards');
    assert.equal(Object.keys(shards.body.shards).length, 8);
    const m = await call(L, 'GET', '/_membership');
    assert.deepEqual(m.body, { all_nodes: ['n1', 'n2', 'n3'], cluster_nodes: ['n1', 'n2', 'n3'] });
    const map = await call(L, 'GET', '/_lounge/map');
    assert.deepEqual(Object.keys(map.body.nodes), ['n1', 'n2', 'n3']);
    assert.equal(map.body.nodes.n1.url, fx.cluster.nodes[0]?.url);
    assert.equal(map.body.ranges.length, 8);
    const health = await call(L, 'GET', '/_lounge/health');
    assert.equal(health.body.status, 'ok');
    const root = await call(L, 'GET', '/');
    assert.equal(root.body.uuid, JSON.parse(readFileSync(fx.cluster.configPath, 'utf8')).serverUuid);
    assert.ok((await call(L, 'GET', '/_all_dbs')).body.includes('intro'));
    // Each shard is a database named lounge_<range>_<db> on exactly its two nodes (a name CouchDB treats as ordinary).
    const onNodes = await Promise.all(fx.cluster.nodes.map(async (n) => (await call(n.url, 'GET', '/_all_dbs')).body as string[]));
    const count = onNodes.flat().filter((name) => /^lounge_[0-9a-f]{8}-[0-9a-f]{8}_intro$/.test(name)).length;
    assert.equal(count, 16);
    assert.equal((await call(L, 'DELETE', '/intro')).status, 200);
    assert.equal((await call(L, 'GET', '/intro')).status, 404);
    assert.ok(!(await call(L, 'GET', '/_all_dbs')).body.includes('intro'));
    assert.equal(hex8(crc32('joan')), 'e0b852df');
  });
});

// ---------------------------------------------------------------- fixture replay

interface Step {
  note: string;
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  responseHeaders: Record<string, string>;
  response: unknown;
}

/**
 * Where the lounge knowingly answers differently from a single CouchDB node, and why.
 * `sets` compares these arrays ignoring order (rows of different ranges have no global
 * order, as in any CouchDB cluster); `skip` leaves those JSON paths out.
 */
const DEVIATIONS: Record<string, { skip?: string[]; sets?: string[]; why: string }> = {
  'database info': { skip: ['sizes', 'cluster'], why: 'sizes are storage-specific; cluster reports q=8, n=2' },
  'db info after all': { skip: ['sizes', 'cluster', 'compact_running'], why: 'as above' },
  changes: { sets: ['results'], why: 'no global order across ranges' },
  'changes style=all_docs include_docs': { sets: ['results'], why: 'no global order across ranges' },
  'changes doc_ids filter': { sets: ['results'], skip: ['pending'], why: 'no global order; pending is per-range' },
  'changes limit': { skip: ['results', 'pending'], why: 'which rows come first depends on which range answers first' },
  'changes continuous timeout': { skip: ['*'], why: 'which two rows come first depends on the ranges; pending differs' },
};

const fixture = JSON.parse(readFileSync('test/fixtures/api-couchdb.json', 'utf8')) as { steps: Step[] };
const SEQ_KEYS = new Set(['seq', 'last_seq', 'update_seq', 'purge_seq']);


function compare(expected: unknown, actual: unknown, where: string, revs: RevMap, dev: { skip?: string[]; sets?: string[] }): void {
  const path = where.replace(/^body\.?/, '');
  if (dev.skip?.includes(path) || dev.skip?.includes('*')) return;
  const key = where.split('.').pop() ?? '';
  if (SEQ_KEYS.has(key)) return assert.equal(typeof actual === 'string' || typeof actual === 'number', true, `${where}: a sequence`);
  if (key === 'instance_start_time') return assert.equal(typeof actual, 'string');
  if (typeof expected === 'string' && REV.test(expected) && !/^\d+-([0-9a-f])\1{31}$/.test(expected)) return revs.compare(expected, actual as string, where);
  if (typeof expected === 'string' && /^[0-9a-f]{32}$/.test(expected) && where.includes('.ids.')) return;
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected an array, got ${JSON.stringify(actual)}`);
    if (key === 'uuids') return;
    assert.equal(actual.length, expected.length, `${where}: length of ${JSON.stringify(actual)}`);
    if (dev.sets?.includes(path)) {
      const byId = (x: unknown) => String((x as { id?: string }).id);
      const e = [...expected].sort((a, b) => byId(a).localeCompare(byId(b)));
      const a = [...actual].sort((x, y) => byId(x).localeCompare(byId(y)));
      e.forEach((v, i) => compare(v, a[i], `${where}.${i}`, revs, dev));
      return;
    }
    expected.forEach((e, i) => compare(e, actual[i], `${where}.${i}`, revs, dev));
    return;
  }
  if (typeof expected === 'object' && expected !== null) {
    assert.ok(typeof actual === 'object' && actual !== null, `${where}: expected an object, got ${JSON.stringify(actual)}`);
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    const missing = Object.keys(e).filter((k) => !(k in a) && !dev.skip?.includes(`${path ? path + '.' : ''}${k}`));
    const extra = Object.keys(a).filter((k) => !(k in e));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${where}: members of ${JSON.stringify(actual)}`);
    for (const k of Object.keys(e)) compare(e[k], a[k], `${where}.${k}`, revs, dev);
    return;
  }
  assert.deepEqual(actual, expected, where);
}

describe('the recorded CouchDB 3.5 API calls replay through the lounge', () => {
  test('every step', async (t) => {
    const revs = new RevMap();
    for (const step of fixture.steps) {
      await t.test(`${step.method} ${step.path} — ${step.note}`, async () => {
        const path = revs.translate(step.path.replace('{db}', 'transcript'));
        const headers: Record<string, string> = { ...(step.headers ?? {}) };
        let body: string | Buffer | undefined;
        if (step.body !== undefined) {
          const b = step.body as { type?: string; data?: number[] };
          if (typeof step.body === 'string') body = step.body;
          else if (b.type === 'Buffer' && Array.isArray(b.data)) body = Buffer.from(b.data);
          else {
            headers['content-type'] ??= 'application/json';
            body = revs.translate(JSON.stringify(step.body));
          }
        }
        const res = await fetch(L + path, { method: step.method, headers, ...(body !== undefined ? { body: body as unknown as string } : {}) });
        const text = await res.text();
        assert.equal(res.status, step.status, `status (body ${text})`);
        const dev = DEVIATIONS[step.note] ?? {};
        const want = step.responseHeaders['content-type'];
        if (want) assert.equal(String(res.headers.get('content-type')).split(';')[0], want.split(';')[0], 'content-type');
        if (step.method === 'HEAD') return;
        if (typeof step.response === 'string' && want !== 'application/json') assert.equal(text, step.response);
        else if (typeof step.response === 'string') {
          const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
          compare(lines(step.response), lines(text), 'body', revs, dev);
        } else compare(step.response, JSON.parse(text), 'body', revs, dev);
        const etag = step.responseHeaders.etag;
        if (etag && REV.test(etag.replace(/"/g, ''))) revs.compare(etag.replace(/"/g, ''), String(res.headers.get('etag')).replace(/"/g, ''), 'etag');
        if (step.responseHeaders.location) {
          assert.equal(new URL(String(res.headers.get('location'))).pathname, new URL(revs.translate(step.responseHeaders.location)).pathname, 'location');
        }
      });
    }
  });
});

// ---------------------------------------------------------------- same answers as one node

interface ViewFixture {
  docs: Record<string, unknown>[];
  design: Record<string, unknown>;
  cases: { path: string; method?: string; request?: unknown; status: number; body: unknown }[];
}
const views = JSON.parse(readFileSync('test/fixtures/views-couchdb.json', 'utf8')) as ViewFixture;

/** Ids that sort differently by raw bytes, by JS string order and by collation. */
const ODD_IDS = ['Zed', 'apple', 'Apple', 'é-accent', 'e-plain', '\u{1F600}smile', '\uFFFDrepl', '_design/zz', '10', '9', 'a/b', 'a b'];

async function load(base: string, db: string): Promise<void> {
  assert.equal((await call(base, 'PUT', `/${db}`)).status, 201);
  const docs = [...views.docs, views.design, ...ODD_IDS.filter((id) => !id.startsWith('_design/')).map((id) => ({ _id: id, odd: true }))];
  for (let i = 0; i < 120; i++) docs.push({ _id: `gen-${String(i).padStart(3, '0')}`, n: i, g: i % 3 === 0 ? 'x' : 'y' });
  const r = await call(base, 'POST', `/${db}/_bulk_docs`, { docs });
  assert.ok(r.status === 201 || r.status === 202, `bulk load: ${r.text}`);
  assert.equal((await call(base, 'PUT', `/${db}/_design/zz`, { views: { all: { map: 'function(d){emit(d._id,1)}', reduce: '_count' } } })).status, 201);
  // Some history: updates and deletions.
  for (const id of ['gen-001', 'gen-050', 'Zed']) {
    const cur = await call(base, 'GET', `/${db}/${encodeURIComponent(id)}`);
    assert.equal((await call(base, 'PUT', `/${db}/${encodeURIComponent(id)}`, { ...cur.body, edited: true })).status, 201);
  }
  for (const id of ['gen-002', 'apple']) {
    const cur = await call(base, 'GET', `/${db}/${encodeURIComponent(id)}`);
    assert.equal((await call(base, 'DELETE', `/${db}/${encodeURIComponent(id)}?rev=${cur.body._rev}`)).status, 200);
  }
}

describe('the lounge answers like one node holding the same documents', () => {
  before(async () => {
    await Promise.all([load(L, 'same'), load(S, 'same')]);
  });

  test('_all_docs: order, skip/limit windows, key ranges, keys, totals', async () => {
    const queries = [
      '',
      '?descending=true',
      '?limit=7&skip=5',
      '?startkey=%22gen-010%22&endkey=%22gen-020%22',
      '?startkey=%22gen-020%22&endkey=%22gen-010%22&descending=true&limit=4&skip=1',
      '?include_docs=true&limit=9&startkey=%22_%22',
      '?endkey=%22gen-005%22&inclusive_end=false',
      '?keys=' + encodeURIComponent(JSON.stringify(['gen-003', 'nope', 'apple', 'Zed', '_design/zz', 'gen-003'])),
      '?update_seq=true&limit=2',
      '?skip=1000',
    ];
    for (const q of queries) {
      const [a, b] = await Promise.all([call(L, 'GET', `/same/_all_docs${q}`), call(S, 'GET', `/same/_all_docs${q}`)]);
      assert.equal(a.status, 200, `${q}: ${a.text}`);
      assert.deepEqual(a.body.rows, b.body.rows, `rows of _all_docs${q}`);
      assert.equal(a.body.total_rows, b.body.total_rows, `total_rows of _all_docs${q}`);
      // CouchDB caps offset at total_rows (fabric_view_all_docs: min(Total, Offset+Skip)).
      assert.equal(a.body.offset, b.body.offset === null ? null : Math.min(b.body.offset, b.body.total_rows), `offset of _all_docs${q}`);
      if (q.includes('update_seq')) assert.equal(typeof a.body.update_seq, 'string');
    }
    const keys = ['Apple', 'gen-100', 'missing'];
    const [a, b] = await Promise.all([call(L, 'POST', '/same/_all_docs', { keys }), call(S, 'POST', '/same/_all_docs', { keys })]);
    assert.deepEqual(a.body, b.body);
    const [da, db] = await Promise.all([call(L, 'GET', '/same/_design_docs'), call(S, 'GET', '/same/_design_docs')]);
    assert.deepEqual(da.body.rows, db.body.rows, 'design docs appear once');
    const [ia, ib] = await Promise.all([call(L, 'GET', '/same'), call(S, 'GET', '/same')]);
    assert.equal(ia.body.doc_count, ib.body.doc_count, 'doc_count does not count design-doc copies');
    assert.equal(ia.body.doc_del_count, ib.body.doc_del_count);
  });

  test('_changes: the same set of changes, and tokens that resume without gaps', async () => {
    const set = (rows: { id: string; changes: { rev: string }[]; deleted?: boolean }[]) =>
      rows.map((r) => `${r.id} ${r.changes.map((c) => c.rev).sort().join(',')}${r.deleted ? ' deleted' : ''}`).sort();
    const [a, b] = await Promise.all([call(L, 'GET', '/same/_changes?style=all_docs'), call(S, 'GET', '/same/_changes?style=all_docs')]);
    assert.deepEqual(set(a.body.results), set(b.body.results));
    // Paging with limit and the last_seq token visits every change exactly once (no rewrites happen meanwhile).
    const seen: string[] = [];
    let since = '0';
    for (let page = 0; page < 100; page++) {
      const p = await call(L, 'GET', `/same/_changes?style=all_docs&limit=17&since=${encodeURIComponent(since)}`);
      assert.equal(p.status, 200);
      assert.ok(p.body.results.length <= 17, 'limit is global');
      if (p.body.results.length === 0) break;
      seen.push(...set(p.body.results));
      since = p.body.last_seq;
    }
    assert.deepEqual(seen.sort(), set(b.body.results));
    // A row's seq resumes right after that row.
    const first = a.body.results[0];
    const after = await call(L, 'GET', `/same/_changes?style=all_docs&since=${encodeURIComponent(first.seq)}`);
    assert.equal(after.body.results.length, a.body.results.length - 1);
    const info = await call(L, 'GET', '/same');
    const fromUpdateSeq = await call(L, 'GET', `/same/_changes?since=${encodeURIComponent(info.body.update_seq)}`);
    assert.deepEqual(fromUpdateSeq.body.results, [], 'update_seq from db info is a since token');
    const now = await call(L, 'GET', '/same/_changes?since=now');
    assert.deepEqual(now.body.results, []);
    const ids = await call(L, 'POST', '/same/_changes?filter=_doc_ids', { doc_ids: ['gen-003', 'Zed', 'nope'] });
    assert.deepEqual(ids.body.results.map((r: { id: string }) => r.id).sort(), ['Zed', 'gen-003']);
    const sel = await call(L, 'POST', '/same/_changes?filter=_selector', { selector: { g: 'x', n: { $lt: 10 } } });
    const selS = await call(S, 'POST', '/same/_changes?filter=_selector', { selector: { g: 'x', n: { $lt: 10 } } });
    assert.deepEqual(set(sel.body.results), set(selS.body.results));
    const design = await call(L, 'GET', '/same/_changes?filter=_design');
    assert.deepEqual(design.body.results.map((r: { id: string }) => r.id).sort(), ['_design/v', '_design/zz'], 'each design doc once');
  });

  test('_find and _index: the same docs, order, projection and warnings', async () => {
    const index = { index: { fields: ['n'] }, name: 'by-n', ddoc: 'mango-n', type: 'json' };
    const [ia, ib] = await Promise.all([call(L, 'POST', '/same/_index', index), call(S, 'POST', '/same/_index', index)]);
    assert.equal(ia.status, ib.status, ia.text);
    assert.deepEqual({ ...ia.body }, { ...ib.body });
    const [la, lb] = await Promise.all([call(L, 'GET', '/same/_index'), call(S, 'GET', '/same/_index')]);
    assert.deepEqual(la.body, lb.body);
    const queries: Record<string, unknown>[] = [
      { selector: { g: 'x' }, fields: ['_id', 'n'] },
      { selector: { n: { $gt: 5 } }, sort: [{ n: 'asc' }], limit: 10, skip: 3, fields: ['n'] },
      { selector: { n: { $gte: 0 } }, sort: [{ n: 'desc' }], limit: 5 },
      { selector: { odd: true } },
      { selector: { n: { $lt: 4 } }, sort: ['n'], execution_stats: true },
    ];
    for (const q of queries) {
      const [a, b] = await Promise.all([call(L, 'POST', '/same/_find', q), call(S, 'POST', '/same/_find', q)]);
      assert.equal(a.status, b.status, `${JSON.stringify(q)}: ${a.text}`);
      assert.deepEqual(a.body.docs, b.body.docs, `docs of ${JSON.stringify(q)}`);
      // The scan warning is advisory and, as in any CouchDB cluster, decided from the summed
      // statistics of q shards that each read skip+limit rows; the other warnings must match.
      const lines = (w: unknown) => (typeof w === 'string' ? w.split('\n').filter((l) => !l.startsWith('The number of documents examined')) : []);
      assert.deepEqual(lines(a.body.warning), lines(b.body.warning), `warning of ${JSON.stringify(q)}`);
      assert.equal(typeof a.body.bookmark, 'string');
      if (q.execution_stats) assert.equal(a.body.execution_stats.results_returned, b.body.execution_stats.results_returned);
    }
    // Paging with the lounge's bookmark visits what skip/limit would.
    const page1 = await call(L, 'POST', '/same/_find', { selector: { n: { $gte: 0 } }, sort: ['n'], limit: 7 });
    const page2 = await call(L, 'POST', '/same/_find', { selector: { n: { $gte: 0 } }, sort: ['n'], limit: 7, bookmark: page1.body.bookmark });
    const want = await call(S, 'POST', '/same/_find', { selector: { n: { $gte: 0 } }, sort: ['n'], limit: 14 });
    assert.deepEqual([...page1.body.docs, ...page2.body.docs], want.body.docs);
  });

  test('every case of views-couchdb.json', async (t) => {
    const probe = await call(S, 'GET', '/same/_design/v/_view/by_key?limit=1');
    if (probe.status !== 200 || !Array.isArray(probe.body.rows)) {
      t.skip(`the nodes do not serve views yet (a node answered ${probe.status} ${probe.text.slice(0, 80)})`);
      return;
    }
    for (const c of views.cases) {
      const path = c.path.replace('{db}', 'same');
      const method = c.method ?? 'GET';
      const [a, b] = await Promise.all([call(L, method, path, c.request), call(S, method, path, c.request)]);
      assert.equal(a.status, b.status, `${method} ${path}: ${a.text}`);
      const strip = (x: Record<string, unknown>) => {
        const { ref: _r, update_seq: u, ...rest } = x;
        return { ...rest, ...(u !== undefined ? { update_seq: 'present' } : {}) }; // tokens differ in form from a node's integers
      };
      assert.deepEqual(strip(a.body), strip(b.body), `${method} ${path}`);
    }
  });
});

// ---------------------------------------------------------------- PouchDB

const pouch = () => memoryPouch();

/** A doc as comparable text: members sorted, attachment bodies left out, conflicts sorted. */
function canonical(doc: PouchDoc | undefined): string {
  const d: Record<string, unknown> = { ...doc };
  delete d._attachments;
  if (Array.isArray(d._conflicts)) d._conflicts = [...(d._conflicts as string[])].sort();
  return JSON.stringify(Object.fromEntries(Object.entries(d).sort(([x], [y]) => (x < y ? -1 : 1))));
}

/** Everything a replica shows: each doc's winning rev, body, conflicts. */
async function pouchState(p: Pouch): Promise<string[]> {
  const all = await p.allDocs({ include_docs: true, conflicts: true });
  return all.rows.map((r) => canonical(r.doc)).sort();
}

async function loungeState(db: string): Promise<string[]> {
  const all = await call(L, 'GET', `/${db}/_all_docs?include_docs=true&conflicts=true`);
  return (all.body.rows as { doc: PouchDoc }[]).map((r) => canonical(r.doc)).sort();
}

describe('PouchDB syncs through the lounge as with one CouchDB', () => {
  test('push, pull, attachments, deletions, conflicts, live sync', async () => {
    const db = 'pouch';
    const remote = `${L}/${db}`;
    const a = pouch();
    const b = pouch();
    try {
      const docs: PouchDoc[] = Array.from({ length: 60 }, (_, i) => ({ _id: `p${i}`, n: i }));
      docs.push({ _id: 'att', _attachments: { 'hello.txt': { content_type: 'text/plain', data: Buffer.from('hello lounge').toString('base64') } } } as PouchDoc);
      await a.bulkDocs(docs);
      await a.replicate.to(remote); // PouchDB creates the database through the lounge
      assert.equal((await call(L, 'GET', `/${db}`)).body.doc_count, 61);
      // Writes made through the lounge come back to PouchDB.
      for (let i = 0; i < 20; i++) assert.ok([201, 202].includes((await call(L, 'PUT', `/${db}/l${i}`, { n: i })).status));
      const p3 = await call(L, 'GET', `/${db}/p3`);
      await call(L, 'DELETE', `/${db}/p3?rev=${p3.body._rev}`);
      await a.sync(remote);
      assert.deepEqual(await pouchState(a), await loungeState(db));
      // A conflict made on both sides converges to the same winner and _conflicts.
      const local = await a.get('p5');
      await a.put({ ...local, side: 'pouch' });
      const far = await call(L, 'GET', `/${db}/p5`);
      await call(L, 'PUT', `/${db}/p5`, { ...far.body, side: 'lounge', extra: 1 });
      await a.sync(remote);
      const mine = await a.get('p5', { conflicts: true });
      const theirs = (await call(L, 'GET', `/${db}/p5?conflicts=true`)).body;
      assert.equal(mine._rev, theirs._rev);
      assert.deepEqual(mine._conflicts, theirs._conflicts);
      assert.equal(mine._conflicts?.length, 1);
      // A fresh PouchDB pulls exactly the same database, attachment bytes included.
      await b.replicate.from(remote);
      assert.deepEqual(await pouchState(b), await pouchState(a));
      assert.equal((await b.getAttachment('att', 'hello.txt')).toString(), 'hello lounge');
      // Live sync both ways.
      const live = b.sync(remote, { live: true, retry: true });
      try {
        await b.put({ _id: 'live-pouch' });
        await call(L, 'PUT', `/${db}/live-lounge`, { x: 1 });
        const deadline = Date.now() + 8000;
        for (;;) {
          const here = await b.get('live-lounge').then(() => true, () => false);
          const there = (await call(L, 'GET', `/${db}/live-pouch`)).status === 200;
          if (here && there) break;
          assert.ok(Date.now() < deadline, 'live sync carried both writes');
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        live.cancel();
      }
    } finally {
      await a.destroy();
      await b.destroy();
    }
  });
});

describe('compressed request bodies', () => {
  test('gzipped and deflated bodies are decoded by the lounge (couchbackup gzips every body); an unknown coding is 415', async () => {
    const { gzipSync, deflateSync } = await import('node:zlib');
    assert.equal((await call(L, 'PUT', '/gzipped')).status, 201);
    const put = await call(L, 'PUT', '/gzipped/one', gzipSync(JSON.stringify({ n: 1 })), { 'content-encoding': 'gzip' });
    assert.equal(put.status, 201);
    const bulk = await call(L, 'POST', '/gzipped/_bulk_docs', deflateSync(JSON.stringify({ docs: [{ _id: 'two' }, { _id: 'three' }] })), { 'content-encoding': 'deflate' });
    assert.equal(bulk.status, 201);
    const keys = await call(L, 'POST', '/gzipped/_all_docs', gzipSync(JSON.stringify({ keys: ['one', 'two', 'three'] })), { 'content-encoding': 'gzip' });
    assert.deepEqual(keys.body.rows.map((r: { id: string }) => r.id), ['one', 'two', 'three']);
    assert.equal((await call(L, 'GET', '/gzipped/one')).body.n, 1);
    const br = await call(L, 'PUT', '/gzipped/br', JSON.stringify({}), { 'content-encoding': 'br' });
    assert.deepEqual([br.status, br.body], [415, { error: 'bad_content_type', reason: 'br is not a supported content encoding.' }]);
    const corrupt = await call(L, 'PUT', '/gzipped/bad', JSON.stringify({}), { 'content-encoding': 'gzip' });
    assert.deepEqual([corrupt.status, corrupt.body.reason], [400, 'Request body is not properly gzipped.']);
  });
});
