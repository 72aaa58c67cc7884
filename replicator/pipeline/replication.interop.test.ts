// Replication against real third-party peers: a pouchdb-server process (over
// HTTP) and PouchDB in-process. Expected numbers come from CouchDB's own
// replication suite (test/elixir/test/replication_test.exs) where it has them.
// One server serves the whole file; every test uses its own databases.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { replicate } from '../index.js';
import { Replication } from './replication.js';
import { HttpEndpoint } from '../endpoint/http-endpoint.js';
import { parseReplicationRequest } from '../protocol/replication-options.js';
import { ReplicationError } from '../errors.js';
import type { BulkGetItem, BulkGetResult, RevsDiffResponse } from '../endpoint/endpoint.js';
import { http, startPouchDbServer, type PouchDbServer } from '../test-support/pouchdb-server.js';
import { memoryPouch, PouchEndpoint } from '../test-support/pouch-endpoint.js';

let srv: PouchDbServer;
let dbCounter = 0;
const SERVER_UUID = 'chaise-test-node';

function names(): { src: string; tgt: string } {
  dbCounter++;
  return { src: `src${dbCounter}`, tgt: `tgt${dbCounter}` };
}

/** CouchDB's make_docs: `{_id: "i", integer: i, string: "i"}`. */
function makeDocs(from: number, to: number): Record<string, unknown>[] {
  const docs = [];
  for (let i = from; i <= to; i++) docs.push({ _id: String(i), integer: i, string: String(i) });
  return docs;
}

async function createDb(name: string): Promise<void> {
  assert.equal((await http('PUT', srv.url + name)).status, 201);
}

async function saveDocs(db: string, docs: Record<string, unknown>[]): Promise<{ id: string; rev: string }[]> {
  const res = await http<{ id: string; rev: string }[]>('POST', `${srv.url}${db}/_bulk_docs`, { docs });
  assert.equal(res.status, 201);
  return res.body;
}

async function run(body: Record<string, unknown>): Promise<Record<string, any>> {
  return replicate(body, { serverUuid: SERVER_UUID }).result as Promise<Record<string, any>>;
}

async function get(path: string): Promise<{ status: number; body: any }> {
  return http('GET', srv.url + path);
}

function firstHistory(result: Record<string, any>): Record<string, any> {
  assert.ok(Array.isArray(result['history']), JSON.stringify(result));
  return result['history'][0];
}

before(async () => {
  srv = await startPouchDbServer();
});

after(async () => {
  await srv?.stop();
});

