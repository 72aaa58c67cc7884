// Black-box tests of HTTP endpoints the fixture replay (api-fixtures.test.ts) does not reach, each
// expectation taken from CouchDB 3.5's documented behaviour or its source (chttpd_db.erl,
// couch_changes.erl, fabric_view_changes.erl): the streaming `_changes` feeds, `_all_docs` ranges,
// `_bulk_get` with `latest` and `atts_since`, conditional requests, `_local` docs, database names
// with `/`, `_revs_limit` stemming, compaction, admin-only mode, and refusal of bad input without
// storing anything. Everything runs in process over supertest (no port is opened).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import type { Test } from 'supertest';
import { inProcessNode, nodeForFile, type TestNode } from './helpers/in-process-node.js';
import { WAKE_BOUND_MS, inFlight, steps, text } from './helpers/http-steps.js';

/** How long to wait for background compaction to finish. */
const COMPACTION_DEADLINE_MS = 5_000;

type Req = TestNode['request'];

let n: TestNode;
let req: Req;
nodeForFile((t) => {
  n = t;
  req = t.request;
});

const { createDb, put, makeConflict, dbInfo } = steps(() => req);

// ---- _changes ---------------------------------------------------------------------------------

describe('_changes feeds', () => {
  before(async () => {
    await createDb('feeds');
    await put('feeds', 'a', { n: 1 });
    await put('feeds', 'b', { n: 2, kind: 'even' });
    await put('feeds', 'c', { n: 3 });
  });

  test('longpoll with since=now answers on the first change after it', async () => {
    const started = Date.now();
    const pending = inFlight(text(req.get('/feeds/_changes?feed=longpoll&since=now&timeout=10000'))).then((res) => ({ res, at: Date.now() }));
    await new Promise((r) => setTimeout(r, 150));
    const rev = await put('feeds', 'longpoll-doc', { n: 99 });
    const wrote = Date.now();
    const { res, at } = await pending;
    assert.equal(res.status, 200);
    assert.ok(at - started >= 150, 'it waited for the write');
    assert.ok(at - wrote < WAKE_BOUND_MS, `answered ${at - wrote} ms after the write`);
    const body = JSON.parse(res.body as string) as { results: { id: string; changes: { rev: string }[] }[]; last_seq: string; pending: number };
    assert.deepEqual(
      body.results.map((r) => [r.id, r.changes[0]?.rev]),
      [['longpoll-doc', rev]],
    );
    assert.equal(body.pending, 0);
    assert.equal(String(body.last_seq), String((await dbInfo('feeds')).update_seq));
  });

  test('longpoll with changes already there answers at once, like a normal feed', async () => {
    const started = Date.now();
    const res = await req.get('/feeds/_changes?feed=longpoll&since=0&timeout=10000');
    assert.equal(res.status, 200);
    assert.ok(Date.now() - started < WAKE_BOUND_MS);
    const normal = await req.get('/feeds/_changes');
    assert.deepEqual(res.body, normal.body);
    assert.deepEqual(
      (res.body.results as { id: string }[]).slice(0, 3).map((r) => r.id),
      ['a', 'b', 'c'],
    );
  });

  test('continuous with limit: that many rows, one per line, then last_seq and pending', async () => {
    // CouchDB 3.4+ ends a continuous feed right after the limit-th row (apache/couchdb#5201), so
    // the long timeout here must not be waited out.
    const started = Date.now();
    const res = await text(req.get('/feeds/_changes?feed=continuous&limit=2&timeout=10000'));
    assert.equal(res.status, 200);
    assert.ok(Date.now() - started < WAKE_BOUND_MS, 'ended at the limit, not the timeout');
    const lines = (res.body as string).split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 3, res.body as string);
    const rows = lines.slice(0, 2).map((l) => JSON.parse(l) as { seq: string; id: string });
    assert.deepEqual(
      rows.map((r) => r.id),
      ['a', 'b'],
    );
    const end = JSON.parse(lines[2] as string) as { last_seq: unknown; pending: number };
    assert.deepEqual(Object.keys(end).sort(), ['last_seq', 'pending']);
    assert.equal(String(end.last_seq), String(rows[1]?.seq));
    const total = ((await req.get('/feeds/_changes')).body.results as unknown[]).length;
    assert.equal(end.pending, total - 2);
  });

  test('continuous with timeout streams a write made while it is open, then ends', async () => {
    const started = Date.now();
    const pending = inFlight(text(req.get('/feeds/_changes?feed=continuous&since=now&timeout=400')));
    await new Promise((r) => setTimeout(r, 100));
    const rev = await put('feeds', 'during-continuous', { n: 100 });
    const res = await pending;
    const took = Date.now() - started;
    assert.ok(took >= 400 && took < 400 + WAKE_BOUND_MS, `ended after the timeout (${took} ms)`);
    const lines = (res.body as string).split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 2, res.body as string);
    const row = JSON.parse(lines[0] as string) as { id: string; changes: { rev: string }[]; seq: string };
    assert.equal(row.id, 'during-continuous');
    assert.equal(row.changes[0]?.rev, rev);
    assert.deepEqual(JSON.parse(lines[1] as string), { last_seq: row.seq, pending: 0 });
  });

  test('continuous heartbeat sends empty lines while nothing changes (and overrides timeout)', async () => {
    // With a heartbeat, CouchDB ignores `timeout` and keeps the feed open (fabric_view_changes
    // keep_sending_changes); since 3.4 a continuous feed ends after `limit` rows even with a
    // heartbeat (apache/couchdb#5200, #5201), which is what ends it here.
    const pending = inFlight(text(req.get('/feeds/_changes?feed=continuous&since=now&heartbeat=40&timeout=50&limit=1')));
    await new Promise((r) => setTimeout(r, 300));
    await put('feeds', 'after-heartbeats', { n: 101 });
    const res = await pending;
    const body = res.body as string;
    const firstRow = body.indexOf('{');
    assert.ok(firstRow >= 3, `at least three heartbeat newlines before the row: ${JSON.stringify(body.slice(0, 40))}`);
    assert.match(body.slice(0, firstRow), /^\n+$/);
    const lines = body.slice(firstRow).split('\n').filter((l) => l !== '');
    assert.equal((JSON.parse(lines[0] as string) as { id: string }).id, 'after-heartbeats');
    assert.ok('last_seq' in (JSON.parse(lines[1] as string) as object));
  });

  test('eventsource frames each row as data: and id: lines', async () => {
    const res = await text(req.get('/feeds/_changes?feed=eventsource&timeout=100&limit=3'));
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] as string, /^text\/event-stream/);
    const events = (res.body as string).split('\n\n').filter((e) => e !== '');
    assert.equal(events.length, 3, res.body as string);
    const ids: string[] = [];
    for (const event of events) {
      const m = /^data: (.*)\nid: (.*)$/.exec(event);
      assert.ok(m, `event framing: ${JSON.stringify(event)}`);
      const row = JSON.parse(m[1] as string) as { seq: unknown; id: string };
      assert.equal(m[2], JSON.stringify(row.seq), 'id: is the row seq');
      ids.push(row.id);
    }
    assert.deepEqual(ids, ['a', 'b', 'c']);
  });

  test('eventsource heartbeat is a heartbeat event', async () => {
    const open = n.node.services.stats.changesClients;
    const pending = inFlight(text(req.get('/feeds/_changes?feed=eventsource&since=now&heartbeat=40&limit=1')));
    // Write only once the feed is open and has had time for heartbeats (a loaded machine may take a while to open it).
    while (n.node.services.stats.changesClients === open) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200));
    await put('feeds', 'es-heartbeat', { n: 102 });
    const body = (await pending).body as string;
    assert.match(body, /^(event: heartbeat\ndata: \n\n)+data: \{/);
    assert.match(body, /"id":"es-heartbeat"/);
  });

  test('eventsource resumes after Last-Event-ID', async () => {
    const all = await req.get('/feeds/_changes');
    const rows = all.body.results as { seq: string; id: string }[];
    const res = await text(req.get('/feeds/_changes?feed=eventsource&timeout=50').set('Last-Event-ID', JSON.stringify(rows[1]?.seq)));
    const ids = [...(res.body as string).matchAll(/"id":"([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(ids, rows.slice(2).map((r) => r.id));
  });

  test('descending lists newest first', async () => {
    const asc = (await req.get('/feeds/_changes')).body.results as { seq: string; id: string }[];
    const desc = await req.get('/feeds/_changes?descending=true');
    assert.equal(desc.status, 200);
    assert.deepEqual(
      (desc.body.results as { id: string }[]).map((r) => r.id),
      asc.map((r) => r.id).reverse(),
    );
    const one = await req.get('/feeds/_changes?descending=true&limit=1');
    assert.deepEqual(
      (one.body.results as { id: string }[]).map((r) => r.id),
      [asc[asc.length - 1]?.id],
    );
  });

  test('since=now on a normal feed is empty with last_seq = update_seq', async () => {
    const res = await req.get('/feeds/_changes?since=now');
    assert.deepEqual(res.body.results, []);
    assert.equal(String(res.body.last_seq), String((await dbInfo('feeds')).update_seq));
  });
});

