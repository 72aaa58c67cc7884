// PouchDB, the client offline-first apps sync with, against a real Chaise node over HTTP. PouchDB
// drives the replication protocol itself (checkpoints in `_local`, `_changes` with longpoll for live
// sync, `_revs_diff`, `_bulk_get`, `_bulk_docs` with new_edits=false, one GET per attachment), so
// these tests pass only if the node speaks that protocol the way CouchDB does. Each test uses its
// own database; the expected results are CouchDB's: after a sync both sides hold the same docs,
// revs, winners and conflicts.
//
// Random attachment bytes come from a seeded generator; set CHAISE_SEED to replay a failure.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startNode, type RunningNode } from '../server/node.js';
import { memoryPouch, remotePouch, type PouchDatabase, type PouchDoc, type Replication } from './helpers/pouchdb.js';
import { seeded } from './helpers/replication.js';

/** How long a live sync may take to carry one write across (CouchDB does it in well under 1 s). */
const LIVE_DEADLINE_MS = 5_000;
/** How long a cancelled sync is watched to make sure it no longer carries writes. */
const AFTER_CANCEL_WAIT_MS = 300;
/** Poll interval while waiting for a live write to arrive. */
const POLL_MS = 25;
/** The bulk attachment round trip. */
const ATT_DOCS = 1_000;
/** Concurrent raw HTTP reads when fetching every attachment directly. */
const HTTP_READS_PARALLEL = 16;

let node: RunningNode;
const opened: PouchDatabase[] = [];

before(async () => {
  node = await startNode({ port: 0, inMemory: true });
});

after(async () => {
  for (const db of opened) await db.close().catch(() => undefined);
  await node.close();
});

function local(): PouchDatabase {
  const db = memoryPouch();
  opened.push(db);
  return db;
}

function remote(dbName: string): PouchDatabase {
  const db = remotePouch(`${node.url}/${dbName}`);
  opened.push(db);
  return db;
}

