// Black-box tests of the P1 endpoints: `_purge` and `_purged_infos_limit`, `COPY`, `Range` on
// attachments, `att_encoding_info`, and `_db_updates`. Expected values come from CouchDB 3.5's
// source (chttpd_db.erl, couch_db_updater:purge_docs/2, couch_key_tree:remove_leafs/2,
// chttpd_util:parse_copy_destination_header/1, global_changes_httpd.erl) and its documentation.
// Everything runs in process over supertest (no port is opened).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import supertest, { type Test } from 'supertest';
import { openNode } from '../server/node.js';
import { inProcessNode, nodeForFile, type TestNode } from './helpers/in-process-node.js';
import { FEED_BOUND_MS, WAKE_BOUND_MS, inFlight, steps, text } from './helpers/http-steps.js';

/** Database events are recorded in batches this far apart (CouchDB's max_event_delay is 25 ms). */
const EVENT_SETTLE_MS = 80;

type Req = TestNode['request'];

let req: Req;
nodeForFile((t) => (req = t.request));

function binary(r: Test): Test {
  return r.buffer(true).parse((res, done) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => done(null, Buffer.concat(chunks)));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const { createDb, put, makeConflict, dbInfo: info } = steps(() => req);

/** The N of a sequence string `N-<opaque>`. */
const seqN = (seq: unknown): number => Number(String(seq).split('-')[0]);

const purge = (db: string, body: unknown) => req.post(`/${db}/_purge`).set('content-type', 'application/json').send(JSON.stringify(body));

// ---- _purge ----------------------------------------------------------------------------------

describe('POST /{db}/_purge', () => {
  before(() => createDb('purge'));

  test('purging the only leaf removes the document entirely', async () => {
    const r1 = await put('purge', 'gone', { v: 1 });
    const r2 = await put('purge', 'gone', { _rev: r1, v: 2 });
    await put('purge', 'stays', { v: 1 });
    const before = await info('purge');
    const res = await purge('purge', { gone: [r2] });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, { purge_seq: null, purged: { gone: [r2] } });
    const after = await info('purge');
    assert.equal(after.doc_count, before.doc_count - 1);
    assert.equal(seqN(after.update_seq), seqN(before.update_seq) + 1, 'nothing survives, so update_seq is bumped once');
    assert.equal(seqN(after.purge_seq), seqN(before.purge_seq) + 1);
    assert.deepEqual((await req.get('/purge/gone')).body, { error: 'not_found', reason: 'missing' });
    assert.equal((await req.get('/purge/gone').query({ rev: r1 })).status, 404, 'the whole path went, not only the leaf');
    const all = await req.get('/purge/_all_docs');
    assert.deepEqual(all.body.rows.map((r: { id: string }) => r.id), ['stays']);
    const changes = await req.get('/purge/_changes');
    assert.deepEqual(changes.body.results.map((r: { id: string }) => r.id), ['stays']);
    const diff = await req.post('/purge/_revs_diff').send({ gone: [r2] });
    assert.deepEqual(diff.body, { gone: { missing: [r2] } }, 'a purged revision is unknown again');
  });

  test('purging the winning leaf of a conflict leaves the loser as a new change', async () => {
    const { winner, loser } = await makeConflict('purge', 'conf');
    const before = await info('purge');
    const res = await purge('purge', { conf: [winner] });
    assert.deepEqual(res.body, { purge_seq: null, purged: { conf: [winner] } });
    const doc = await req.get('/purge/conf').query({ conflicts: 'true' });
    assert.equal(doc.body._rev, loser);
    assert.equal(doc.body.side, 'loser');
    assert.equal(doc.body._conflicts, undefined);
    const after = await info('purge');
    assert.equal(after.doc_count, before.doc_count);
    // couch_db_updater relabels each surviving leaf with a new sequence: one leaf here.
    assert.equal(seqN(after.update_seq), seqN(before.update_seq) + 1);
    const changes = await req.get('/purge/_changes').query({ since: String(before.update_seq) });
    assert.deepEqual(changes.body.results, [{ seq: after.update_seq, id: 'conf', changes: [{ rev: loser }] }]);
  });

  test('inner, unknown and malformed-but-valid revisions are ignored; unknown docs answer []', async () => {
    const { root } = await makeConflict('purge', 'conf2');
    const before = await info('purge');
    const res = await purge('purge', { conf2: [root, '9-' + '0'.repeat(32)], nosuchdoc: ['1-' + 'c'.repeat(32)] });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, { purge_seq: null, purged: { conf2: [], nosuchdoc: [] } });
    const after = await info('purge');
    assert.equal(seqN(after.purge_seq), seqN(before.purge_seq) + 2, 'one purge info per document named');
    assert.equal(seqN(after.update_seq), seqN(before.update_seq) + 1, 'a purge always bumps update_seq');
    assert.equal(after.doc_count, before.doc_count);
    assert.equal((await req.get('/purge/conf2').query({ open_revs: 'all' })).body.length, 2);
  });

  test('purging a tombstone removes a deleted document from doc_del_count', async () => {
    const r1 = await put('purge', 'tomb', { v: 1 });
    const del = await req.delete('/purge/tomb').query({ rev: r1 });
    const before = await info('purge');
    const res = await purge('purge', { tomb: [del.body.rev, r1] });
    assert.deepEqual(res.body.purged, { tomb: [del.body.rev] }, 'r1 is not a leaf');
    const after = await info('purge');
    assert.equal(after.doc_del_count, before.doc_del_count - 1);
    assert.equal(after.doc_count, before.doc_count);
    assert.equal((await req.get('/purge/tomb')).body.reason, 'missing', 'not "deleted": the tombstone is gone too');
  });

  test('an empty request purges nothing and changes nothing', async () => {
    const before = await info('purge');
    const res = await purge('purge', {});
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, { purge_seq: null, purged: {} });
    const after = await info('purge');
    assert.equal(seqN(after.update_seq), seqN(before.update_seq));
    assert.equal(seqN(after.purge_seq), seqN(before.purge_seq));
  });

  test('bad bodies are refused with CouchDB errors and purge nothing', async () => {
    const rev = await put('purge', 'keep', { v: 1 });
    const before = await info('purge');
    const cases: [unknown, number, { error: string; reason: string }][] = [
      [[{ keep: [rev] }], 400, { error: 'bad_request', reason: 'Request body must be a JSON object' }],
      [{ keep: rev }, 400, { error: 'bad_request', reason: 'Invalid list of revisions' }],
      [{ keep: [rev], other: ['not-a-rev'] }, 400, { error: 'bad_request', reason: 'Invalid rev format' }],
      [{ keep: [rev, 7] }, 400, { error: 'bad_request', reason: 'Invalid rev format' }],
      [Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`d${i}`, []])), 400, { error: 'bad_request', reason: 'Exceeded maximum number of documents.' }],
      [{ keep: Array.from({ length: 1001 }, (_, i) => `${i + 1}-abc`) }, 400, { error: 'bad_request', reason: 'Exceeded maximum number of revisions.' }],
    ];
    for (const [body, status, answer] of cases) {
      const res = await purge('purge', body);
      assert.equal(res.status, status, JSON.stringify(body).slice(0, 80));
      assert.deepEqual(res.body, answer);
    }
    const wrongType = await req.post('/purge/_purge').set('content-type', 'text/plain').send(JSON.stringify({ keep: [rev] }));
    assert.equal(wrongType.status, 415);
    assert.deepEqual(wrongType.body, { error: 'bad_content_type', reason: 'Content-Type must be application/json' });
    const badJson = await req.post('/purge/_purge').set('content-type', 'application/json').send('{"keep": [');
    assert.deepEqual([badJson.status, badJson.body.error], [400, 'bad_request']);
    assert.deepEqual(await info('purge'), before);
    assert.equal((await req.get('/purge/keep')).status, 200);
    assert.equal((await req.get('/nosuchdb/_purge')).status, 405);
    assert.deepEqual((await purge('nosuchdb', {})).body, { error: 'not_found', reason: 'Database does not exist.' });
    assert.deepEqual((await req.get('/purge/_purge')).body, { error: 'method_not_allowed', reason: 'Only POST allowed' });
  });

  test('a purge wakes a waiting longpoll feed', async () => {
    const { winner, loser } = await makeConflict('purge', 'wake');
    const opened = Date.now();
    const feed = inFlight(req.get('/purge/_changes').query({ feed: 'longpoll', since: 'now', timeout: String(FEED_BOUND_MS) }));
    await sleep(50);
    await purge('purge', { wake: [winner] }).expect(201);
    const res = await feed;
    assert.ok(Date.now() - opened < WAKE_BOUND_MS + 50, `the feed answered after ${Date.now() - opened} ms`);
    assert.deepEqual(res.body.results.map((r: { id: string; changes: unknown }) => [r.id, r.changes]), [['wake', [{ rev: loser }]]]);
  });

  test('a fully purged document leaves view results', async () => {
    await put('purge', '_design/v', { views: { all: { map: 'function (doc) { if (doc.tag) emit(doc._id, null); }' } } });
    const rev = await put('purge', 'tagged', { tag: true });
    await put('purge', 'tagged2', { tag: true });
    const ids = async () => (await req.get('/purge/_design/v/_view/all')).body.rows.map((r: { id: string }) => r.id);
    assert.deepEqual(await ids(), ['tagged', 'tagged2']);
    await purge('purge', { tagged: [rev] }).expect(201);
    assert.deepEqual(await ids(), ['tagged2']);
  });

  test('views stay right when more purges happened than _purged_infos_limit keeps', async () => {
    await createDb('purgecut');
    await req.put('/purgecut/_purged_infos_limit').set('content-type', 'application/json').send('1').expect(200);
    await put('purgecut', '_design/v', { views: { all: { map: 'function (doc) { emit(doc.n, null); }' } } });
    const revs: string[] = [];
    for (let n = 0; n < 5; n++) revs.push(await put('purgecut', `d${n}`, { n }));
    const ids = async () => (await req.get('/purgecut/_design/v/_view/all')).body.rows.map((r: { id: string }) => r.id);
    assert.deepEqual(await ids(), ['d0', 'd1', 'd2', 'd3', 'd4']);
    await purge('purgecut', { d1: [revs[1]] }).expect(201);
    await purge('purgecut', { d3: [revs[3]] }).expect(201);
    assert.deepEqual(await ids(), ['d0', 'd2', 'd4'], 'the index replays or rebuilds, never keeps purged rows');
    await purge('purgecut', { d0: [revs[0]] }).expect(201);
    assert.deepEqual(await ids(), ['d2', 'd4']);
  });
});