describe('_changes rows and filters', () => {
  let conflict: { winner: string; loser: string };
  before(async () => {
    await createDb('filters');
    await put('filters', 'apple', { type: 'fruit', color: 'red' });
    await put('filters', 'kale', { type: 'veg', color: 'green' });
    await put('filters', 'lime', { type: 'fruit', color: 'green' });
    conflict = await makeConflict('filters', 'split');
  });

  test('style=all_docs lists every leaf, winner first; main_only only the winner', async () => {
    const all = await req.get('/filters/_changes?style=all_docs');
    const row = (all.body.results as { id: string; changes: { rev: string }[] }[]).find((r) => r.id === 'split');
    assert.deepEqual(row?.changes, [{ rev: conflict.winner }, { rev: conflict.loser }]);
    const main = await req.get('/filters/_changes');
    const mainRow = (main.body.results as { id: string; changes: { rev: string }[] }[]).find((r) => r.id === 'split');
    assert.deepEqual(mainRow?.changes, [{ rev: conflict.winner }]);
  });

  test('include_docs&conflicts puts the winner with its _conflicts in each row', async () => {
    const res = await req.get('/filters/_changes?include_docs=true&conflicts=true');
    const rows = res.body.results as { id: string; doc: Record<string, unknown> }[];
    const split = rows.find((r) => r.id === 'split');
    assert.deepEqual(split?.doc, { _id: 'split', _rev: conflict.winner, side: 'winner', _conflicts: [conflict.loser] });
    const apple = rows.find((r) => r.id === 'apple');
    assert.equal(apple?.doc.color, 'red');
    assert.equal(apple?.doc._conflicts, undefined);
    const without = await req.get('/filters/_changes?include_docs=true');
    assert.equal((without.body.results as { id: string; doc: Record<string, unknown> }[]).find((r) => r.id === 'split')?.doc._conflicts, undefined);
  });

  test('filter=_doc_ids by POST body and by query parameter', async () => {
    const posted = await req.post('/filters/_changes?filter=_doc_ids').send({ doc_ids: ['lime', 'apple', 'missing'] });
    assert.equal(posted.status, 200);
    assert.deepEqual(
      (posted.body.results as { id: string }[]).map((r) => r.id),
      ['apple', 'lime'],
    );
    const query = await req.get('/filters/_changes?filter=_doc_ids&doc_ids=' + encodeURIComponent(JSON.stringify(['kale'])));
    assert.equal(query.status, 200);
    assert.deepEqual(
      (query.body.results as { id: string }[]).map((r) => r.id),
      ['kale'],
    );
    const bad = await req.post('/filters/_changes?filter=_doc_ids').send({ doc_ids: 'kale' });
    assert.equal(bad.status, 400);
  });

  test('a filtered longpoll waits for a matching change; other writes do not end it', async () => {
    // fabric_view_changes stops a longpoll only once a row was emitted (`Limit > Limit2`); a change
    // the filter rejects sends nothing and the feed keeps waiting.
    const pending = inFlight(text(req.post('/filters/_changes?feed=longpoll&since=now&filter=_doc_ids&timeout=3000').send({ doc_ids: ['wanted'] }))).then((res) => ({
      res,
      at: Date.now(),
    }));
    await new Promise((r) => setTimeout(r, 100));
    await put('filters', 'unwanted', { v: 1 });
    await new Promise((r) => setTimeout(r, 200));
    const wrote = Date.now();
    const rev = await put('filters', 'wanted', { v: 2 });
    const { res, at } = await pending;
    const body = JSON.parse(res.body as string) as { results: { id: string; changes: { rev: string }[] }[] };
    assert.deepEqual(
      body.results.map((r) => [r.id, r.changes[0]?.rev]),
      [['wanted', rev]],
    );
    assert.ok(at >= wrote, 'it answered after the matching write');
  });

  test('filter=_selector keeps the matching docs only', async () => {
    const res = await req.post('/filters/_changes?filter=_selector').send({ selector: { type: 'fruit', color: { $eq: 'green' } } });
    assert.equal(res.status, 200);
    assert.deepEqual(
      (res.body.results as { id: string }[]).map((r) => r.id),
      ['lime'],
    );
    const docs = await req.post('/filters/_changes?filter=_selector&include_docs=true').send({ selector: { color: 'green' } });
    assert.deepEqual(
      (docs.body.results as { id: string; doc: { type: string } }[]).map((r) => [r.id, r.doc.type]),
      [
        ['kale', 'veg'],
        ['lime', 'fruit'],
      ],
    );
  });
});

