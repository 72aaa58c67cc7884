// Replication between Chaise nodes, each a real `chaise serve` child process, driven only through
// CouchDB's HTTP API: `POST /_replicate`, `_replicator` documents, `_scheduler/docs` and
// `_active_tasks`. The expected values are CouchDB 3.5's: the shape of the `_replicate` result
// (api/server/common.rst, replication/protocol.rst), the winner rule for conflicts (the live leaf
// with the highest generation, then the greatest revision id), `doc_write_failures` for documents
// a target's `validate_doc_update` refuses, and the scheduler states of replication/replicator.rst.
// Every test uses its own databases, so the tests do not depend on each other.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startChildNode, type ChildNode } from './helpers/child-node.js';
import { bytes, json, ok, randomBytesFrom, replicaState, seeded, waitFor } from './helpers/replication.js';

/** How long a continuous replication may take to carry one write across (CouchDB: well under 1 s). */
const LIVE_DEADLINE_MS = 5_000;
/** How long a `_replicator` document may take to reach a scheduler state. */
const SCHEDULER_DEADLINE_MS = 10_000;
/** How long a stopped job is watched to make sure it no longer carries writes. */
const AFTER_STOP_WAIT_MS = 600;

let a: ChildNode;
let b: ChildNode;
let counter = 0;

before(async () => {
  [a, b] = await Promise.all([startChildNode({ inMemory: true }), startChildNode({ inMemory: true })]);
});

after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

/** A database name not used by any other test of this file. */
function fresh(prefix: string): string {
  counter++;
  return `${prefix}-${counter}`;
}

async function createDb(node: ChildNode, db: string): Promise<void> {
  await ok('PUT', `${node.url}/${db}`, undefined, [201]);
}

async function bulk(node: ChildNode, db: string, docs: Record<string, unknown>[]): Promise<{ id: string; rev: string }[]> {
  const rows = await ok<{ id: string; rev: string; error?: string }[]>('POST', `${node.url}/${db}/_bulk_docs`, { docs }, [201]);
  for (const r of rows) assert.equal(r.error, undefined, `bulk write of ${r.id}: ${JSON.stringify(r)}`);
  return rows;
}

async function replicate(node: ChildNode, body: Record<string, unknown>): Promise<Record<string, any>> {
  return ok('POST', `${node.url}/_replicate`, body, [200]);
}

async function docCount(node: ChildNode, db: string): Promise<number> {
  return (await ok<{ doc_count: number }>('GET', `${node.url}/${db}`)).doc_count;
}

async function ids(node: ChildNode, db: string): Promise<string[]> {
  const all = await ok<{ rows: { id: string }[] }>('GET', `${node.url}/${db}/_all_docs`);
  return all.rows.map((r) => r.id);
}

/** The `_scheduler/docs` row of a `_replicator` document, or undefined while the scheduler has none. */
async function schedulerDoc(node: ChildNode, docId: string): Promise<Record<string, any> | undefined> {
  const res = await json('GET', `${node.url}/_scheduler/docs/_replicator/${encodeURIComponent(docId)}`);
  return res.status === 200 ? res.body : undefined;
}