describe('/{db}/_purged_infos_limit', () => {
  before(() => createDb('limits'));

  test('defaults to 1000, can be set to a positive integer, refuses anything else', async () => {
    assert.deepEqual((await req.get('/limits/_purged_infos_limit')).body, 1000);
    const set = await req.put('/limits/_purged_infos_limit').set('content-type', 'application/json').send('50');
    assert.deepEqual([set.status, set.body], [200, { ok: true }]);
    assert.deepEqual((await req.get('/limits/_purged_infos_limit')).body, 50);
    for (const bad of ['0', '-3', '1.5', '"10"', '{}']) {
      const res = await req.put('/limits/_purged_infos_limit').set('content-type', 'application/json').send(bad);
      assert.equal(res.status, 400, bad);
      assert.deepEqual(res.body, { error: 'bad_request', reason: '`purge_infos_limit` must be positive integer' });
    }
    assert.deepEqual((await req.get('/limits/_purged_infos_limit')).body, 50);
  });
});

// ---- COPY ------------------------------------------------------------------------------------

describe('COPY /{db}/{docid}', () => {
  let srcRev1: string;
  let srcRev2: string;
  before(async () => {
    await createDb('copy');
    srcRev1 = await put('copy', 'src', { v: 1 });
    srcRev2 = await put('copy', 'src', {
      _rev: srcRev1,
      v: 2,
      _attachments: { 'a.bin': { content_type: 'application/octet-stream', data: Buffer.from([1, 2, 3, 4]).toString('base64') } },
    });
  });

  test('copies the body and attachments to a new id (201 {ok,id,rev}, Location, ETag)', async () => {
    const res = await req.copy('/copy/src').set('Destination', 'dst');
    assert.equal(res.status, 201);
    assert.equal(res.body.ok, true);
    assert.equal(res.body.id, 'dst');
    assert.match(res.body.rev, /^1-[0-9a-f]{32}$/);
    assert.equal(res.headers.etag, `"${res.body.rev}"`);
    assert.match(String(res.headers.location), /\/copy\/dst$/);
    const src = (await req.get('/copy/src')).body;
    const dst = (await req.get('/copy/dst')).body;
    assert.equal(dst.v, 2);
    assert.equal(dst._attachments['a.bin'].digest, src._attachments['a.bin'].digest);
    assert.equal(dst._attachments['a.bin'].length, 4);
    const bytes = await binary(req.get('/copy/dst/a.bin'));
    assert.deepEqual(bytes.body, Buffer.from([1, 2, 3, 4]));
    const srcAfter = (await req.get('/copy/src')).body;
    assert.equal(srcAfter._rev, srcRev2, 'the source is not changed');
  });

  test('an existing destination needs its rev: 409 without, 201 with ?rev= in Destination', async () => {
    const existing = (await req.get('/copy/dst')).body._rev as string;
    const clash = await req.copy('/copy/src').set('Destination', 'dst');
    assert.equal(clash.status, 409);
    assert.deepEqual(clash.body, { error: 'conflict', reason: 'Document update conflict.' });
    const ok = await req.copy('/copy/src').set('Destination', `dst?rev=${existing}`);
    assert.equal(ok.status, 201);
    assert.match(ok.body.rev, /^2-/);
    const stale = await req.copy('/copy/src').set('Destination', `dst?rev=${existing}`);
    assert.equal(stale.status, 409);
  });

  test('?rev= copies an older revision of the source', async () => {
    const res = await req.copy('/copy/src').query({ rev: srcRev1 }).set('Destination', 'old-copy');
    assert.equal(res.status, 201);
    const doc = (await req.get('/copy/old-copy')).body;
    assert.equal(doc.v, 1);
    assert.equal(doc._attachments, undefined);
  });

  test('the Destination id is URL-decoded, and design docs can be copied', async () => {
    assert.equal((await req.copy('/copy/src').set('Destination', 'with%2Fslash+and+space')).status, 201);
    assert.equal((await req.get('/copy/' + encodeURIComponent('with/slash and space'))).body.v, 2);
    await put('copy', '_design/d', { language: 'javascript', views: {} });
    const res = await req.copy('/copy/_design/d').set('Destination', '_design/e');
    assert.deepEqual([res.status, res.body.id], [201, '_design/e']);
    assert.deepEqual((await req.get('/copy/_design/e')).body.views, {});
  });

  test('bad requests: no Destination, absolute URL, bad rev, missing source', async () => {
    const cases: [Test, number, { error: string; reason: string }][] = [
      [req.copy('/copy/src'), 400, { error: 'bad_request', reason: 'Destination header is mandatory for COPY.' }],
      [req.copy('/copy/src').set('Destination', 'http://elsewhere/db/x'), 400, { error: 'bad_request', reason: 'Destination URL must be relative.' }],
      [req.copy('/copy/src').set('Destination', 'x?rev=garbage'), 400, { error: 'bad_request', reason: 'Invalid rev format' }],
      [req.copy('/copy/nope').set('Destination', 'x'), 404, { error: 'not_found', reason: 'missing' }],
      [req.copy('/copy/src').query({ rev: '9-' + 'e'.repeat(32) }).set('Destination', 'x'), 404, { error: 'not_found', reason: 'missing' }],
      [req.copy('/copy/src').set('Destination', '_bad'), 400, { error: 'illegal_docid', reason: 'Only reserved document ids may start with underscore.' }],
    ];
    for (const [r, status, body] of cases) {
      const res = await r;
      assert.deepEqual([res.status, res.body], [status, body]);
    }
    assert.equal((await req.get('/copy/x')).status, 404, 'nothing was written');
  });
});