// ---- _all_docs ---------------------------------------------------------------------------------

describe('_all_docs', () => {
  const ids = ['a', 'b', 'c', 'd', 'e'];
  const revs = new Map<string, string>();
  let conflict: { winner: string; loser: string };
  before(async () => {
    await createDb('alldocs');
    for (const id of ids) revs.set(id, await put('alldocs', id, { id }));
    const del = await req.delete(`/alldocs/e?rev=${revs.get('e')}`);
    assert.equal(del.status, 200);
    revs.set('e', del.body.rev as string);
    conflict = await makeConflict('alldocs', 'f');
  });
  const rowIds = (body: { rows: { id: string }[] }) => body.rows.map((r) => r.id);

  test('startkey/endkey are inclusive; inclusive_end=false drops the end key', async () => {
    const res = await req.get('/alldocs/_all_docs?startkey="b"&endkey="d"');
    assert.deepEqual(rowIds(res.body), ['b', 'c', 'd']);
    assert.equal(res.body.total_rows, 5);
    assert.equal(res.body.offset, 1);
    const excl = await req.get('/alldocs/_all_docs?startkey="b"&endkey="d"&inclusive_end=false');
    assert.deepEqual(rowIds(excl.body), ['b', 'c']);
    const aliases = await req.get('/alldocs/_all_docs?start_key="c"&end_key="f"');
    assert.deepEqual(rowIds(aliases.body), ['c', 'd', 'f']);
  });

  test('descending walks backwards from startkey', async () => {
    const res = await req.get('/alldocs/_all_docs?descending=true');
    assert.deepEqual(rowIds(res.body), ['f', 'd', 'c', 'b', 'a']);
    const range = await req.get('/alldocs/_all_docs?descending=true&startkey="d"&endkey="b"');
    assert.deepEqual(rowIds(range.body), ['d', 'c', 'b']);
    assert.equal(range.body.offset, 1);
    const excl = await req.get('/alldocs/_all_docs?descending=true&startkey="d"&endkey="b"&inclusive_end=false');
    assert.deepEqual(rowIds(excl.body), ['d', 'c']);
  });

  test('skip and limit page through the rows', async () => {
    const res = await req.get('/alldocs/_all_docs?skip=1&limit=2');
    assert.deepEqual(rowIds(res.body), ['b', 'c']);
    assert.equal(res.body.offset, 1);
    const desc = await req.get('/alldocs/_all_docs?descending=true&skip=1&limit=2');
    assert.deepEqual(rowIds(desc.body), ['d', 'c']);
    const none = await req.get('/alldocs/_all_docs?limit=0');
    assert.deepEqual(none.body.rows, []);
    assert.equal(none.body.total_rows, 5);
  });

  test('keys answers in the order asked, with deleted and missing rows', async () => {
    const res = await req.get('/alldocs/_all_docs?keys=' + encodeURIComponent(JSON.stringify(['c', 'zz', 'e', 'a'])));
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.rows, [
      { id: 'c', key: 'c', value: { rev: revs.get('c') } },
      { key: 'zz', error: 'not_found' },
      { id: 'e', key: 'e', value: { rev: revs.get('e'), deleted: true } },
      { id: 'a', key: 'a', value: { rev: revs.get('a') } },
    ]);
    const docs = await req.post('/alldocs/_all_docs?include_docs=true').send({ keys: ['e', 'b'] });
    assert.equal(docs.body.rows[0].doc, null);
    assert.deepEqual(docs.body.rows[1].doc, { _id: 'b', _rev: revs.get('b'), id: 'b' });
  });

  test('conflicts=true with include_docs shows _conflicts', async () => {
    const res = await req.get('/alldocs/_all_docs?include_docs=true&conflicts=true&keys=["f","a"]');
    assert.deepEqual(res.body.rows[0].doc, { _id: 'f', _rev: conflict.winner, side: 'winner', _conflicts: [conflict.loser] });
    assert.equal(res.body.rows[1].doc._conflicts, undefined);
    const range = await req.get('/alldocs/_all_docs?include_docs=true&conflicts=true&startkey="f"');
    assert.deepEqual(range.body.rows[0].doc._conflicts, [conflict.loser]);
  });

  test('/queries answers several queries in order, each as it would alone', async () => {
    const res = await req.post('/alldocs/_all_docs/queries').send({
      queries: [{ startkey: 'b', endkey: 'd' }, { keys: ['c', 'zz'] }, { descending: true, skip: 1, limit: 2 }],
    });
    assert.equal(res.status, 200);
    const [range, keys, page] = res.body.results as { total_rows: number; offset: number | null; rows: { id: string; key: string }[] }[];
    assert.deepEqual(rowIds(range!), ['b', 'c', 'd']);
    assert.equal(range!.offset, 1);
    assert.equal(range!.total_rows, 5);
    assert.deepEqual(keys!.rows, [{ id: 'c', key: 'c', value: { rev: revs.get('c') } }, { key: 'zz', error: 'not_found' }]);
    assert.deepEqual(rowIds(page!), ['d', 'c']);
    const bad = await req.post('/alldocs/_all_docs/queries').send({ keys: ['a'] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'bad_request');
  });
});

