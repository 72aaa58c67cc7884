// Sequences over HTTP, beyond the recorded fixture steps: every place a node hands one out gives
// CouchDB 3's opaque string `"N-<opaque>"` (typed clients break on a JSON number), each is a valid
// `since`, `seq_interval` nulls the rows between, a sequence of another database (or of a deleted
// and re-created one) starts the feed over, and what CouchDB 3 refuses is refused.
// Sources: chttpd_db.erl (parse_changes_query, changes_callback), fabric_view_changes.erl
// (handle_message's `Limit rem Interval`, get_start_seq), fabric_rpc.erl (changes: pending).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeForFile, type TestNode } from './helpers/in-process-node.js';
import { steps, text } from './helpers/http-steps.js';

const SEQ = /^(\d+)-[A-Za-z0-9_-]+$/;
const MALFORMED = { error: 'bad_request', reason: "Malformed sequence supplied in 'since' parameter." };
/** Documents in the feed database. */
const DOCS = 5;

let req: TestNode['request'];
nodeForFile((t) => {
  req = t.request;
});
const { createDb, put } = steps(() => req);

function seqN(seq: unknown): number {
  assert.equal(typeof seq, 'string', `a sequence string, got ${JSON.stringify(seq)}`);
  const m = SEQ.exec(seq as string);
  assert.ok(m, `shaped N-<opaque>: ${String(seq)}`);
  return Number(m[1]);
}