describe('one-shot replication over HTTP (pouchdb-server → pouchdb-server)', () => {
  test('copies every doc, counts like CouchDB, resumes from the checkpoint, and says no_changes when done', async () => {
    const { src, tgt } = names();
    await createDb(src);
    await createDb(tgt);
    await saveDocs(src, [...makeDocs(1, 20), { _id: '_design/foo', language: 'javascript', value: 'ddoc' }]);

    const first = await run({ source: srv.url + src, target: srv.url + tgt });
    assert.equal(first['ok'], true);
    assert.match(first['session_id'], /^[0-9a-f]{32}$/);
    assert.equal(first['replication_id_version'], 4);
    assert.equal(first['history'].length, 1);
    const h1 = firstHistory(first);
    assert.equal(h1['session_id'], first['session_id']);
    assert.equal(h1['start_last_seq'], 0);
    for (const key of ['missing_checked', 'missing_found', 'docs_read', 'docs_written']) assert.equal(h1[key], 21, key);
    assert.equal(h1['doc_write_failures'], 0);
    assert.match(h1['start_time'], /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    assert.equal((await get(tgt)).body.doc_count, 21);
    for (const id of ['1', '13', '_design/foo']) {
      const [a, b] = await Promise.all([get(`${src}/${encodeURIComponent(id)}?revs=true`), get(`${tgt}/${encodeURIComponent(id)}?revs=true`)]);
      assert.deepEqual(b.body, a.body, id);
    }

    // Checkpoints on both sides, same session.
    const srcLog = (await get(`${src}/_local/${await checkpointId(src, tgt)}`)).body;
    const tgtLog = (await get(`${tgt}/_local/${await checkpointId(src, tgt)}`)).body;
    assert.equal(srcLog.session_id, first['session_id']);
    assert.equal(tgtLog.session_id, first['session_id']);
    assert.equal(tgtLog.source_last_seq, first['source_last_seq']);

    // Nothing new: CouchDB answers no_changes and reads nothing.
    const again = await run({ source: srv.url + src, target: srv.url + tgt });
    assert.equal(again['ok'], true);
    assert.equal(again['no_changes'], true);
    assert.equal(again['session_id'], first['session_id'], 'the no_changes answer repeats the last log');

    // Three new docs and one update: only those cross.
    const [one] = await saveDocs(src, [{ _id: 'foo1', value: 1 }, { _id: 'foo2', value: 2 }, { _id: 'foo3', value: 3 }]);
    assert.ok(one);
    const doc5 = (await get(`${src}/5`)).body;
    await saveDocs(src, [{ ...doc5, updated: true }]);
    const third = await run({ source: srv.url + src, target: srv.url + tgt });
    assert.equal(third['history'].length, 2);
    const h3 = firstHistory(third);
    assert.equal(h3['start_last_seq'], first['source_last_seq']);
    for (const key of ['missing_checked', 'missing_found', 'docs_read', 'docs_written']) assert.equal(h3[key], 4, key);
    assert.equal((await get(`${tgt}/5`)).body.updated, true);
  });

  test('existing revisions are checked but not copied (CouchDB: missing_checked 3, missing_found 1)', async () => {
    const { src, tgt } = names();
    await createDb(src);
    await createDb(tgt);
    const docs = [{ _id: 'foo1', value: 111 }, { _id: 'foo2', value: 222 }, { _id: 'foo3', value: 333 }];
    await saveDocs(src, docs);
    await saveDocs(tgt, docs.filter((d) => d._id !== 'foo2'));
    const h = firstHistory(await run({ source: srv.url + src, target: srv.url + tgt }));
    assert.deepEqual([h['missing_checked'], h['missing_found'], h['docs_read'], h['docs_written']], [3, 1, 1, 1]);
  });

  test('deletions propagate', async () => {
    const { src, tgt } = names();
    await createDb(src);
    await createDb(tgt);
    const [saved] = await saveDocs(src, makeDocs(1, 3));
    await run({ source: srv.url + src, target: srv.url + tgt });
    assert.ok(saved);
    await saveDocs(src, [{ _id: saved.id, _rev: saved.rev, _deleted: true }]);
    const h = firstHistory(await run({ source: srv.url + src, target: srv.url + tgt }));
    assert.deepEqual([h['missing_checked'], h['missing_found'], h['docs_read'], h['docs_written']], [1, 1, 1, 1]);
    assert.equal((await get(`${tgt}/${saved.id}`)).status, 404);
    const info = (await get(tgt)).body;
    assert.equal(info.doc_count, 2);
    const changes = (await get(`${tgt}/_changes`)).body.results as { id: string; deleted?: boolean }[];
    assert.equal(changes.find((c) => c.id === saved.id)?.deleted, true);
  });

  test('conflicts converge: both sides end with the same winner and the same _conflicts', async () => {
    const { src: a, tgt: b } = names();
    await createDb(a);
    await createDb(b);
    const [saved] = await saveDocs(a, [{ _id: 'c', value: 'base' }]);
    assert.ok(saved);
    await run({ source: srv.url + a, target: srv.url + b });
    await saveDocs(a, [{ _id: 'c', _rev: saved.rev, value: 'white' }]);
    await saveDocs(b, [{ _id: 'c', _rev: saved.rev, value: 'black' }]);
    // Bidirectional sync is two replications.
    await run({ source: srv.url + a, target: srv.url + b });
    await run({ source: srv.url + b, target: srv.url + a });
    const [docA, docB] = await Promise.all([get(`${a}/c?conflicts=true`), get(`${b}/c?conflicts=true`)]);
    assert.deepEqual(docA.body, docB.body);
    assert.match(docA.body._rev, /^2-/);
    assert.equal(docA.body._conflicts.length, 1);
    assert.match(docA.body._conflicts[0], /^2-/);
    // The winner is the higher rev hash (same generation, neither deleted).
    const revs = [docA.body._rev, docA.body._conflicts[0]].sort();
    assert.equal(docA.body._rev, revs[1]);

    // Resolve on one side by deleting the loser; the resolution replicates.
    await saveDocs(b, [{ _id: 'c', _rev: docB.body._conflicts[0], _deleted: true }]);
    await run({ source: srv.url + b, target: srv.url + a });
    const [resolvedA, resolvedB] = await Promise.all([get(`${a}/c?conflicts=true`), get(`${b}/c?conflicts=true`)]);
    assert.deepEqual(resolvedA.body, resolvedB.body);
    assert.equal(resolvedA.body._conflicts, undefined);
    const leaves = ((await get(`${a}/c?open_revs=all`)).body as { ok: { _rev: string; _deleted?: boolean } }[]).map((r) => r.ok);
    assert.equal(leaves.length, 2);
    assert.equal(leaves.filter((leaf) => leaf._deleted === true && leaf._rev.startsWith('3-')).length, 1);
  });

  test('attachments arrive byte for byte, and unchanged ones are not needed again', async () => {
    const { src, tgt } = names();
    await createDb(src);
    await createDb(tgt);
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const text = Buffer.from('hello wörld\n', 'utf8');
    const [saved] = await saveDocs(src, [{ _id: 'a', _attachments: { 'bytes.bin': { content_type: 'application/octet-stream', data: binary.toString('base64') } } }]);
    assert.ok(saved);
    await run({ source: srv.url + src, target: srv.url + tgt });
    // A second attachment in a second revision.
    const put = await fetch(`${srv.url}${src}/a/readme.txt?rev=${saved.rev}`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: text });
    assert.equal(put.status, 201);
    const h = firstHistory(await run({ source: srv.url + src, target: srv.url + tgt }));
    assert.equal(h['docs_written'], 1);
    for (const [name, bytes] of [['bytes.bin', binary], ['readme.txt', text]] as const) {
      const res = await fetch(`${srv.url}${tgt}/a/${name}`);
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes, name);
    }
    // Same content types, lengths and digests on both sides. (revpos is the
    // target's business: PouchDB resets it for attachments sent inline.)
    const strip = (atts: Record<string, Record<string, unknown>>) =>
      Object.fromEntries(Object.entries(atts).map(([name, att]) => [name, { content_type: att['content_type'], digest: att['digest'], length: att['length'] }]));
    const [srcAtts, tgtAtts] = await Promise.all([get(`${src}/a`), get(`${tgt}/a`)]);
    assert.deepEqual(strip(tgtAtts.body._attachments), strip(srcAtts.body._attachments));
    assert.equal(tgtAtts.body._attachments['readme.txt'].content_type, 'text/plain');
  });

  test('doc_ids: only the listed docs, with CouchDB 1.0-style top-level stats', async () => {
    const { src, tgt } = names();
    await createDb(src);
    await createDb(tgt);
    await saveDocs(src, [{ _id: '_design/foo', language: 'javascript', integer: 1 }, ...makeDocs(1, 10)]);
    const result = await run({ source: srv.url + src, target: srv.url + tgt, doc_ids: ['1', 'foo_666', '10', '_design/foo'] });
    assert.equal(result['ok'], true);
    assert.equal(result['docs_read'], 3);
    assert.equal(result['docs_written'], 3);
    assert.equal(result['doc_write_failures'], 0);
    assert.equal(typeof result['start_time'], 'string');
    const ids = ((await get(`${tgt}/_all_docs`)).body.rows as { id: string }[]).map((r) => r.id).sort();
    assert.deepEqual(ids, ['1', '10', '_design/foo']);
    const none = await run({ source: srv.url + src, target: srv.url + tgt, doc_ids: ['foo_1000'] });
    assert.equal(none['no_changes'], true);
  });

  test('a design-doc filter with query_params (CouchDB: 16 of 30, then 3 of 6)', async () => {
    const { src, tgt } = names();
    await createDb(src);
    await createDb(tgt);
    const filter = 'function(doc, req) { var modulus = Number(req.query.modulus); var special = req.query.special; return (doc.integer % modulus === 0) || (doc.string === special); }';
    // CouchDB's test matches `string === "7"`; pouchdb-server JSON-parses query
    // values (so "7" arrives as the number 7), hence a non-numeric marker here.
    const docs = makeDocs(1, 30).map((d) => ({ ...d, string: `s${String(d['integer'])}` }));
    await saveDocs(src, [{ _id: '_design/mydesign', language: 'javascript', filters: { myfilter: filter } }, ...docs]);
    const body = { source: srv.url + src, target: srv.url + tgt, filter: 'mydesign/myfilter', query_params: { modulus: '2', special: 's7' } };
    const first = await run(body);
    const h1 = firstHistory(first);
    assert.equal(first['history'].length, 1);
    assert.deepEqual([h1['missing_checked'], h1['missing_found'], h1['docs_read'], h1['docs_written'], h1['doc_write_failures']], [16, 16, 16, 16, 0]);
    for (const i of [2, 7, 30]) assert.equal((await get(`${tgt}/${i}`)).status, 200, String(i));
    for (const i of [1, 9, 29]) assert.equal((await get(`${tgt}/${i}`)).status, 404, String(i));
    await saveDocs(src, makeDocs(50, 55));
    const second = await run(body);
    assert.equal(second['history'].length, 2);
    assert.deepEqual([firstHistory(second)['docs_read'], firstHistory(second)['docs_written']], [3, 3]);
  });

  test('changing the filter code starts a new replication from scratch (COUCHDB-892)', async () => {
    const { src, tgt } = names();
    await createDb(src);
    await createDb(tgt);
    const f1 = 'function(doc, req) { return doc.value < Number(req.query.maxvalue); }';
    const [ddoc] = await saveDocs(src, [{ _id: '_design/mydesign', filters: { myfilter: f1 } }, { _id: 'foo1', value: 1 }, { _id: 'foo2', value: 2 }, { _id: 'foo3', value: 3 }, { _id: 'foo4', value: 4 }]);
    assert.ok(ddoc);
    const body = { source: srv.url + src, target: srv.url + tgt, filter: 'mydesign/myfilter', query_params: { maxvalue: '3' } };
    assert.equal(firstHistory(await run(body))['docs_read'], 2);
    await saveDocs(src, [{ _id: '_design/mydesign', _rev: ddoc.rev, filters: { myfilter: 'function(doc, req) { return true; }' } }]);
    const second = await run(body);
    assert.equal(second['history'].length, 1, 'a new id, so a fresh history');
    assert.equal(firstHistory(second)['docs_read'], 3, 'foo3, foo4 and the design doc');
  });

  test('since_seq starts after the given sequence (CouchDB: 2 of 5)', async () => {
    const { src, tgt } = names();
    await createDb(src);
    await createDb(tgt);
    await saveDocs(src, makeDocs(1, 5));
    const changes = (await get(`${src}/_changes`)).body.results as { seq: unknown; id: string }[];
    const h = firstHistory(await run({ source: srv.url + src, target: srv.url + tgt, since_seq: changes[2]?.seq }));
    assert.deepEqual([h['missing_checked'], h['missing_found'], h['docs_read'], h['docs_written']], [2, 2, 2, 2]);
    const copied = ((await get(`${tgt}/_all_docs`)).body.rows as { id: string }[]).map((r) => r.id).sort();
    assert.deepEqual(copied, changes.slice(3).map((c) => c.id).sort());
  });

  test('validate_doc_update rejections count as doc_write_failures and are not fatal (CouchDB: 3 written, 4 failed)', async () => {
    const { src, tgt } = names();
    await createDb(src);
    await createDb(tgt);
    const docs = makeDocs(1, 7).map((d) => (d['integer'] === 2 ? { ...d, _attachments: { 'hello.txt': { content_type: 'text/plain', data: 'aGVsbG8gd29ybGQ=' } } } : d));
    await saveDocs(src, docs);
    await saveDocs(tgt, [{ _id: '_design/test', language: 'javascript', validate_doc_update: 'function(newDoc, oldDoc, userCtx, secObj) { if ((newDoc.integer % 2) !== 0) { throw {forbidden: "I only like multiples of 2."}; } }' }]);
    const h = firstHistory(await run({ source: srv.url + src, target: srv.url + tgt }));
    assert.deepEqual([h['missing_checked'], h['missing_found'], h['docs_read'], h['docs_written'], h['doc_write_failures']], [7, 7, 7, 3, 4]);
    assert.equal((await get(`${tgt}/2`)).status, 200);
    assert.equal((await get(`${tgt}/3`)).status, 404);
  });

  test('create_target creates the target; a missing source or target is db_not_found', async () => {
    const { src, tgt } = names();
    await createDb(src);
    await saveDocs(src, makeDocs(1, 2));
    await run({ source: srv.url + src, target: srv.url + tgt, create_target: true });
    assert.equal((await get(tgt)).body.doc_count, 2);

    const missing = `${srv.url}nope${dbCounter}`;
    await assert.rejects(run({ source: missing, target: srv.url + tgt }), (err: unknown) => {
      assert.ok(err instanceof ReplicationError);
      assert.equal(err.status, 404);
      assert.equal(err.error, 'db_not_found');
      assert.equal(err.reason, `could not open ${missing}/`);
      return true;
    });
    await assert.rejects(run({ source: srv.url + src, target: missing }), (err: unknown) => err instanceof ReplicationError && err.error === 'db_not_found');
  });

  test('peers without _bulk_get are read with open_revs (use_bulk_get: false), with the same outcome', async () => {
    const { src, tgt } = names();
    await createDb(src);
    await createDb(tgt);
    const [saved] = await saveDocs(src, [...makeDocs(1, 8), { _id: 'att', _attachments: { 'a.txt': { content_type: 'text/plain', data: 'aGk=' } } }]);
    assert.ok(saved);
    const h = firstHistory(await run({ source: srv.url + src, target: srv.url + tgt, use_bulk_get: false }));
    assert.equal(h['docs_written'], 9);
    assert.equal(await (await fetch(`${srv.url}${tgt}/att/a.txt`)).text(), 'hi');
  });
});