// ---- _bulk_get and atts_since -------------------------------------------------------------------

describe('_bulk_get and atts_since', () => {
  const rev: string[] = [];
  const a = Buffer.from('first attachment, added at revision 1');
  const b = Buffer.from([0, 1, 2, 3, 250, 251, 252, 253, 254, 255]);
  before(async () => {
    await createDb('bulkget');
    rev[1] = await put('bulkget', 'doc', { v: 1, _attachments: { 'a.txt': { content_type: 'text/plain', data: a.toString('base64') } } });
    const res = await req.put(`/bulkget/doc/b.bin?rev=${rev[1]}`).set('content-type', 'application/octet-stream').send(b);
    assert.equal(res.status, 201);
    rev[2] = res.body.rev as string;
    const doc = (await req.get('/bulkget/doc')).body as Record<string, unknown>;
    rev[3] = await put('bulkget', 'doc', { ...doc, v: 3 });
  });

  test('without latest, an old rev is returned as it was; with latest, its leaf', async () => {
    const plain = await req.post('/bulkget/_bulk_get').send({ docs: [{ id: 'doc', rev: rev[1] }] });
    assert.equal(plain.status, 200);
    const old = plain.body.results[0].docs[0].ok as Record<string, unknown>;
    assert.equal(old._rev, rev[1]);
    assert.equal(old.v, 1);
    const latest = await req.post('/bulkget/_bulk_get?latest=true').send({ docs: [{ id: 'doc', rev: rev[1] }] });
    const leaf = latest.body.results[0].docs[0].ok as Record<string, unknown>;
    assert.equal(leaf._rev, rev[3]);
    assert.equal(leaf.v, 3);
  });

  test('latest on a shared ancestor returns every leaf below it', async () => {
    const c = await makeConflict('bulkget', 'split');
    const res = await req.post('/bulkget/_bulk_get?latest=true').send({ docs: [{ id: 'split', rev: c.root }] });
    const got = (res.body.results[0].docs as { ok: { _rev: string } }[]).map((d) => d.ok._rev).sort();
    assert.deepEqual(got, [c.loser, c.winner].sort());
  });

  test('atts_since in _bulk_get inlines only attachments newer than the given revs', async () => {
    const res = await req.post('/bulkget/_bulk_get').send({ docs: [{ id: 'doc', rev: rev[3], atts_since: [rev[1]] }] });
    const atts = (res.body.results[0].docs[0].ok as { _attachments: Record<string, Record<string, unknown>> })._attachments;
    assert.equal(atts['b.bin']?.data, b.toString('base64'));
    assert.equal(atts['b.bin']?.stub, undefined);
    assert.equal(atts['a.txt']?.stub, true);
    assert.equal(atts['a.txt']?.data, undefined);
  });

  test('GET doc?atts_since=[...] inlines only newer attachments', async () => {
    const since1 = await req.get(`/bulkget/doc?atts_since=${encodeURIComponent(JSON.stringify([rev[1]]))}`);
    assert.equal(since1.status, 200);
    const atts1 = since1.body._attachments as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(atts1).sort(), ['a.txt', 'b.bin']);
    assert.equal(atts1['b.bin']?.data, b.toString('base64'));
    assert.equal(atts1['b.bin']?.revpos, 2);
    assert.equal(atts1['a.txt']?.stub, true);
    assert.equal(atts1['a.txt']?.revpos, 1);

    const since2 = await req.get(`/bulkget/doc?atts_since=${encodeURIComponent(JSON.stringify([rev[2]]))}`);
    const atts2 = since2.body._attachments as Record<string, Record<string, unknown>>;
    assert.equal(atts2['a.txt']?.stub, true);
    assert.equal(atts2['b.bin']?.stub, true);

    // Revisions the doc never had tell the server nothing: everything is sent.
    const unknown = await req.get(`/bulkget/doc?atts_since=${encodeURIComponent(JSON.stringify(['1-' + '0'.repeat(32)]))}`);
    const atts3 = unknown.body._attachments as Record<string, Record<string, unknown>>;
    assert.equal(atts3['a.txt']?.data, a.toString('base64'));
    assert.equal(atts3['b.bin']?.data, b.toString('base64'));
  });
});