describe('one-shot POST /_replicate', () => {
  test('the result has CouchDB shape and counts, and the target holds exactly the source', async () => {
    const src = fresh('oneshot-src');
    const tgt = fresh('oneshot-tgt');
    await Promise.all([createDb(a, src), createDb(b, tgt)]);
    const docs = Array.from({ length: 25 }, (_, i) => ({ _id: `doc-${String(i).padStart(2, '0')}`, n: i, text: `ünïcødé ${i}` }));
    const saved = await bulk(a, src, docs);
    // Two updates and one delete: 25 documents, 24 live, 1 tombstone, 28 changes made in all.
    await bulk(a, src, [
      { ...docs[0], _rev: saved[0]?.rev, n: 100 },
      { ...docs[1], _rev: saved[1]?.rev, n: 101 },
      { _id: 'doc-02', _rev: saved[2]?.rev, _deleted: true },
    ]);
    const sourceInfo = await ok<{ update_seq: unknown }>('GET', `${a.url}/${src}`);

    // Run by node A, source given as a bare name (a database on A), target as B's URL.
    const result = await replicate(a, { source: src, target: `${b.url}/${tgt}` });
    assert.equal(result.ok, true);
    assert.match(result.session_id, /^[0-9a-f]{32}$/);
    assert.equal(result.replication_id_version, 4);
    assert.deepEqual(result.source_last_seq, sourceInfo.update_seq, 'source_last_seq is the source update_seq the session reached');
    assert.equal(result.history.length, 1);
    const h = result.history[0];
    assert.equal(h.session_id, result.session_id);
    assert.equal(h.start_last_seq, 0);
    assert.deepEqual(h.end_last_seq, sourceInfo.update_seq);
    assert.deepEqual(h.recorded_seq, sourceInfo.update_seq);
    // One change row per document (each at its latest revision): 25 read, 25 written (the tombstone too).
    assert.equal(h.missing_checked, 25);
    assert.equal(h.missing_found, 25);
    assert.equal(h.docs_read, 25);
    assert.equal(h.docs_written, 25);
    assert.equal(h.doc_write_failures, 0);
    assert.equal(typeof h.start_time, 'string');
    assert.equal(typeof h.end_time, 'string');

    const [fromSource, onTarget] = await Promise.all([replicaState(`${a.url}/${src}`), replicaState(`${b.url}/${tgt}`)]);
    assert.deepEqual(onTarget.docs, fromSource.docs);
    assert.deepEqual(onTarget.changes, fromSource.changes);
    assert.equal(await docCount(b, tgt), 24);
    // Nothing new: CouchDB answers `no_changes` with the recorded history.
    const again = await replicate(a, { source: src, target: `${b.url}/${tgt}` });
    assert.equal(again.ok, true);
    assert.equal(again.no_changes, true);
    assert.equal(again.session_id, result.session_id);
  });

  test('a delete propagates: the target answers 404 deleted with the same tombstone revision', async () => {
    const src = fresh('del-src');
    const tgt = fresh('del-tgt');
    await Promise.all([createDb(a, src), createDb(b, tgt)]);
    const [kept, gone] = await bulk(a, src, [{ _id: 'kept', v: 1 }, { _id: 'gone', v: 2 }]);
    await replicate(a, { source: src, target: `${b.url}/${tgt}` });
    assert.equal((await json('GET', `${b.url}/${tgt}/gone`)).status, 200);
    const del = await ok<{ rev: string }>('DELETE', `${a.url}/${src}/gone?rev=${gone?.rev}`);
    const result = await replicate(a, { source: src, target: `${b.url}/${tgt}` });
    assert.equal(result.history[0].docs_written, 1);
    const missing = await json('GET', `${b.url}/${tgt}/gone`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: 'not_found', reason: 'deleted' });
    const tomb = await ok('GET', `${b.url}/${tgt}/gone?rev=${del.rev}`);
    assert.deepEqual(tomb, { _id: 'gone', _rev: del.rev, _deleted: true });
    assert.deepEqual(await ids(b, tgt), ['kept']);
    assert.equal((await ok('GET', `${b.url}/${tgt}/kept`))._rev, kept?.rev);
  });

  test('attachments arrive byte for byte, with the same digests, and a body-only edit keeps them (revpos 1)', async () => {
    const src = fresh('att-src');
    const tgt = fresh('att-tgt');
    await Promise.all([createDb(a, src), createDb(b, tgt)]);
    const random = seeded(1234);
    const big = randomBytesFrom(random, 200_000);
    const small = Buffer.from('plain text ✓\n', 'utf8');
    const put = await ok<{ rev: string }>('PUT', `${a.url}/${src}/files`, {
      title: 'files',
      _attachments: {
        'blob.bin': { content_type: 'application/octet-stream', data: big.toString('base64') },
        'note.txt': { content_type: 'text/plain', data: small.toString('base64') },
      },
    });
    await replicate(a, { source: src, target: `${b.url}/${tgt}` });
    for (const [name, data, type] of [['blob.bin', big, 'application/octet-stream'], ['note.txt', small, 'text/plain']] as const) {
      const [sent, got] = await Promise.all([bytes(`${a.url}/${src}/files/${name}`), bytes(`${b.url}/${tgt}/files/${name}`)]);
      assert.equal(got.status, 200);
      assert.ok(got.data.equals(data), `${name} differs on the target`);
      assert.ok(sent.data.equals(data), `${name} differs on the source`);
      // The header itself is checked against CouchDB below; here both nodes must agree.
      assert.equal(got.type, sent.type);
      assert.ok(got.type?.startsWith(type));
    }
    const [x, y] = await Promise.all([ok('GET', `${a.url}/${src}/files`), ok('GET', `${b.url}/${tgt}/files`)]);
    assert.deepEqual(y, x, 'same rev, body and attachment stubs (digest, length, revpos)');

    // Edit the body only: the attachments keep revpos 1 and travel as stubs the target already has.
    await ok('PUT', `${a.url}/${src}/files`, { ...x, title: 'renamed', _rev: put.rev });
    await replicate(a, { source: src, target: `${b.url}/${tgt}` });
    const [x2, y2] = await Promise.all([ok('GET', `${a.url}/${src}/files`), ok('GET', `${b.url}/${tgt}/files`)]);
    assert.deepEqual(y2, x2);
    assert.equal(y2._attachments['blob.bin'].revpos, 1);
    assert.ok((await bytes(`${b.url}/${tgt}/files/blob.bin`)).data.equals(big));
  });

  // Known server bug (server/storage/database.ts resolveAttachments gives inline data `revpos: newPos`
  // on replicated writes too): CouchDB keeps the revpos sent with inline data on replicated writes
  // (couch_db:update_docs(_, _, _, replicated_changes) has no set_new_att_revpos; only interactive
  // edits set it), so a fresh replica of generation 2 shows revpos 1 like its source. Todo until fixed.
  test('a fresh target keeps the source revpos of attachments sent inline', async () => {
    const src = fresh('revpos-src');
    const tgt = fresh('revpos-tgt');
    await createDb(a, src);
    const put = await ok<{ rev: string }>('PUT', `${a.url}/${src}/doc`, {
      _attachments: { 'a.bin': { content_type: 'application/octet-stream', data: Buffer.from([1, 2, 3]).toString('base64') } },
    });
    const first = await ok('GET', `${a.url}/${src}/doc`);
    await ok('PUT', `${a.url}/${src}/doc`, { ...first, edited: true, _rev: put.rev });
    const source = await ok('GET', `${a.url}/${src}/doc`);
    assert.equal(source._attachments['a.bin'].revpos, 1);
    await replicate(a, { source: src, target: `${b.url}/${tgt}`, create_target: true });
    assert.deepEqual(await ok('GET', `${b.url}/${tgt}/doc`), source);
  });
  // CouchDB answers an attachment with its stored content_type unchanged, as the fixture
  // "attachment bytes" records (`content-type: text/plain`, no charset added).
  test('an attachment is served with its stored content_type, unchanged', async () => {
    const db = fresh('att-type');
    await createDb(a, db);
    await ok('PUT', `${a.url}/${db}/doc`, { _attachments: { 'a.txt': { content_type: 'text/plain', data: Buffer.from('hi there').toString('base64') } } });
    const got = await bytes(`${a.url}/${db}/doc/a.txt`);
    assert.equal(got.type, 'text/plain');
  });
});