const lines = (body: string) => body.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('sequences are strings wherever a node hands one out', () => {
  test('db info, _dbs_info, _all_docs and views, and every _changes feed', async () => {
    await createDb('seqs');
    for (let i = 0; i < DOCS; i++) await put('seqs', `d${i}`, { i });
    await put('seqs', '_design/v', { views: { all: { map: 'function (doc) { emit(doc._id, 1); }' } } });
    const info = (await req.get('/seqs')).body;
    assert.equal(seqN(info.update_seq), DOCS + 1);
    assert.equal(seqN(info.purge_seq), 0);
    const [dbsInfo] = (await req.post('/_dbs_info').send({ keys: ['seqs'] })).body;
    assert.equal(dbsInfo.info.update_seq, info.update_seq);
    assert.equal((await req.get('/seqs/_all_docs?update_seq=true&limit=0')).body.update_seq, info.update_seq);
    assert.equal((await req.get('/seqs/_design/v/_view/all?update_seq=true&limit=0')).body.update_seq, info.update_seq);

    const normal = (await req.get('/seqs/_changes')).body;
    assert.deepEqual(normal.results.map((r: { seq: string }) => seqN(r.seq)), [1, 2, 3, 4, 5, 6]);
    assert.equal(normal.last_seq, info.update_seq);
    const longpoll = (await req.get('/seqs/_changes?feed=longpoll&since=now&timeout=50')).body;
    assert.equal(longpoll.last_seq, info.update_seq);
    const continuous = lines((await text(req.get('/seqs/_changes?feed=continuous&timeout=50'))).body as string);
    assert.deepEqual(continuous.map((r) => seqN(r.seq ?? r.last_seq)), [1, 2, 3, 4, 5, 6, 6]);
    const es = (await text(req.get('/seqs/_changes?feed=eventsource&timeout=50&limit=2'))).body as string;
    const ids = [...es.matchAll(/^id: (.*)$/gm)].map((m) => JSON.parse(m[1] as string) as unknown);
    assert.deepEqual(ids, normal.results.slice(0, 2).map((r: { seq: string }) => r.seq), 'id: is the row seq, JSON-encoded');

    // Every one of them is a valid since.
    for (const r of normal.results as { seq: string }[]) {
      const after = await req.get('/seqs/_changes').query({ since: r.seq });
      assert.equal(after.status, 200);
      assert.equal(after.body.results.length, DOCS + 1 - seqN(r.seq));
    }
    const fromLastEvent = (await text(req.get('/seqs/_changes?feed=eventsource&timeout=50').set('Last-Event-ID', JSON.stringify(normal.results[3].seq)))).body as string;
    assert.deepEqual([...fromLastEvent.matchAll(/"id":"([^"]+)"/g)].map((m) => m[1]), ['d4', '_design/v']);
  });

  test('seq_interval: only rows where the limit left is a multiple of it carry their seq', async () => {
    const all = (await req.get('/seqs/_changes?seq_interval=2')).body;
    assert.deepEqual(all.results.map((r: { seq: unknown }) => r.seq !== null), [true, false, true, false, true, false]);
    assert.equal(seqN(all.last_seq), DOCS + 1, 'last_seq is always there');
    const limited = (await req.get('/seqs/_changes?seq_interval=2&limit=3')).body;
    assert.deepEqual(limited.results.map((r: { seq: unknown }) => r.seq !== null), [false, true, false], 'limit 3: 3 and 1 left are odd');
    assert.equal(seqN(limited.last_seq), 3);
    const continuous = lines((await text(req.get('/seqs/_changes?feed=continuous&seq_interval=3&timeout=50'))).body as string);
    assert.deepEqual(continuous.slice(0, -1).map((r) => r.seq !== null), [false, true, false, false, true, false], '10^15 − n ≡ 0 (mod 3) at n = 1, 4');
    for (const bad of ['0', '-1', 'x', '1.5']) {
      const res = await req.get('/seqs/_changes').query({ seq_interval: bad });
      assert.deepEqual([res.status, res.body], [400, { error: 'bad_request', reason: 'invalid_seq_interval' }], bad);
    }
  });

  test('descending starts at the end whatever since says; pending is what is left below', async () => {
    const since = (await req.get('/seqs/_changes?limit=4')).body.last_seq;
    const desc = (await req.get('/seqs/_changes').query({ descending: 'true', limit: '2', since })).body;
    assert.deepEqual(desc.results.map((r: { seq: string }) => seqN(r.seq)), [6, 5]);
    assert.equal(seqN(desc.last_seq), 5);
    assert.equal(desc.pending, DOCS + 1 - 2);
  });
});

describe('since', () => {
  test('refuses what CouchDB 3 refuses, bare integers included', async () => {
    for (const bad of ['1', '3', 'garbage', '1-g1AAAABPeJzLYWBgYMxgTmEQTM4vTc5ISXIwNDLXMwBCwxygFFMiQx4Lw38gyMpgTmTMBQqxm5okpqZZGmPTkgUAG1AUsA', '1-', '-1']) {
      for (const feed of ['normal', 'longpoll', 'continuous', 'eventsource']) {
        const res = await req.get('/seqs/_changes').query({ since: bad, feed, timeout: '10' });
        assert.deepEqual([res.status, res.body], [400, MALFORMED], `${feed} since=${bad}`);
      }
    }
    assert.equal((await req.get('/seqs/_changes?since=0')).body.results.length, DOCS + 1);
    assert.equal((await req.get('/seqs/_changes').query({ since: '"0"' })).body.results.length, DOCS + 1);
  });

  test("another database's sequence, or one of a deleted and re-created database, starts over", async () => {
    await createDb('other');
    await put('other', 'x', {});
    await put('other', 'y', {});
    const otherSeq = (await req.get('/other')).body.update_seq;
    assert.equal(seqN(otherSeq), 2);
    const seqsSeq = (await req.get('/seqs')).body.update_seq;
    assert.notEqual(seqsSeq.slice(seqsSeq.indexOf('-')), otherSeq.slice(otherSeq.indexOf('-')), 'the suffix names the database');
    assert.deepEqual((await req.get('/other/_changes').query({ since: seqsSeq })).body.results.map((r: { id: string }) => r.id), ['x', 'y']);

    assert.equal((await req.delete('/other')).status, 200);
    await createDb('other');
    await put('other', 'z', {});
    const res = await req.get('/other/_changes').query({ since: otherSeq });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.results.map((r: { id: string }) => r.id), ['z'], 'the old incarnation’s seq 2 would have skipped z');
  });
});