async function http(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(node.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Polls `check` until it returns true or the deadline passes. */
async function waitFor(what: string, check: () => Promise<boolean>, deadlineMs = LIVE_DEADLINE_MS): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > deadlineMs) assert.fail(`${what}: not seen within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Both sides' `allDocs({include_docs:true})`, which must be identical after a replication. */
async function assertSameDocs(a: PouchDatabase, b: PouchDatabase): Promise<number> {
  const [x, y] = await Promise.all([a.allDocs({ include_docs: true }), b.allDocs({ include_docs: true })]);
  assert.equal(x.total_rows, y.total_rows, 'total_rows');
  assert.deepEqual(x.rows, y.rows);
  return x.rows.length;
}

function sample(i: number): PouchDoc {
  return {
    _id: `doc-${String(i).padStart(3, '0')}`,
    n: i,
    title: `Title ${i} — ünïcødé ✓`,
    nested: { list: [i, i * 2, { deep: i % 2 === 0 }], empty: {}, nothing: null },
    float: i / 7,
  };
}

describe('one-shot replication and sync', () => {
  test('PouchDB → node, node → PouchDB and sync leave identical docs on both sides', async () => {
    const a = local();
    const r = remote('oneshot');
    await a.bulkDocs(Array.from({ length: 20 }, (_, i) => sample(i)));

    const push = await a.replicate.to(r);
    assert.equal(push.ok, true);
    assert.equal(push.docs_written, 20);
    assert.equal(await assertSameDocs(a, r), 20);
    const info = await http('GET', '/oneshot');
    assert.equal(info.json.doc_count, 20);

    // Writes made on the node: 10 new docs and new revisions of 5 pushed ones.
    const updates: unknown[] = Array.from({ length: 10 }, (_, i) => ({ _id: `node-${i}`, from: 'node', i }));
    for (let i = 0; i < 5; i++) {
      const doc = await a.get(`doc-00${i}`);
      updates.push({ ...doc, edited: 'on the node' });
    }
    const bulk = await http('POST', '/oneshot/_bulk_docs', { docs: updates });
    assert.equal(bulk.status, 201);

    const b = local();
    const pull = await b.replicate.from(r);
    assert.equal(pull.docs_written, 30);
    assert.equal(await assertSameDocs(b, r), 30);
    // The full history came along, not only the leaf.
    const viaPouch = await b.get('doc-003', { revs: true });
    const viaNode = await http('GET', '/oneshot/doc-003?revs=true');
    assert.deepEqual(viaPouch._revisions, viaNode.json._revisions);
    assert.equal((viaPouch._revisions as { ids: string[] }).ids.length, 2);

    await a.put({ _id: 'from-a', made: 'in pouch a' });
    const sync = await a.sync(r);
    assert.equal(sync.push.docs_written, 1);
    assert.equal(sync.pull.docs_written, 15);
    assert.equal(await assertSameDocs(a, r), 31);
    const viaA = await a.get('doc-001');
    assert.equal(viaA.edited, 'on the node');
  });
});

describe('live sync', () => {
  test('a write on either side arrives on the other, then cancel ends cleanly', async () => {
    const a = local();
    const r = remote('live');
    const handler: Replication = a.sync(r, { live: true, retry: true });
    const errors: unknown[] = [];
    handler.on('error', (e) => errors.push(e));
    const completed = new Promise<void>((resolve) => handler.on('complete', () => resolve()));

    try {
      await a.put({ _id: 'from-pouch', n: 1 });
      await waitFor('pouch write on the node', async () => (await http('GET', '/live/from-pouch')).status === 200);

      const put = await http('PUT', '/live/from-node', { n: 2 });
      assert.equal(put.status, 201);
      await waitFor('node write in pouch', () => a.get('from-node').then(() => true, () => false));

      // An update each way, so live sync is seen to follow revisions, not only creations.
      const doc = await a.get('from-node');
      await a.put({ ...doc, n: 3 });
      await waitFor('pouch update on the node', async () => (await http('GET', '/live/from-node')).json.n === 3);
      const onNode = await http('GET', '/live/from-pouch');
      await http('PUT', '/live/from-pouch', { ...onNode.json, n: 4 });
      await waitFor('node update in pouch', async () => (await a.get('from-pouch')).n === 4);
    } finally {
      handler.cancel();
      await completed;
    }
    assert.deepEqual(errors, []);
    assert.equal(await assertSameDocs(a, r), 2);
    // Cancelled means stopped: a later write on the node no longer reaches PouchDB.
    await http('PUT', '/live/after-cancel', { n: 5 });
    await new Promise((resolve) => setTimeout(resolve, AFTER_CANCEL_WAIT_MS));
    await assert.rejects(a.get('after-cancel'), (e: { status?: number }) => e.status === 404);
  });
});

describe('conflicts', () => {
  test('an offline conflict has the same winner on both sides; resolving it in PouchDB clears it on the node', async () => {
    const a = local();
    const r = remote('conflicts');
    const first = await a.put({ _id: 'doc', v: 'original' });
    await a.replicate.to(r);

    // Both sides edit revision 1 while disconnected.
    const inPouch = await a.put({ _id: 'doc', _rev: first.rev, v: 'edited in pouch' });
    const onNode = await http('PUT', '/conflicts/doc', { _rev: first.rev, v: 'edited on the node' });
    assert.equal(onNode.status, 201);
    const nodeRev = onNode.json.rev as string;
    assert.notEqual(inPouch.rev, nodeRev);

    const sync = await a.sync(r);
    assert.equal(sync.push.docs_written, 1);
    assert.equal(sync.pull.docs_written, 1);

    // CouchDB's rule: both are generation 2, so the higher rev hash wins.
    const [winner, loser] = [inPouch.rev, nodeRev].sort().reverse() as [string, string];
    const pouchSide = await a.get('doc', { conflicts: true });
    const nodeSide = await http('GET', '/conflicts/doc?conflicts=true');
    assert.equal(pouchSide._rev, winner);
    assert.equal(nodeSide.json._rev, winner);
    assert.deepEqual(pouchSide._conflicts, [loser]);
    assert.deepEqual(nodeSide.json._conflicts, [loser]);
    assert.equal(nodeSide.json.v, pouchSide.v);

    // Resolve in PouchDB by deleting the losing branch, then sync.
    await a.remove('doc', loser);
    await a.sync(r);
    const resolvedNode = await http('GET', '/conflicts/doc?conflicts=true');
    const resolvedPouch = await a.get('doc', { conflicts: true });
    assert.equal(resolvedNode.json._rev, winner);
    assert.equal(resolvedNode.json._conflicts, undefined);
    assert.equal(resolvedPouch._conflicts, undefined);
    const deletedConflicts = await http('GET', '/conflicts/doc?deleted_conflicts=true');
    assert.equal((deletedConflicts.json._deleted_conflicts as string[]).length, 1);
    assert.match((deletedConflicts.json._deleted_conflicts as string[])[0] as string, /^3-/);
  });
});

describe('deletes', () => {
  test('a delete on either side propagates to the other', async () => {
    const a = local();
    const r = remote('deletes');
    await a.bulkDocs(['a', 'b', 'c', 'd'].map((id) => ({ _id: id, letter: id })));
    await a.sync(r);

    const docA = await a.get('a');
    await a.remove('a', docA._rev as string);
    const onNode = await http('GET', '/deletes/c');
    const del = await http('DELETE', `/deletes/c?rev=${onNode.json._rev as string}`);
    assert.equal(del.status, 200);

    await a.sync(r);
    const goneOnNode = await http('GET', '/deletes/a');
    assert.equal(goneOnNode.status, 404);
    assert.deepEqual(goneOnNode.json, { error: 'not_found', reason: 'deleted' });
    await assert.rejects(a.get('c'), (e: { status?: number; reason?: string }) => e.status === 404 && e.reason === 'deleted');

    assert.equal(await assertSameDocs(a, r), 2);
    const info = await http('GET', '/deletes');
    assert.equal(info.json.doc_count, 2);
    assert.equal(info.json.doc_del_count, 2);
    const changes = await http('GET', '/deletes/_changes');
    const deleted = (changes.json.results as { id: string; deleted?: boolean }[]).filter((c) => c.deleted).map((c) => c.id).sort();
    assert.deepEqual(deleted, ['a', 'c']);
  });
});


interface SentAttachment {
  doc: string;
  name: string;
  contentType: string;
  bytes: Buffer;
}

describe('attachments and checkpoints', () => {
  const seed = Number(process.env.CHAISE_SEED ?? Date.now() % 1_000_000);
  const random = seeded(seed);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  const shared = bytes(300);
  const sent: SentAttachment[] = [];
  const docs: PouchDoc[] = [];
  for (let i = 0; i < ATT_DOCS; i++) {
    const id = `att-${String(i).padStart(4, '0')}`;
    const atts: SentAttachment[] = [{ doc: id, name: 'photo.png', contentType: 'image/png', bytes: i % 7 === 0 ? shared : bytes(200 + Math.floor(random() * 300)) }];
    if (i % 5 === 0) {
      // Compressible types are stored gzipped by CouchDB; the bytes must still come back unchanged.
      const contentType = i % 10 === 0 ? 'text/plain' : 'application/octet-stream';
      const data = contentType === 'text/plain' ? Buffer.from(`line ${i}: ${bytes(150).toString('base64')}\n`) : bytes(100 + Math.floor(random() * 300));
      atts.push({ doc: id, name: 'notes/extra', contentType, bytes: data });
    }
    sent.push(...atts);
    docs.push({
      _id: id,
      i,
      _attachments: Object.fromEntries(atts.map((a) => [a.name, { content_type: a.contentType, data: a.bytes.toString('base64') }])),
    });
  }
  let source: PouchDatabase;
  let fresh: PouchDatabase;
  let r: PouchDatabase;

  test(`${ATT_DOCS} docs with attachments round-trip PouchDB → node → fresh PouchDB byte for byte`, async (t) => {
    t.diagnostic(`CHAISE_SEED=${seed}`);
    source = local();
    r = remote('attachments');
    for (let i = 0; i < docs.length; i += 250) await source.bulkDocs(docs.slice(i, i + 250));

    const push = await source.replicate.to(r);
    assert.equal(push.docs_written, ATT_DOCS);
    assert.equal(push.doc_write_failures, 0);
    fresh = local();
    const pull = await fresh.replicate.from(r);
    assert.equal(pull.docs_written, ATT_DOCS);
    assert.equal(pull.doc_write_failures, 0);

    const md5 = (b: Buffer) => 'md5-' + createHash('md5').update(b).digest('base64');
    const [srcAll, freshAll, nodeAll] = await Promise.all([
      source.allDocs({ include_docs: true }),
      fresh.allDocs({ include_docs: true }),
      r.allDocs({ include_docs: true }),
    ]);
    const byId = (rows: typeof srcAll.rows) => new Map(rows.map((row) => [row.id, row.doc as PouchDoc]));
    const [srcDocs, freshDocs, nodeDocs] = [byId(srcAll.rows), byId(freshAll.rows), byId(nodeAll.rows)];
    assert.equal(freshDocs.size, ATT_DOCS);
    assert.equal(nodeDocs.size, ATT_DOCS);
    for (const a of sent) {
      const s = srcDocs.get(a.doc)?._attachments?.[a.name];
      const f = freshDocs.get(a.doc)?._attachments?.[a.name];
      const n = nodeDocs.get(a.doc)?._attachments?.[a.name];
      assert.ok(s && f && n, `${a.doc}/${a.name} present on every side`);
      assert.equal(s.digest, md5(a.bytes), `${a.doc}/${a.name}: PouchDB's digest is the md5 of the bytes`);
      assert.equal(f.digest, s.digest, `${a.doc}/${a.name}: digest after the round trip`);
      assert.equal(f.content_type, a.contentType);
      assert.equal(n.content_type, a.contentType);
      assert.equal(n.length, a.bytes.length, `${a.doc}/${a.name}: length on the node`);
      // CouchDB digests compressible types after gzip; others are the plain md5, as in PouchDB.
      if (a.contentType !== 'text/plain') assert.equal(n.digest, s.digest, `${a.doc}/${a.name}: digest on the node`);
    }
    for (const a of sent) {
      const got = await fresh.getAttachment(a.doc, a.name);
      assert.ok(Buffer.compare(Buffer.from(got), a.bytes) === 0, `${a.doc}/${a.name}: bytes in the fresh PouchDB`);
    }
  });

  test('every attachment read over plain HTTP is the bytes that were sent', async () => {
    assert.ok(fresh, 'needs the round trip above');
    let next = 0;
    const worker = async () => {
      while (next < sent.length) {
        const a = sent[next++] as SentAttachment;
        const res = await fetch(`${node.url}/attachments/${a.doc}/${a.name.split('/').map(encodeURIComponent).join('/')}`);
        assert.equal(res.status, 200, `${a.doc}/${a.name}`);
        assert.equal(res.headers.get('content-type')?.split(';')[0], a.contentType);
        const got = Buffer.from(await res.arrayBuffer());
        assert.ok(Buffer.compare(got, a.bytes) === 0, `${a.doc}/${a.name}: bytes over HTTP`);
      }
    };
    await Promise.all(Array.from({ length: HTTP_READS_PARALLEL }, worker));
  });

  test('a second one-shot replication reads nothing; a third reads exactly what changed', async () => {
    assert.ok(fresh, 'needs the round trip above');
    const again = await source.replicate.to(r);
    assert.equal(again.docs_read, 0);
    assert.equal(again.docs_written, 0);
    const againPull = await fresh.replicate.from(r);
    assert.equal(againPull.docs_read, 0);

    // The checkpoint is a position, not a "nothing to do" flag: one new write is read, alone.
    await source.put({ _id: 'after-checkpoint', n: 1 });
    const third = await source.replicate.to(r);
    assert.equal(third.docs_read, 1);
    assert.equal(third.docs_written, 1);
    const thirdPull = await fresh.replicate.from(r);
    assert.equal(thirdPull.docs_read, 1);
  });
});