describe('filtered replication', () => {
  let src: string;
  before(async () => {
    src = fresh('filter-src');
    await createDb(a, src);
    const docs = Array.from({ length: 12 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, type: i % 3 === 0 ? 'a' : i % 3 === 1 ? 'b' : 'c', n: i }));
    await bulk(a, src, [
      ...docs,
      {
        _id: '_design/f',
        filters: { by_type: 'function(doc, req) { return doc.type === req.query.type; }' },
      },
    ]);
  });

  test('doc_ids: only the listed documents', async () => {
    const tgt = fresh('filter-ids');
    const result = await replicate(a, { source: src, target: `${b.url}/${tgt}`, create_target: true, doc_ids: ['d07', 'd01', 'missing'] });
    assert.equal(result.history[0].docs_written, 2);
    assert.deepEqual(await ids(b, tgt), ['d01', 'd07']);
  });

  test('selector: only the matching documents', async () => {
    const tgt = fresh('filter-sel');
    const result = await replicate(a, { source: src, target: `${b.url}/${tgt}`, create_target: true, selector: { type: 'a', n: { $gt: 2 } } });
    assert.equal(result.history[0].docs_written, 3);
    assert.deepEqual(await ids(b, tgt), ['d03', 'd06', 'd09']);
  });

  test('design-doc filter with query_params: req.query reaches the filter', async () => {
    const tgt = fresh('filter-ddoc');
    const result = await replicate(a, { source: src, target: `${b.url}/${tgt}`, create_target: true, filter: 'f/by_type', query_params: { type: 'b' } });
    assert.equal(result.history[0].docs_written, 4);
    assert.deepEqual(await ids(b, tgt), ['d01', 'd04', 'd07', 'd10']);
    // Other query params are another replication (a new id), so nothing is skipped.
    const other = await replicate(a, { source: src, target: `${b.url}/${tgt}`, filter: 'f/by_type', query_params: { type: 'c' } });
    assert.notEqual(other.session_id, result.session_id);
    assert.equal(other.history.length, 1, 'a fresh replication log');
    assert.deepEqual(await ids(b, tgt), ['d01', 'd02', 'd04', 'd05', 'd07', 'd08', 'd10', 'd11']);
  });
});