// ---- conditional requests ----------------------------------------------------------------------

describe('conditional requests', () => {
  before(async () => {
    await createDb('cond');
  });

  test('If-None-Match with the current ETag answers 304 with no body', async () => {
    const rev = await put('cond', 'doc', { v: 1 });
    const first = await req.get('/cond/doc');
    assert.equal(first.headers.etag, `"${rev}"`);
    const again = await req.get('/cond/doc').set('If-None-Match', `"${rev}"`);
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    const stale = await req.get('/cond/doc').set('If-None-Match', '"1-00000000000000000000000000000000"');
    assert.equal(stale.status, 200);
  });

  test('If-None-Match on an attachment answers 304', async () => {
    const rev = await put('cond', 'withatt', { _attachments: { 'x.bin': { content_type: 'application/octet-stream', data: 'AAEC' } } });
    void rev;
    const first = await req.get('/cond/withatt/x.bin');
    assert.equal(first.status, 200);
    const etag = first.headers.etag as string;
    assert.ok(etag);
    const again = await req.get('/cond/withatt/x.bin').set('If-None-Match', etag);
    assert.equal(again.status, 304);
  });

  test('If-Match stands in for the rev on PUT and DELETE', async () => {
    const rev1 = await put('cond', 'ifmatch', { v: 1 });
    const upd = await req.put('/cond/ifmatch').set('If-Match', `"${rev1}"`).send({ v: 2 });
    assert.equal(upd.status, 201);
    assert.match(upd.body.rev as string, /^2-/);
    const stale = await req.put('/cond/ifmatch').set('If-Match', `"${rev1}"`).send({ v: 3 });
    assert.equal(stale.status, 409);
    assert.deepEqual(stale.body, { error: 'conflict', reason: 'Document update conflict.' });
    const staleDel = await req.delete('/cond/ifmatch').set('If-Match', `"${rev1}"`);
    assert.equal(staleDel.status, 409);
    const del = await req.delete('/cond/ifmatch').set('If-Match', `"${upd.body.rev as string}"`);
    assert.equal(del.status, 200);
    assert.match(del.body.rev as string, /^3-/);
    assert.equal((await req.get('/cond/ifmatch')).status, 404);
  });

  test('revs given twice must agree (chttpd_db couch_doc_from_req, extract_header_rev)', async () => {
    const rev1 = await put('cond', 'disagree', { v: 1 });
    const other = '1-00000000000000000000000000000000';
    const etag = await req.put('/cond/disagree').set('If-Match', `"${other}"`).send({ _rev: rev1, v: 2 });
    assert.equal(etag.status, 400);
    assert.deepEqual(etag.body, { error: 'bad_request', reason: 'Document rev and etag have different values' });
    const query = await req.put(`/cond/disagree?rev=${other}`).send({ _rev: rev1, v: 2 });
    assert.equal(query.status, 400);
    assert.deepEqual(query.body, { error: 'bad_request', reason: 'Document rev from request body and query string have different values' });
    const del = await req.delete(`/cond/disagree?rev=${rev1}`).set('If-Match', `"${other}"`);
    assert.equal(del.status, 400);
    assert.deepEqual(del.body, { error: 'bad_request', reason: 'Document rev and etag have different values' });
    const doc = await req.get('/cond/disagree');
    assert.equal(doc.body._rev, rev1, 'nothing was written');
  });

  test('DELETE of a missing or already deleted document is 404 and stores nothing', async () => {
    // chttpd_db opens the doc first "to handle the 404 case", before looking at any rev.
    const rev = await put('cond', 'twice', { v: 1 });
    assert.equal((await req.delete(`/cond/twice?rev=${rev}`)).status, 200);
    const before = await dbInfo('cond');
    const missing = await req.delete('/cond/never-existed');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: 'not_found', reason: 'missing' });
    const withRev = await req.delete('/cond/never-existed?rev=1-00000000000000000000000000000000');
    assert.equal(withRev.status, 404);
    const again = await req.delete('/cond/twice');
    assert.equal(again.status, 404);
    assert.deepEqual(again.body, { error: 'not_found', reason: 'deleted' });
    const after = await dbInfo('cond');
    assert.equal(after.update_seq, before.update_seq);
    assert.equal(after.doc_del_count, before.doc_del_count);
  });
});

// ---- _local docs, db names with '/' ---------------------------------------------------------------

describe('_local documents', () => {
  test('are absent from _all_docs and _changes and do not move update_seq', async () => {
    await createDb('locals');
    await put('locals', 'visible', { v: 1 });
    const before = await dbInfo('locals');
    const res = await req.put('/locals/_local/checkpoint').send({ last_seq: 42 });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, { ok: true, id: '_local/checkpoint', rev: '0-1' });
    assert.equal((await req.get('/locals/_local/checkpoint')).body.last_seq, 42);

    const all = await req.get('/locals/_all_docs');
    assert.deepEqual(
      (all.body.rows as { id: string }[]).map((r) => r.id),
      ['visible'],
    );
    assert.equal(all.body.total_rows, 1);
    const changes = await req.get('/locals/_changes');
    assert.deepEqual(
      (changes.body.results as { id: string }[]).map((r) => r.id),
      ['visible'],
    );
    const after = await dbInfo('locals');
    assert.equal(after.doc_count, before.doc_count);
    assert.equal(after.update_seq, before.update_seq);
  });
});