// Cases from PouchDB's own integration suite (tests/integration, the http adapter), where CouchDB
// passes and Chaise once did not.
describe("PouchDB's integration suite over HTTP", () => {
  test('test.local_docs.js: a _local doc put back with _revisions {start: 0, ids: ["1"]} is updated (rev 0-2)', async () => {
    // couch_doc:transfer_fields reads `_revisions` for any doc; the local-doc update then takes
    // {0, ["1"]} as the previous rev 0-1. Any other shape is CouchDB's "Invalid rev format".
    const db = remote('suite-local-revisions');
    const first = await db.put({ _id: '_local/foo' });
    assert.equal(first.rev, '0-1');
    const doc = await db.get('_local/foo');
    assert.equal(doc._revisions, undefined);
    const second = await db.put({ ...doc, _revisions: { start: 0, ids: ['1'] } } as PouchDoc);
    assert.equal(second.rev, '0-2');
    const back = await db.get('_local/foo');
    assert.equal(back._rev, '0-2');
    assert.equal(back._revisions, undefined);
    const bulk = await http('POST', '/suite-local-revisions/_bulk_docs', { docs: [{ _id: '_local/bar', _rev: '0-9', _revisions: { start: 0, ids: ['3'] } }] });
    assert.deepEqual(bulk.json, [{ ok: true, id: '_local/bar', rev: '0-4' }] as unknown);
    const bad = await http('PUT', '/suite-local-revisions/_local/baz', { _revisions: { start: 2, ids: ['a', 'b'] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.reason, 'Invalid rev format');
  });

  test('test.changes.js: a filter or view the design doc lacks is 404, naming the first missing key as CouchDB does', async () => {
    // couch_changes:check_member_exists walks [<<"filters">>, Name] / [<<"views">>, Name] with
    // couch_util:get_nested_json_value, which throws {not_found, "missing json key: K"} at the first miss.
    const db = remote('suite-changes-missing-filter');
    await db.bulkDocs([
      { _id: '1', integer: 1 },
      { _id: '_design/views', views: { even: { map: 'function (doc) { emit(doc._id); }' } } },
      { _id: '_design/filters', filters: { even: 'function (doc) { return true; }' } },
    ] as PouchDoc[]);
    const cases: [string, string][] = [
      ['filter=views/even', 'missing json key: filters'],
      ['filter=filters/odd', 'missing json key: odd'],
      ['filter=_view&view=filters/even', 'missing json key: views'],
      ['filter=_view&view=views/odd', 'missing json key: odd'],
      ['filter=nope/even', 'missing'],
    ];
    for (const [query, reason] of cases) {
      const res = await http('GET', `/suite-changes-missing-filter/_changes?${query}`);
      assert.equal(res.status, 404, query);
      assert.deepEqual(res.json, { error: 'not_found', reason }, query);
    }
  });

  test('test.mapreduce.js #190/#2858: a view query with include_docs and attachments=true carries the data (binary too)', async () => {
    // couch_mrview_http: `attachments` / `att_encoding_info` go into the query's doc_options, so the
    // included docs render as GET /db/doc?attachments=true does.
    const db = remote('suite-view-attachments');
    const png = 'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAMAAAAoLQ9TAAAAMFBMVEX+9+j+9OD+7tL95rr93qT80YD7x2L6vkn6syz5qRT4ogT4nwD4ngD4nQD4nQD4';
    await db.bulkDocs([
      { _id: '0', _attachments: { 'foo.png': { content_type: 'image/png', data: png } } },
      { _id: '1' },
      { _id: '_design/theViewDoc', views: { theView: { map: 'function (doc) { emit(doc._id); }' } } },
    ] as PouchDoc[]);
    const stubs = await db.query('theViewDoc/theView', { include_docs: true });
    const stub = stubs.rows[0]?.doc?._attachments?.['foo.png'] as unknown as Record<string, unknown>;
    assert.equal(stub.stub, true);
    assert.equal(stub.length, Buffer.from(png, 'base64').length);

    const inline = await db.query('theViewDoc/theView', { include_docs: true, attachments: true });
    assert.equal(inline.rows.length, 2);
    const att = inline.rows[0]?.doc?._attachments?.['foo.png'] as unknown as Record<string, unknown>;
    assert.equal(att.stub, undefined);
    assert.equal(att.data, png);
    assert.equal(att.content_type, 'image/png');
    assert.equal(inline.rows[1]?.doc?._attachments, undefined);

    const binary = await db.query('theViewDoc/theView', { include_docs: true, attachments: true, binary: true });
    const bin = binary.rows[0]?.doc?._attachments?.['foo.png'] as unknown as { data: Buffer };
    assert.ok(Buffer.isBuffer(bin.data));
    assert.equal(bin.data.toString('base64'), png);

    const noDocs = await db.query('theViewDoc/theView', { attachments: true });
    assert.ok(noDocs.rows.every((r) => r.doc === undefined));

    const info = await http('GET', '/suite-view-attachments/_design/theViewDoc/_view/theView?include_docs=true&att_encoding_info=true&key=%220%22');
    const rows = info.json.rows as { doc: { _attachments: Record<string, Record<string, unknown>> } }[];
    assert.equal(rows[0]?.doc._attachments['foo.png']?.stub, true);
  });
});