describe('conflicts', () => {
  test('the same document edited differently on each node converges to one winner and the same _conflicts', async () => {
    const db = fresh('conflict');
    await Promise.all([createDb(a, db), createDb(b, db)]);
    const [first] = await bulk(a, db, [{ _id: 'doc', v: 0 }]);
    await replicate(a, { source: db, target: `${b.url}/${db}` });
    // Offline edits: each node makes its own generation 2.
    const onA = await ok<{ rev: string }>('PUT', `${a.url}/${db}/doc`, { _rev: first?.rev, v: 'edited on A' });
    const onB = await ok<{ rev: string }>('PUT', `${b.url}/${db}/doc`, { _rev: first?.rev, v: 'edited on B', extra: true });
    assert.notEqual(onA.rev, onB.rev);
    // Sync both ways, each run by its own node.
    await replicate(a, { source: db, target: `${b.url}/${db}` });
    await replicate(b, { source: db, target: `${a.url}/${db}` });

    // CouchDB: both leaves are live and of generation 2, so the greater revision id wins.
    const [winner, loser] = [onA.rev, onB.rev].sort().reverse() as [string, string];
    const [x, y] = await Promise.all([ok('GET', `${a.url}/${db}/doc?conflicts=true`), ok('GET', `${b.url}/${db}/doc?conflicts=true`)]);
    assert.deepEqual(y, x);
    assert.equal(x._rev, winner);
    assert.deepEqual(x._conflicts, [loser]);
    assert.equal(x.v, winner === onA.rev ? 'edited on A' : 'edited on B');
    const leaves = async (node: ChildNode) =>
      ((await ok<{ ok: { _rev: string } }[]>('GET', `${node.url}/${db}/doc?open_revs=all`)).map((r) => r.ok._rev)).sort();
    assert.deepEqual(await leaves(a), [onA.rev, onB.rev].sort());
    assert.deepEqual(await leaves(b), [onA.rev, onB.rev].sort());

    // Resolving on B (deleting the loser) reaches A, and both report no conflict.
    await ok('DELETE', `${b.url}/${db}/doc?rev=${loser}`);
    await replicate(b, { source: db, target: `${a.url}/${db}` });
    const [x2, y2] = await Promise.all([ok('GET', `${a.url}/${db}/doc?conflicts=true`), ok('GET', `${b.url}/${db}/doc?conflicts=true`)]);
    assert.deepEqual(x2, y2);
    assert.equal(x2._rev, winner);
    assert.equal(x2._conflicts, undefined);
  });
});

describe('validate_doc_update on the target', () => {
  test('refused documents count in doc_write_failures and the job still completes', async () => {
    const src = fresh('vdu-src');
    const tgt = fresh('vdu-tgt');
    await Promise.all([createDb(a, src), createDb(b, tgt)]);
    await ok('PUT', `${b.url}/${tgt}/_design/guard`, {
      validate_doc_update: "function(newDoc) { if (newDoc.bad) throw({forbidden: 'no bad docs here'}); }",
    });
    await bulk(a, src, [
      { _id: 'good1' },
      { _id: 'bad1', bad: true },
      { _id: 'good2' },
      { _id: 'bad2', bad: true },
      { _id: 'good3' },
    ]);
    const result = await replicate(a, { source: src, target: `${b.url}/${tgt}` });
    assert.equal(result.ok, true);
    const h = result.history[0];
    assert.equal(h.docs_read, 5);
    assert.equal(h.docs_written, 3);
    assert.equal(h.doc_write_failures, 2);
    assert.deepEqual(await ids(b, tgt), ['_design/guard', 'good1', 'good2', 'good3']);
  });
});