describe('database names containing /', () => {
  const name = 'shards/00000000-1fffffff/db';
  const path = '/' + encodeURIComponent(name);

  test('round-trip in _all_dbs and work for docs, changes and delete', async () => {
    assert.equal(path, '/shards%2F00000000-1fffffff%2Fdb');
    const created = await req.put(path);
    assert.equal(created.status, 201);
    assert.ok(((await req.get('/_all_dbs')).body as string[]).includes(name));
    assert.equal((await req.get(path)).body.db_name, name);

    const rev = (await req.put(`${path}/doc1`).send({ v: 1 })).body.rev as string;
    assert.match(rev, /^1-/);
    assert.deepEqual((await req.get(`${path}/doc1`)).body, { _id: 'doc1', _rev: rev, v: 1 });
    const all = await req.get(`${path}/_all_docs`);
    assert.deepEqual(
      (all.body.rows as { id: string }[]).map((r) => r.id),
      ['doc1'],
    );
    const changes = await req.get(`${path}/_changes`);
    assert.equal(changes.body.results.length, 1);
    // The unescaped form names a different resource (db "shards", doc "00000000-1fffffff", ...).
    assert.equal((await req.get('/shards')).status, 404);

    assert.equal((await req.delete(path)).status, 200);
    assert.ok(!((await req.get('/_all_dbs')).body as string[]).includes(name));
  });
});

// ---- revs_limit and compaction -------------------------------------------------------------------