// ---- Range -----------------------------------------------------------------------------------

describe('Range on GET /{db}/{doc}/{att}', () => {
  const data = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
  before(async () => {
    await createDb('ranges');
    const res = await req.put('/ranges/d/blob.bin').set('content-type', 'application/octet-stream').send(data);
    assert.equal(res.status, 201);
  });
  const get = (range?: string) => {
    const r = binary(req.get('/ranges/d/blob.bin'));
    return range === undefined ? r : r.set('Range', range);
  };

  test('without Range: 200, whole body, Accept-Ranges: bytes', async () => {
    const res = await get();
    assert.equal(res.status, 200);
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.deepEqual(res.body, data);
  });

  test('a single range is 206 with Content-Range', async () => {
    const cases: [string, number, number][] = [
      ['bytes=10-19', 10, 19],
      ['bytes=90-', 90, 99],
      ['bytes=-5', 95, 99],
      ['bytes=95-500', 95, 99],
    ];
    for (const [range, start, end] of cases) {
      const res = await get(range);
      assert.equal(res.status, 206, range);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/100`);
      assert.equal(res.headers['content-length'], String(end - start + 1));
      assert.equal(res.headers['content-type'], 'application/octet-stream');
      assert.deepEqual(res.body, data.subarray(start, end + 1));
    }
  });

  test('bytes=0- and unparseable ranges get the whole attachment', async () => {
    for (const range of ['bytes=0-', 'lines=1-2', 'bytes=x-y']) {
      const res = await get(range);
      assert.equal(res.status, 200, range);
      assert.deepEqual(res.body, data);
    }
  });

  test('an unsatisfiable range is 416', async () => {
    const res = await req.get('/ranges/d/blob.bin').set('Range', 'bytes=200-300');
    assert.equal(res.status, 416);
    assert.deepEqual(res.body, { error: 'requested_range_not_satisfiable', reason: 'Requested range not satisfiable' });
  });

  test('several ranges are 206 multipart/byteranges', async () => {
    const res = await get('bytes=0-1,50-52');
    assert.equal(res.status, 206);
    const m = /^multipart\/byteranges; boundary="([^"]+)"$/.exec(res.headers['content-type'] as string);
    assert.ok(m, res.headers['content-type']);
    const b = m[1] as string;
    const expected = Buffer.concat([
      Buffer.from(`--${b}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-1/100\r\n\r\n`),
      data.subarray(0, 2),
      Buffer.from(`\r\n--${b}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 50-52/100\r\n\r\n`),
      data.subarray(50, 53),
      Buffer.from(`\r\n--${b}--`),
    ]);
    assert.deepEqual(res.body, expected);
  });
});

// ---- att_encoding_info -----------------------------------------------------------------------

describe('att_encoding_info=true', () => {
  test('is accepted and shows no encoding for attachments stored as they came', async () => {
    await createDb('encinfo');
    const rev = await put('encinfo', 'd', { _attachments: { 'a.bin': { content_type: 'application/octet-stream', data: 'AAEC' } } });
    const plain = (await req.get('/encinfo/d')).body;
    const stub = { content_type: 'application/octet-stream', revpos: 1, digest: plain._attachments['a.bin'].digest, length: 3, stub: true };
    assert.deepEqual(plain._attachments, { 'a.bin': stub });
    assert.deepEqual((await req.get('/encinfo/d').query({ att_encoding_info: 'true' })).body, plain);
    const bulk = await req.post('/encinfo/_bulk_get').query({ att_encoding_info: 'true' }).send({ docs: [{ id: 'd', rev }] });
    assert.deepEqual(bulk.body.results[0].docs[0].ok._attachments, { 'a.bin': stub });
    const changes = await req.get('/encinfo/_changes').query({ include_docs: 'true', att_encoding_info: 'true' });
    assert.deepEqual(changes.body.results[0].doc._attachments, { 'a.bin': stub });
  });
});

// ---- _db_updates -----------------------------------------------------------------------------

interface DbEvent {
  db_name: string;
  type: string;
  seq: string;
}

describe('GET /_db_updates', () => {
  const events = async (query: Record<string, string> = {}): Promise<{ results: DbEvent[]; last_seq: string }> => {
    const res = await req.get('/_db_updates').query(query);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const seqNumber = (s: string) => Number(s.split('-')[0]);

  test('normal feed: created and updated events, each pair once at its latest seq', async () => {
    await createDb('dbu-a');
    await put('dbu-a', 'x', { v: 1 });
    await sleep(EVENT_SETTLE_MS);
    await put('dbu-a', 'y', { v: 1 });
    await sleep(EVENT_SETTLE_MS);
    const { results, last_seq } = await events();
    const mine = results.filter((e) => e.db_name === 'dbu-a');
    assert.deepEqual(mine.map((e) => e.type), ['created', 'updated'], 'the second update moved the pair, it did not add one');
    for (const e of results) assert.match(e.seq, /^\d+-/);
    const seqs = results.map((e) => seqNumber(e.seq));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'ascending');
    assert.equal(last_seq, (results[results.length - 1] as DbEvent).seq);
    const rest = await events({ since: (mine[0] as DbEvent).seq });
    assert.deepEqual(rest.results.filter((e) => e.db_name === 'dbu-a').map((e) => e.type), ['updated']);
    const limited = await events({ limit: '1' });
    assert.equal(limited.results.length, 1);
  });

  test('deleting a database is a "deleted" event; its last commit is not an update', async () => {
    await createDb('dbu-b');
    await sleep(EVENT_SETTLE_MS);
    const mark = (await events({ since: 'now' })).last_seq;
    await req.delete('/dbu-b').expect(200);
    await sleep(EVENT_SETTLE_MS);
    const { results } = await events({ since: mark });
    assert.deepEqual(results.map((e) => [e.db_name, e.type]), [['dbu-b', 'deleted']]);
  });

  test('longpoll since=now waits for the next event', async () => {
    const opened = Date.now();
    const feed = inFlight(req.get('/_db_updates').query({ feed: 'longpoll', since: 'now', timeout: String(FEED_BOUND_MS) }));
    await sleep(50);
    await createDb('dbu-c');
    const res = await feed;
    assert.ok(Date.now() - opened < WAKE_BOUND_MS + 50, `answered after ${Date.now() - opened} ms`);
    assert.deepEqual(res.body.results.map((e: DbEvent) => [e.db_name, e.type]), [['dbu-c', 'created']]);
    assert.equal(res.body.last_seq, res.body.results[0].seq);
  });

  test('longpoll with nothing new times out with since as last_seq', async () => {
    await sleep(EVENT_SETTLE_MS);
    const now = (await events({ since: 'now' })).last_seq;
    const res = await req.get('/_db_updates').query({ feed: 'longpoll', since: 'now', timeout: '100' });
    assert.equal(res.text, `{"results":[\n\n],\n"last_seq":${JSON.stringify(now)}}\n`);
  });

  test('continuous: one JSON line per event, then last_seq on timeout', async () => {
    await sleep(EVENT_SETTLE_MS);
    const mark = (await events({ since: 'now' })).last_seq;
    const feed = inFlight(text(req.get('/_db_updates').query({ feed: 'continuous', since: mark, timeout: '400' })));
    await sleep(50);
    await createDb('dbu-d');
    const res = await feed;
    const lines = (res.body as string).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, string>);
    assert.deepEqual(lines.slice(0, -1).map((e) => [e.db_name, e.type]), [['dbu-d', 'created']]);
    assert.deepEqual(Object.keys(lines[lines.length - 1] as object), ['last_seq']);
    assert.equal((lines[lines.length - 1] as { last_seq: string }).last_seq, (lines[0] as { seq: string }).seq);
  });

  test('eventsource: data and id lines', async () => {
    const res = await text(req.get('/_db_updates').query({ feed: 'eventsource', limit: '1' }));
    assert.equal(res.headers['content-type'], 'text/event-stream');
    const m = /^data: (\{.*\})\nid: ("[^"]+")\n\n$/.exec(res.body as string);
    assert.ok(m, JSON.stringify(res.body));
    assert.equal(JSON.parse(m[2] as string), (JSON.parse(m[1] as string) as DbEvent).seq);
  });

  test('bad parameters and methods get CouchDB errors', async () => {
    const bad: [Record<string, string>, string][] = [
      [{ feed: 'sideways' }, 'Supported `feed` types: normal, continuous, longpoll, eventsource'],
      [{ limit: 'many' }, 'invalid_integer'],
      [{ timeout: '-1' }, 'invalid_integer'],
      [{ heartbeat: 'often' }, 'invalid_integer'],
      [{ since: 'yesterday' }, "Malformed sequence supplied in 'since' parameter."],
    ];
    for (const [query, reason] of bad) {
      const res = await req.get('/_db_updates').query(query);
      assert.deepEqual([res.status, res.body], [400, { error: 'bad_request', reason }], JSON.stringify(query));
    }
    const post = await req.post('/_db_updates');
    assert.deepEqual([post.status, post.body], [405, { error: 'method_not_allowed', reason: 'Only GET allowed' }]);
  });
});

describe('_db_updates across a restart', () => {
  test('events and their sequences survive the node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chaise-'));
    try {
      const first = await openNode({ dir });
      await supertest(first.app.callback()).put('/kept').expect(201);
      await sleep(EVENT_SETTLE_MS);
      const before = (await supertest(first.app.callback()).get('/_db_updates')).body as { results: DbEvent[] };
      await first.shutdown();
      const second = await openNode({ dir });
      try {
        const after = (await supertest(second.app.callback()).get('/_db_updates')).body as { results: DbEvent[] };
        assert.deepEqual(after.results, before.results);
        assert.ok(after.results.some((e) => e.db_name === 'kept' && e.type === 'created'));
      } finally {
        await second.shutdown();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- who may ---------------------------------------------------------------------------------

describe('access', () => {
  let t: TestNode;
  before(async () => {
    t = await inProcessNode({ admins: [{ name: 'adm', password: 'pw' }], auth: { iterations: 1000 } });
    const adm = (r: Test) => r.auth('adm', 'pw').set('content-type', 'application/json');
    await adm(t.request.put('/_users/org.couchdb.user:dba')).send({ name: 'dba', password: 'pw-dba', type: 'user', roles: [] }).expect(201);
    await adm(t.request.put('/sec')).expect(201);
    await adm(t.request.put('/sec/_security')).send({ admins: { names: ['dba'], roles: [] }, members: { names: [], roles: [] } }).expect(200);
    await adm(t.request.put('/sec/doc')).send({ v: 1 }).expect(201);
  });
  after(() => t.close());

  test('_purge, _purged_infos_limit and _db_updates are for server admins only', async () => {
    const tries: [string, (r: Req) => Test][] = [
      ['purge', (r) => r.post('/sec/_purge').set('content-type', 'application/json').send('{}')],
      ['get limit', (r) => r.get('/sec/_purged_infos_limit')],
      ['put limit', (r) => r.put('/sec/_purged_infos_limit').set('content-type', 'application/json').send('5')],
      ['db updates', (r) => r.get('/_db_updates')],
    ];
    for (const [name, make] of tries) {
      const anon = await make(t.request);
      assert.deepEqual([anon.status, anon.body], [401, { error: 'unauthorized', reason: 'You are not a server admin.' }], name);
      const dbAdmin = await make(t.request).auth('dba', 'pw-dba');
      assert.deepEqual([dbAdmin.status, dbAdmin.body], [401, { error: 'unauthorized', reason: 'You are not a server admin.' }], name);
      const admin = await make(t.request).auth('adm', 'pw');
      assert.ok(admin.status === 200 || admin.status === 201, `${name}: ${admin.status}`);
    }
  });

  test('a purged user document stops authenticating at once', async () => {
    const adm = (r: Test) => r.auth('adm', 'pw').set('content-type', 'application/json');
    const made = await adm(t.request.put('/_users/org.couchdb.user:temp')).send({ name: 'temp', password: 'pw-temp', type: 'user', roles: [] });
    assert.equal(made.status, 201);
    assert.equal((await t.request.get('/_session').auth('temp', 'pw-temp')).body.userCtx.name, 'temp');
    const res = await adm(t.request.post('/_users/_purge')).send({ 'org.couchdb.user:temp': [made.body.rev] });
    assert.deepEqual(res.body.purged, { 'org.couchdb.user:temp': [made.body.rev] });
    assert.equal((await t.request.get('/_session').auth('temp', 'pw-temp')).status, 401);
  });

  test('COPY follows the document rules: readers copy, only db admins write design docs', async () => {
    const anon = await t.request.copy('/sec/doc').set('Destination', 'copied');
    assert.equal(anon.status, 201, 'the database is public (no members), as for PUT');
    const ddoc = await t.request.copy('/sec/doc').set('Destination', '_design/x');
    assert.deepEqual([ddoc.status, ddoc.body.error], [401, 'unauthorized']);
    const byAdmin = await t.request.copy('/sec/doc').auth('dba', 'pw-dba').set('Destination', '_design/x');
    assert.equal(byAdmin.status, 201);
  });
});