describe('the _replicator database', () => {
  test('a one-shot document completes: _scheduler/docs shows completed with its counts', async () => {
    const src = fresh('rdoc-src');
    const tgt = fresh('rdoc-tgt');
    await createDb(a, src);
    await bulk(a, src, Array.from({ length: 7 }, (_, i) => ({ _id: `r${i}` })));
    const docId = fresh('once');
    await ok('PUT', `${a.url}/_replicator/${docId}`, { source: `${a.url}/${src}`, target: `${b.url}/${tgt}`, create_target: true });
    const row = await waitFor('completed', async () => {
      const r = await schedulerDoc(a, docId);
      return r?.state === 'completed' ? r : undefined;
    }, SCHEDULER_DEADLINE_MS);
    assert.equal(row.database, '_replicator');
    assert.equal(row.doc_id, docId);
    assert.equal(row.source, `${a.url}/${src}/`);
    assert.equal(row.target, `${b.url}/${tgt}/`);
    assert.equal(row.info.docs_written, 7);
    assert.equal(row.info.doc_write_failures, 0);
    assert.equal(row.error_count, 0);
    assert.equal(await docCount(b, tgt), 7);
    // A completed job is not a running one.
    const jobs = await ok<{ jobs: { doc_id: string }[] }>('GET', `${a.url}/_scheduler/jobs`);
    assert.ok(!jobs.jobs.some((j) => j.doc_id === docId));
  });

  test('continuous both ways: writes on either node appear on the other; deleting a document stops its job', async () => {
    const db = fresh('live');
    await Promise.all([createDb(a, db), createDb(b, db)]);
    const aToB = fresh('a2b');
    const bToA = fresh('b2a');
    // Each direction is a document in the replicator database of the node that runs it.
    await ok('PUT', `${a.url}/_replicator/${aToB}`, { source: `${a.url}/${db}`, target: `${b.url}/${db}`, continuous: true });
    await ok('PUT', `${b.url}/_replicator/${bToA}`, { source: `${b.url}/${db}`, target: `${a.url}/${db}`, continuous: true });
    for (const [node, docId] of [[a, aToB], [b, bToA]] as const) {
      const row = await waitFor(`${docId} running`, async () => {
        const r = await schedulerDoc(node, docId);
        return r?.state === 'running' ? r : undefined;
      }, SCHEDULER_DEADLINE_MS);
      assert.match(row.id, /\+continuous$/);
    }

    await ok('PUT', `${a.url}/${db}/from-a`, { side: 'A' });
    await waitFor('A → B', async () => (await json('GET', `${b.url}/${db}/from-a`)).status === 200, LIVE_DEADLINE_MS);
    await ok('PUT', `${b.url}/${db}/from-b`, { side: 'B' });
    await waitFor('B → A', async () => (await json('GET', `${a.url}/${db}/from-b`)).status === 200, LIVE_DEADLINE_MS);
    // An edit on B of a document that came from A flows back to A.
    const got = await ok('GET', `${b.url}/${db}/from-a`);
    const upd = await ok<{ rev: string }>('PUT', `${b.url}/${db}/from-a`, { ...got, side: 'A, edited on B' });
    await waitFor('update B → A', async () => (await ok('GET', `${a.url}/${db}/from-a`))._rev === upd.rev, LIVE_DEADLINE_MS);

    // The continuous job is listed by _active_tasks and _scheduler/jobs on the node running it.
    const tasks = await ok<Record<string, any>[]>('GET', `${a.url}/_active_tasks`);
    const task = tasks.find((t) => t.doc_id === aToB);
    assert.ok(task, 'the a2b job is an active task on A');
    assert.equal(task.type, 'replication');
    assert.equal(task.continuous, true);
    const jobs = await ok<{ jobs: { doc_id: string }[] }>('GET', `${a.url}/_scheduler/jobs`);
    assert.ok(jobs.jobs.some((j) => j.doc_id === aToB));

    // Delete the a2b document: A stops pushing; B → A keeps running.
    const doc = await ok<{ _rev: string }>('GET', `${a.url}/_replicator/${aToB}`);
    await ok('DELETE', `${a.url}/_replicator/${aToB}?rev=${doc._rev}`);
    await waitFor('a2b gone from the scheduler', async () => (await schedulerDoc(a, aToB)) === undefined, SCHEDULER_DEADLINE_MS);
    assert.ok(!(await ok<Record<string, any>[]>('GET', `${a.url}/_active_tasks`)).some((t) => t.doc_id === aToB));
    await ok('PUT', `${a.url}/${db}/after-stop`, { side: 'A' });
    await ok('PUT', `${b.url}/${db}/still-flowing`, { side: 'B' });
    await waitFor('B → A still runs', async () => (await json('GET', `${a.url}/${db}/still-flowing`)).status === 200, LIVE_DEADLINE_MS);
    await new Promise((r) => setTimeout(r, AFTER_STOP_WAIT_MS));
    assert.equal((await json('GET', `${b.url}/${db}/after-stop`)).status, 404, 'a deleted _replicator doc no longer replicates');

    const bDoc = await ok<{ _rev: string }>('GET', `${b.url}/_replicator/${bToA}`);
    await ok('DELETE', `${b.url}/_replicator/${bToA}?rev=${bDoc._rev}`);
    await waitFor('b2a gone from the scheduler', async () => (await schedulerDoc(b, bToA)) === undefined, SCHEDULER_DEADLINE_MS);
  });
});