describe('_revs_limit and _compact', () => {
  test('with _revs_limit 3, ten edits keep three revision ids', async () => {
    await createDb('stemmed');
    const set = await req.put('/stemmed/_revs_limit').set('content-type', 'application/json').send('3');
    assert.equal(set.status, 200);
    assert.deepEqual(set.body, { ok: true });
    assert.equal((await req.get('/stemmed/_revs_limit')).body, 3);

    const revs: string[] = [await put('stemmed', 'doc', { edit: 1 })];
    for (let i = 2; i <= 10; i++) revs.push(await put('stemmed', 'doc', { _rev: revs[revs.length - 1], edit: i }));
    const res = await req.get('/stemmed/doc?revs=true');
    assert.equal(res.body._rev, revs[9]);
    assert.equal(res.body._revisions.start, 10);
    assert.deepEqual(
      res.body._revisions.ids,
      revs.slice(7).reverse().map((r) => r.split('-')[1]),
    );
    const info = await req.get('/stemmed/doc?revs_info=true');
    assert.equal((info.body._revs_info as unknown[]).length, 3);
    // A revision stemmed out of the tree is gone.
    const gone = await req.get(`/stemmed/doc?rev=${revs[1]}`);
    assert.equal(gone.status, 404);
  });

  test('compaction keeps every leaf and drops the bodies of older revisions', async () => {
    await createDb('compacted');
    const r1 = await put('compacted', 'doc', { v: 1 });
    const r2 = await put('compacted', 'doc', { _rev: r1, v: 2 });
    const r3 = await put('compacted', 'doc', { _rev: r2, v: 3 });
    const c = await makeConflict('compacted', 'split');
    assert.equal((await req.get(`/compacted/doc?rev=${r1}`)).status, 200, 'old bodies are readable before compaction');

    const wrongType = await req.post('/compacted/_compact').set('content-type', 'text/plain').send('');
    assert.equal(wrongType.status, 415);
    const started = await req.post('/compacted/_compact').set('content-type', 'application/json');
    assert.equal(started.status, 202);
    assert.deepEqual(started.body, { ok: true });

    const deadline = Date.now() + COMPACTION_DEADLINE_MS;
    for (;;) {
      const info = await dbInfo('compacted');
      const old = await req.get(`/compacted/doc?rev=${r1}`);
      if (old.status === 404 && !(info as unknown as { compact_running: boolean }).compact_running) {
        assert.deepEqual(old.body, { error: 'not_found', reason: 'missing' });
        break;
      }
      assert.ok(Date.now() < deadline, 'compaction did not finish in time');
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal((await req.get(`/compacted/doc?rev=${r2}`)).status, 404);
    const leaf = await req.get('/compacted/doc?revs=true');
    assert.equal(leaf.body._rev, r3);
    assert.equal(leaf.body.v, 3);
    assert.equal(leaf.body._revisions.ids.length, 3, 'the history of ids survives compaction');
    const both = await req.get('/compacted/split?open_revs=all').set('accept', 'application/json');
    const got = (both.body as { ok: { _rev: string; side: string } }[]).map((d) => [d.ok._rev, d.ok.side]).sort();
    assert.deepEqual(got, [
      [c.loser, 'loser'],
      [c.winner, 'winner'],
    ]);
  });

  test('compaction frees attachment bytes no kept revision refers to, and only those', async () => {
    await createDb('attgc');
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    const att = (t: string) => ({ content_type: 'text/plain', data: b64(t) });
    const r1 = await put('attgc', 'doc', { _attachments: { old: att('dropped later'), kept: att('kept bytes') } });
    // The second revision drops `old` and keeps `kept` as a stub; another doc shares `kept`'s bytes.
    const r2 = await put('attgc', 'doc', { _rev: r1, _attachments: { kept: { stub: true } } });
    await put('attgc', 'other', { _attachments: { same: att('kept bytes') } });
    const digests = (await req.get(`/attgc/doc?rev=${r1}`)).body._attachments as Record<string, { digest: string }>;
    const db = n.node.services.catalog.require('attgc');
    assert.ok(db.attachment(digests.old!.digest), 'stored before compaction');

    assert.equal((await req.post('/attgc/_compact').set('content-type', 'application/json')).status, 202);
    const deadline = Date.now() + COMPACTION_DEADLINE_MS;
    while (db.attachment(digests.old!.digest) !== undefined) {
      assert.ok(Date.now() < deadline, 'the unreferenced attachment was never freed');
      await new Promise((r) => setTimeout(r, 25));
    }
    // Stored gzipped, as CouchDB stores text/plain.
    assert.equal(gunzipSync(db.attachment(digests.kept!.digest) as Buffer).toString(), 'kept bytes');
    const kept = await req.get('/attgc/doc/kept');
    assert.equal(kept.status, 200);
    assert.equal(kept.text, 'kept bytes');
    assert.equal((await req.get(`/attgc/doc`)).body._rev, r2);
  });
});

// ---- security --------------------------------------------------------------------------------------

describe('admin mode (--admin)', () => {
  let secure: TestNode;
  let r: Req;
  before(async () => {
    secure = await inProcessNode({ admins: [{ name: 'adm', password: 'pw' }] });
    r = secure.request;
  });
  after(async () => {
    await secure.close();
  });

  test('only a server admin may create a database', async () => {
    const anon = await r.put('/locked');
    assert.equal(anon.status, 401);
    assert.deepEqual(anon.body, { error: 'unauthorized', reason: 'You are not a server admin.' });
    const wrong = await r.put('/locked').auth('adm', 'wrong');
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.body, { error: 'unauthorized', reason: 'Name or password is incorrect.' });
    const unknownUser = await r.put('/locked').auth('nobody', 'pw');
    assert.equal(unknownUser.status, 401);
    assert.equal(unknownUser.body.reason, 'Name or password is incorrect.');
    const admin = await r.put('/locked').auth('adm', 'pw');
    assert.equal(admin.status, 201);
    assert.deepEqual(admin.body, { ok: true });
  });

  test('a new database is readable and writable only by admins', async () => {
    const sec = await r.get('/locked/_security').auth('adm', 'pw');
    assert.deepEqual(sec.body, { members: { roles: ['_admin'] }, admins: { roles: ['_admin'] } });
    for (const [method, path] of [
      ['get', '/locked'],
      ['get', '/locked/_all_docs'],
      ['get', '/locked/_changes'],
      ['get', '/locked/anything'],
      ['put', '/locked/anything'],
    ] as const) {
      const res = await (method === 'get' ? r.get(path) : r.put(path).send({ v: 1 }));
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.equal(res.body.error, 'unauthorized');
    }
    assert.equal((await r.put('/locked/doc').auth('adm', 'pw').send({ v: 1 })).status, 201);
    assert.equal((await r.get('/locked/doc').auth('adm', 'pw')).status, 200);
    const allDbs = await r.get('/_all_dbs');
    assert.equal(allDbs.status, 401);
    assert.equal((await r.get('/')).status, 200, 'the welcome is public');
  });

  test('_security with named members still shuts out anonymous callers; empty members open it', async () => {
    const anonSet = await r.put('/locked/_security').send({ members: { names: [] } });
    assert.equal(anonSet.status, 401);
    const set = await r.put('/locked/_security').auth('adm', 'pw').send({ admins: { names: [], roles: [] }, members: { names: ['bob'], roles: [] } });
    assert.equal(set.status, 200);
    assert.equal((await r.get('/locked/doc')).status, 401);
    assert.equal((await r.get('/locked/doc').auth('adm', 'pw')).status, 200, 'server admins are always members');

    const open = await r.put('/locked/_security').auth('adm', 'pw').send({ admins: { names: [], roles: [] }, members: { names: [], roles: [] } });
    assert.equal(open.status, 200);
    assert.equal((await r.get('/locked/doc')).status, 200);
    assert.equal((await r.put('/locked/public').send({ v: 1 })).status, 201);
    // Design documents still need a database admin.
    const ddoc = await r.put('/locked/_design/app').send({ views: {} });
    assert.equal(ddoc.status, 401);
    assert.equal(ddoc.body.error, 'unauthorized');
    assert.equal((await r.delete('/locked')).status, 401, 'deleting a database needs a server admin');
  });
});

describe('admin party (no --admin)', () => {
  test('anyone is admin: databases can be created, read and secured without credentials', async () => {
    assert.equal((await req.put('/party')).status, 201);
    assert.deepEqual((await req.get('/party/_security')).body, { members: { roles: ['_admin'] }, admins: { roles: ['_admin'] } });
    assert.equal((await req.put('/party/doc').send({ v: 1 })).status, 201);
    assert.equal((await req.get('/party/doc')).status, 200);
    assert.equal((await req.put('/party/_design/app').send({ views: {} })).status, 201);
    assert.equal((await req.get('/_all_dbs')).status, 200);
    assert.deepEqual((await req.get('/_session')).body.userCtx, { name: null, roles: ['_admin'] });
  });
});

// ---- bad input -----------------------------------------------------------------------------------