describe('continuous replication', () => {
  for (const feed of ['continuous', 'longpoll'] as const) {
    test(`follows the source live (feed=${feed}) and checkpoints on stop`, async () => {
      const { src, tgt } = names();
      await createDb(src);
      await createDb(tgt);
      await saveDocs(src, makeDocs(1, 3));
      const request = parseReplicationRequest({ source: srv.url + src, target: srv.url + tgt, continuous: true });
      const source = new HttpEndpoint(request.source);
      const target = new HttpEndpoint(request.target);
      const replication = new Replication({ source, target, serverUuid: SERVER_UUID, options: request, feed, heartbeatMs: 1000 });
      const done = replication.run();
      try {
        await waitFor(async () => (await get(tgt)).body.doc_count === 3);
        assert.equal(replication.status().phase, 'running');
        assert.equal(replication.status().replicationId?.extension, '+continuous');
        await saveDocs(src, makeDocs(4, 6));
        await waitFor(async () => (await get(tgt)).body.doc_count === 6);
      } finally {
        replication.stop();
      }
      const result = await done;
      assert.equal(result['ok'], true);
      assert.equal(replication.status().phase, 'stopped');
      assert.equal(firstHistory(result)['docs_written'], 6);
      const log = (await get(`${tgt}/_local/${replication.status().replicationId?.baseId}`)).body;
      assert.equal(log.session_id, result['session_id']);
      await Promise.all([source.close(), target.close()]);
    });
  }
});