describe('bad input is refused and stores nothing', () => {
  let limited: TestNode;
  before(async () => {
    await createDb('strict');
    await put('strict', 'existing', { v: 1 });
    limited = await inProcessNode({ limits: { maxRequestBytes: 1000 } });
    assert.equal((await limited.request.put('/small')).status, 201);
  });
  after(async () => {
    await limited.close();
  });

  /** Runs `send`, checks the answer, and checks the database did not change. */
  async function refused(r: Req, db: string, send: () => Test, status: number, body: Record<string, unknown> | ((b: Record<string, unknown>) => void)): Promise<void> {
    const before = await dbInfo(db, r);
    const res = await send();
    assert.equal(res.status, status, JSON.stringify(res.body));
    if (typeof body === 'function') body(res.body as Record<string, unknown>);
    else assert.deepEqual(res.body, body);
    const after = await dbInfo(db, r);
    assert.equal(after.doc_count, before.doc_count, 'doc_count unchanged');
    assert.equal(after.doc_del_count, before.doc_del_count, 'doc_del_count unchanged');
    assert.equal(after.update_seq, before.update_seq, 'update_seq unchanged');
  }

  const invalidJson = { error: 'bad_request', reason: 'invalid UTF-8 JSON' };
  /** superagent would JSON-encode a Buffer sent as application/json; this sends its bytes as they are. */
  const asIs = ((bytes: Buffer) => bytes) as unknown as (obj: unknown) => string;

  test('malformed JSON and invalid UTF-8 → 400 invalid UTF-8 JSON', async () => {
    await refused(req, 'strict', () => req.put('/strict/broken').set('content-type', 'application/json').send('{"a":'), 400, invalidJson);
    await refused(req, 'strict', () => req.post('/strict/_bulk_docs').set('content-type', 'application/json').send('{"docs":[{"a":1},]}'), 400, invalidJson);
    const badUtf8 = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    await refused(req, 'strict', () => req.put('/strict/badutf8').set('content-type', 'application/json').serialize(asIs).send(badUtf8), 400, invalidJson);
  });

  test('wrong content type on _bulk_docs → 415', async () => {
    await refused(req, 'strict', () => req.post('/strict/_bulk_docs').set('content-type', 'text/plain').send('{"docs":[{"_id":"x"}]}'), 415, {
      error: 'bad_content_type',
      reason: 'Content-Type must be application/json',
    });
  });

  test('a document that is not a JSON object → 400', async () => {
    const reason = { error: 'bad_request', reason: 'Document must be a JSON object' };
    for (const body of ['[1,2]', '"text"', '42', 'null']) {
      await refused(req, 'strict', () => req.put('/strict/notobj').set('content-type', 'application/json').send(body), 400, reason);
    }
    await refused(req, 'strict', () => req.post('/strict').set('content-type', 'application/json').send('[{"a":1}]'), 400, reason);
    await refused(req, 'strict', () => req.post('/strict/_bulk_docs').send({ docs: [{ _id: 'fine' }, [1, 2]] }), 400, reason);
  });

  test('a document over 8 MB → 413 document_too_large', async () => {
    const big = JSON.stringify({ blob: 'x'.repeat(8_100_000) });
    await refused(req, 'strict', () => req.put('/strict/big').set('content-type', 'application/json').send(big), 413, {
      error: 'document_too_large',
      reason: 'big',
    });
  });

  test('one document over 8 MB fails the whole _bulk_docs with 413', async () => {
    // couch_doc:from_json_obj_validate throws for the big doc before any doc is written.
    const body = JSON.stringify({ docs: [{ _id: 'small', v: 1 }, { _id: 'huge', blob: 'x'.repeat(8_100_000) }] });
    await refused(req, 'strict', () => req.post('/strict/_bulk_docs').set('content-type', 'application/json').send(body), 413, {
      error: 'document_too_large',
      reason: 'huge',
    });
    assert.equal((await req.get('/strict/small')).status, 404);
  });

  test('a request body over the limit → 413 too_large', async () => {
    const r = limited.request;
    const body = JSON.stringify({ blob: 'y'.repeat(2000) });
    const tooLarge = (b: Record<string, unknown>) => assert.equal(b.error, 'too_large');
    await refused(r, 'small', () => r.put('/small/big').set('content-type', 'application/json').send(body), 413, tooLarge);
    await refused(r, 'small', () => r.post('/small/_bulk_docs').set('content-type', 'application/json').send(JSON.stringify({ docs: [{ _id: 'a', blob: 'z'.repeat(2000) }] })), 413, tooLarge);
    assert.equal((await r.put('/small/fits').send({ v: 1 })).status, 201, 'a small body still works');
  });

  test('JSON nested 10,000 deep → 400', async () => {
    const deep = '{"a":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}';
    const isBadRequest = (b: Record<string, unknown>) => assert.equal(b.error, 'bad_request');
    await refused(req, 'strict', () => req.put('/strict/deep').set('content-type', 'application/json').send(deep), 400, isBadRequest);
    await refused(req, 'strict', () => req.post('/strict/_bulk_docs').set('content-type', 'application/json').send(`{"docs":[${deep}]}`), 400, isBadRequest);
    assert.equal((await req.get('/')).status, 200, 'the node still answers');
  });
});

describe('feeds wake on replicated writes', () => {
  let node: TestNode;
  before(async () => {
    node = await inProcessNode();
    await node.request.put('/repl-wake').expect(201);
  });
  after(() => node.close());

  // Replicated edits (new_edits=false) answer nothing in _bulk_docs, but they are changes all the
  // same: a longpoll waiting on the database must return with them (CouchDB's replication protocol).
  test('a longpoll feed returns when a new_edits=false write lands', async () => {
    const waiting = node.request.get('/repl-wake/_changes?feed=longpoll&since=now&timeout=5000');
    const started = Date.now();
    setTimeout(() => {
      void node.request
        .post('/repl-wake/_bulk_docs')
        .set('content-type', 'application/json')
        .send({ new_edits: false, docs: [{ _id: 'from-elsewhere', _rev: '1-abcdef', v: 1 }] })
        .then(() => undefined);
    }, 100);
    const res = await waiting;
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.results.map((r: { id: string }) => r.id), ['from-elsewhere']);
    assert.ok(Date.now() - started < WAKE_BOUND_MS, `woke after ${Date.now() - started} ms`);
  });
});