describe('in-process peers (PouchDB, no sockets)', () => {
  test('selector replication from an in-process PouchDB to pouchdb-server', async () => {
    const { tgt } = names();
    await createDb(tgt);
    const pouch = memoryPouch(`sel${dbCounter}`);
    await pouch.bulkDocs([{ _id: 'a', type: 'fruit', n: 1 }, { _id: 'b', type: 'veg', n: 2 }, { _id: 'c', type: 'fruit', n: 3 }]);
    const request = parseReplicationRequest({ source: 'http://unused/', target: srv.url + tgt, selector: { type: 'fruit' } });
    const target = new HttpEndpoint(request.target);
    const result = await new Replication({ source: new PouchEndpoint(pouch, `sel${dbCounter}`), target, serverUuid: SERVER_UUID, options: request }).run();
    await target.close();
    assert.equal(firstHistory(result)['docs_written'], 2);
    const ids = ((await get(`${tgt}/_all_docs`)).body.rows as { id: string }[]).map((r) => r.id);
    assert.deepEqual(ids, ['a', 'c']);
    await pouch.destroy();
  });

  test('winning_revs_only copies winners without their conflicts', async () => {
    const srcDb = memoryPouch(`win-src${dbCounter}`);
    const tgtDb = memoryPouch(`win-tgt${dbCounter}`);
    await srcDb.bulkDocs(
      [
        { _id: 'x', v: 'a', _rev: '2-aaaa', _revisions: { start: 2, ids: ['aaaa', 'root'] } },
        { _id: 'x', v: 'b', _rev: '2-bbbb', _revisions: { start: 2, ids: ['bbbb', 'root'] } },
      ],
      { new_edits: false },
    );
    const options = parseReplicationRequest({ source: 'http://unused/a', target: 'http://unused/b', winning_revs_only: true });
    const result = await new Replication({ source: new PouchEndpoint(srcDb, 'win-src'), target: new PouchEndpoint(tgtDb, 'win-tgt'), serverUuid: SERVER_UUID, options }).run();
    assert.equal(firstHistory(result)['docs_written'], 1);
    const copy = await tgtDb.get('x', { conflicts: true });
    assert.equal(copy._rev, '2-bbbb', 'the higher rev hash wins');
    assert.equal(copy._conflicts, undefined);
    await Promise.all([srcDb.destroy(), tgtDb.destroy()]);
  });

  test('a filter that passes nothing still moves the checkpoint, and says no_changes', async () => {
    const srcDb = memoryPouch(`flt-src${dbCounter}`);
    const tgtDb = memoryPouch(`flt-tgt${dbCounter}`);
    await srcDb.bulkDocs([{ _id: 'a' }, { _id: 'b' }]);
    const options = parseReplicationRequest({ source: 'http://unused/a', target: 'http://unused/b', doc_ids: ['zzz'] });
    const make = () => new Replication({ source: new PouchEndpoint(srcDb, 'flt-src'), target: new PouchEndpoint(tgtDb, 'flt-tgt'), serverUuid: SERVER_UUID, options });
    const first = await make().run();
    assert.equal(first['no_changes'], true);
    await srcDb.put({ _id: 'zzz' });
    const second = await make().run();
    assert.equal(second['docs_read'], 1);
    assert.deepEqual((await tgtDb.allDocs()).rows.map((r: { id: string }) => r.id), ['zzz']);
    await Promise.all([srcDb.destroy(), tgtDb.destroy()]);
  });

  test('attachments are fetched only when newer than what the target has (atts_since semantics)', async () => {
    // A source that always answers stubs, and a target that reports possible ancestors, as CouchDB does.
    class StubSource extends PouchEndpoint {
      fetched: string[] = [];
      override async bulkGet(items: BulkGetItem[]): Promise<BulkGetResult[]> {
        return super.bulkGet(items, { attachments: false });
      }
      override async getAttachment(docId: string, name: string, rev: string): Promise<Buffer> {
        this.fetched.push(`${docId}/${name}@${rev.split('-')[0]}`);
        return super.getAttachment(docId, name, rev);
      }
    }
    class AncestorTarget extends PouchEndpoint {
      override async revsDiff(revs: { [id: string]: string[] }): Promise<RevsDiffResponse> {
        const diff = await super.revsDiff(revs);
        for (const [id, entry] of Object.entries(diff)) {
          const leaves: string[] = await this.db.get(id, { open_revs: 'all' }).then((r: { ok?: { _rev: string } }[]) => r.flatMap((x) => (x.ok ? [x.ok._rev] : [])), () => []);
          const lowest = Math.min(...entry.missing.map((rev) => parseInt(rev, 10)));
          const possible = leaves.filter((rev) => parseInt(rev, 10) < lowest);
          if (possible.length > 0) entry.possible_ancestors = possible;
        }
        return diff;
      }
    }
    const srcDb = memoryPouch(`atts-src${dbCounter}`);
    const tgtDb = memoryPouch(`atts-tgt${dbCounter}`);
    const one = Buffer.from('first attachment');
    const two = Buffer.from([0, 255, 1, 254]);
    const r1 = await srcDb.put({ _id: 'a', _attachments: { 'one.txt': { content_type: 'text/plain', data: one.toString('base64') } } });
    const source = new StubSource(srcDb, 'atts-src');
    const target = new AncestorTarget(tgtDb, 'atts-tgt');
    const options = parseReplicationRequest({ source: 'http://unused/a', target: 'http://unused/b' });
    await new Replication({ source, target, serverUuid: SERVER_UUID, options }).run();
    assert.deepEqual(source.fetched, ['a/one.txt@1']);
    await srcDb.putAttachment('a', 'two.bin', r1.rev, two.toString('base64'), 'application/octet-stream');
    await new Replication({ source, target, serverUuid: SERVER_UUID, options }).run();
    assert.deepEqual(source.fetched, ['a/one.txt@1', 'a/two.bin@2'], 'one.txt was already on the target');
    assert.deepEqual(Buffer.from(await tgtDb.getAttachment('a', 'one.txt')), one);
    assert.deepEqual(Buffer.from(await tgtDb.getAttachment('a', 'two.bin')), two);
    await Promise.all([srcDb.destroy(), tgtDb.destroy()]);
  });

  test('our copy and PouchDB\'s own replicator agree on revisions, winners and conflicts', async () => {
    const { src, tgt } = names();
    await createDb(src);
    await createDb(tgt);
    // A conflicted doc written with new_edits=false, and a deleted one.
    await http('POST', `${srv.url}${src}/_bulk_docs`, {
      new_edits: false,
      docs: [
        { _id: 'x', v: 1, _rev: '2-aaaa', _revisions: { start: 2, ids: ['aaaa', 'root'] } },
        { _id: 'x', v: 2, _rev: '2-bbbb', _revisions: { start: 2, ids: ['bbbb', 'root'] } },
        { _id: 'x', v: 3, _rev: '3-cccc', _deleted: true, _revisions: { start: 3, ids: ['cccc', 'bbbb', 'root'] } },
        { _id: 'y', v: 4, _rev: '1-dddd', _revisions: { start: 1, ids: ['dddd'] } },
      ],
    });
    await run({ source: srv.url + src, target: srv.url + tgt });
    const pouch = memoryPouch(`cmp${dbCounter}`);
    const info = await pouch.replicate.from(srv.url + src);
    assert.equal(info.ok, true);
    for (const id of ['x', 'y']) {
      // (Not `deleted_conflicts`: PouchDB's get ignores it, while CouchDB answers it.)
      const ours = (await get(`${tgt}/${id}?conflicts=true&revs=true`)).body;
      const theirs = await pouch.get(id, { conflicts: true, revs: true });
      assert.deepEqual(ours, theirs, id);
    }
    const oursAll = (await get(`${tgt}/x?open_revs=all`)).body as { ok: { _rev: string } }[];
    assert.deepEqual(oursAll.map((r) => r.ok._rev).sort(), ['2-aaaa', '3-cccc']);
    await pouch.destroy();
  });
});

async function checkpointId(src: string, tgt: string): Promise<string> {
  const request = parseReplicationRequest({ source: srv.url + src, target: srv.url + tgt });
  const { replicationId } = await import('../protocol/replication-id.js');
  const { peerIdentity } = await import('../endpoint/peer.js');
  return replicationId({ serverUuid: SERVER_UUID, source: peerIdentity(request.source), target: peerIdentity(request.target), continuous: false, createTarget: false }).baseId;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}
