// Replication between a Chaise node and third-party peers that speak CouchDB's protocol:
//   - pouchdb-server (PouchDB's CouchDB-compatible HTTP server, its own process): the node's
//     replicator pulls from it and pushes to it via `POST /_replicate` on the node;
//   - PouchDB itself (memory adapter, in this process) replicating with the node, filtered by
//     `selector`, `doc_ids` and a design-doc filter with `query_params`, one-shot and live.
//     Unfiltered PouchDB ↔ node replication is covered by pouchdb-interop.test.ts.
// After a replication both sides must hold the same documents, revisions, winners, `_conflicts`,
// tombstones and attachment bytes; a filtered one exactly the documents the filter selects
// (CouchDB: replication/replicator.rst, api/database/changes.rst "Filtering").

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startChildNode, type ChildNode } from './helpers/child-node.js';
import { startPouchDbServer, type PouchDbServer } from '../replicator/test-support/pouchdb-server.js';
import { memoryPouch, type PouchDatabase, type ReplicateOptions } from './helpers/pouchdb.js';
import { bytes, ok, randomBytesFrom, seeded, waitFor } from './helpers/replication.js';

/** How long a live replication may take to carry one write across. */
const LIVE_DEADLINE_MS = 5_000;
/** How long a live filtered pull is watched to make sure a non-matching write stays behind. */
const FILTERED_OUT_WAIT_MS = 400;

let node: ChildNode;
let peer: PouchDbServer;
/** pouchdb-server's URL without the trailing slash. */
let peerUrl: string;
const opened: PouchDatabase[] = [];

before(async () => {
  [node, peer] = await Promise.all([startChildNode({ inMemory: true }), startPouchDbServer()]);
  peerUrl = peer.url.replace(/\/$/, '');
});

after(async () => {
  for (const db of opened) await db.destroy().catch(() => undefined);
  await Promise.all([node?.stop(), peer?.stop()]);
});

function local(): PouchDatabase {
  const db = memoryPouch('peers');
  opened.push(db);
  return db;
}

/**
 * A database's content as replicas must agree on it: each document's leaves (`open_revs=all`, with
 * bodies and attachment stubs), winner and `_conflicts` (`?conflicts=true`), tombstones included.
 * Built from per-document reads because pouchdb-server's `_all_docs` and `_changes` differ from
 * CouchDB's in details that do not matter here (e.g. key order, `pending`).
 */
async function content(dbUrl: string, ids: string[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const id of ids) {
    const openRevs = await ok<{ ok?: Record<string, unknown> }[]>('GET', `${dbUrl}/${encodeURIComponent(id)}?open_revs=all`);
    const leaves = openRevs
      .map((r) => r.ok as Record<string, unknown>)
      .map((d) => normalize(d))
      .sort((x, y) => (String(x['_rev']) < String(y['_rev']) ? -1 : 1));
    const winner = await ok('GET', `${dbUrl}/${encodeURIComponent(id)}?conflicts=true`, undefined, [200, 404]);
    // A tombstone's 404 reason differs (CouchDB and the node say "deleted", pouchdb-server "missing").
    out[id] = { leaves, winner: winner._rev !== undefined ? normalize(winner) : { error: winner.error } };
  }
  return out;
}

/**
 * Attachment stubs compared by type and length; their bytes are compared separately. Digests are
 * left out because each server computes its own from the bytes it stores: CouchDB (and the node)
 * take the MD5 of the gzipped bytes for compressible types such as text/plain, PouchDB the MD5 of
 * the bytes themselves, and inline attachments travel without a digest.
 */
function normalize(doc: Record<string, unknown>): Record<string, unknown> {
  const atts = doc['_attachments'] as Record<string, Record<string, unknown>> | undefined;
  if (!atts) return doc;
  const stubs: Record<string, unknown> = {};
  for (const [name, a] of Object.entries(atts)) stubs[name] = { content_type: a['content_type'], length: a['length'] };
  return { ...doc, _attachments: stubs };
}

/** The same history on any CouchDB-like server: updates, a delete, a two-branch conflict, an attachment. */
async function populate(dbUrl: string, blob: Buffer): Promise<string[]> {
  await ok('PUT', dbUrl, undefined, [201]);
  const docs = Array.from({ length: 10 }, (_, i) => ({ _id: `doc-${i}`, n: i, text: `ünïcødé ${i}` }));
  const saved = await ok<{ id: string; rev: string }[]>('POST', `${dbUrl}/_bulk_docs`, { docs }, [201]);
  const updated = await ok<{ rev: string }>('PUT', `${dbUrl}/doc-0`, { ...docs[0], _rev: saved[0]?.rev, n: 100 });
  await ok('PUT', `${dbUrl}/doc-0`, { ...docs[0], _rev: updated.rev, n: 200 });
  await ok('DELETE', `${dbUrl}/doc-1?rev=${saved[1]?.rev}`);
  // A conflict as replication makes one: two generation-2 branches over the same generation 1.
  const base = '1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
  await ok('POST', `${dbUrl}/_bulk_docs`, {
    new_edits: false,
    docs: [
      { _id: 'conflicted', _rev: `2-${'b'.repeat(32)}`, side: 'b', _revisions: { start: 2, ids: ['b'.repeat(32), base.slice(2)] } },
      { _id: 'conflicted', _rev: `2-${'c'.repeat(32)}`, side: 'c', _revisions: { start: 2, ids: ['c'.repeat(32), base.slice(2)] } },
    ],
  }, [201]);
  await ok('PUT', `${dbUrl}/files`, {
    _attachments: {
      'blob.bin': { content_type: 'application/octet-stream', data: blob.toString('base64') },
      'note.txt': { content_type: 'text/plain', data: Buffer.from('a note\n').toString('base64') },
    },
  });
  return [...docs.map((d) => d._id), 'conflicted', 'files'];
}

describe('the node replicating with pouchdb-server', () => {
  const blob = randomBytesFrom(seeded(77), 50_000);

  test('pull: POST /_replicate on the node copies revisions, conflicts, tombstones and attachments from pouchdb-server', async () => {
    const ids = await populate(`${peerUrl}/pull-src`, blob);
    const result = await ok('POST', `${node.url}/_replicate`, { source: `${peerUrl}/pull-src`, target: 'pulled', create_target: true }, [200]);
    assert.equal(result.ok, true);
    // 12 documents; `conflicted` has two leaves, so 13 revisions are read and written.
    assert.equal(result.history[0].docs_written, 13);
    assert.equal(result.history[0].doc_write_failures, 0);
    assert.deepEqual(await content(`${node.url}/pulled`, ids), await content(`${peerUrl}/pull-src`, ids));
    const winner = await ok('GET', `${node.url}/pulled/conflicted?conflicts=true`);
    assert.equal(winner._rev, `2-${'c'.repeat(32)}`, 'the greater revision id wins');
    assert.deepEqual(winner._conflicts, [`2-${'b'.repeat(32)}`]);
    assert.ok((await bytes(`${node.url}/pulled/files/blob.bin`)).data.equals(blob));
    assert.equal((await bytes(`${node.url}/pulled/files/note.txt`)).data.toString(), 'a note\n');
    assert.equal((await ok('GET', `${node.url}/pulled`)).doc_count, 11);

    // Incremental: one more change on the peer, and only it is copied.
    await ok('PUT', `${peerUrl}/pull-src/later`, { late: true });
    const again = await ok('POST', `${node.url}/_replicate`, { source: `${peerUrl}/pull-src`, target: 'pulled' }, [200]);
    assert.equal(again.history[0].docs_written, 1);
    assert.equal(again.history[0].missing_checked, 1);
    assert.deepEqual(again.history[0].start_last_seq, result.source_last_seq);
    assert.equal((await ok('GET', `${node.url}/pulled/later`)).late, true);
  });

  test('push: POST /_replicate on the node copies the same history to pouchdb-server', async () => {
    const ids = await populate(`${node.url}/push-src`, blob);
    const result = await ok('POST', `${node.url}/_replicate`, { source: 'push-src', target: `${peerUrl}/pushed`, create_target: true }, [200]);
    assert.equal(result.ok, true);
    assert.equal(result.history[0].docs_written, 13);
    assert.equal(result.history[0].doc_write_failures, 0);
    assert.deepEqual(await content(`${peerUrl}/pushed`, ids), await content(`${node.url}/push-src`, ids));
    assert.ok((await bytes(`${peerUrl}/pushed/files/blob.bin`)).data.equals(blob));
    assert.equal((await bytes(`${peerUrl}/pushed/files/note.txt`)).data.toString(), 'a note\n');

    // Resolve the conflict on the node; the resolution reaches pouchdb-server.
    await ok('DELETE', `${node.url}/push-src/conflicted?rev=2-${'c'.repeat(32)}`);
    const again = await ok('POST', `${node.url}/_replicate`, { source: 'push-src', target: `${peerUrl}/pushed` }, [200]);
    assert.equal(again.history[0].docs_written, 1);
    const resolved = await ok('GET', `${peerUrl}/pushed/conflicted?conflicts=true`);
    assert.equal(resolved._rev, `2-${'b'.repeat(32)}`);
    assert.equal(resolved._conflicts, undefined);
  });

  test('doc_ids: the node pulls only the listed documents from pouchdb-server', async () => {
    await ok('PUT', `${peerUrl}/ids-src`, undefined, [201]);
    await ok('POST', `${peerUrl}/ids-src/_bulk_docs`, { docs: Array.from({ length: 8 }, (_, i) => ({ _id: `d${i}` })) }, [201]);
    const result = await ok('POST', `${node.url}/_replicate`, { source: `${peerUrl}/ids-src`, target: 'ids-pulled', create_target: true, doc_ids: ['d2', 'd5'] }, [200]);
    assert.equal(result.history[0].docs_written, 2);
    const all = await ok<{ rows: { id: string }[] }>('GET', `${node.url}/ids-pulled/_all_docs`);
    assert.deepEqual(all.rows.map((r) => r.id), ['d2', 'd5']);
  });
});

describe('PouchDB replicating with the node, filtered', () => {
  const dbName = 'pouch-filtered';
  before(async () => {
    await ok('PUT', `${node.url}/${dbName}`, undefined, [201]);
    const docs = Array.from({ length: 12 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, type: ['a', 'b', 'c'][i % 3], n: i }));
    await ok('POST', `${node.url}/${dbName}/_bulk_docs`, {
      docs: [...docs, { _id: '_design/f', filters: { by_type: 'function(doc, req) { return doc.type === req.query.type; }' } }],
    }, [201]);
  });

  async function ids(db: PouchDatabase): Promise<string[]> {
    return (await db.allDocs()).rows.map((r) => r.id);
  }

  test('pull with a selector: only matching documents (POST _changes?filter=_selector)', async () => {
    const db = local();
    const res = await db.replicate.from(`${node.url}/${dbName}`, { selector: { type: 'a', n: { $gte: 3 } } } as ReplicateOptions);
    assert.equal(res.ok, true);
    assert.equal(res.docs_written, 3);
    assert.deepEqual(await ids(db), ['d03', 'd06', 'd09']);
  });

  test('pull with doc_ids: only the listed documents', async () => {
    const db = local();
    const res = await db.replicate.from(`${node.url}/${dbName}`, { doc_ids: ['d11', 'd04', 'nope'] } as ReplicateOptions);
    assert.equal(res.docs_written, 2);
    assert.deepEqual(await ids(db), ['d04', 'd11']);
  });

  test('pull with a design-doc filter and query_params: the node runs the filter with req.query', async () => {
    const db = local();
    const res = await db.replicate.from(`${node.url}/${dbName}`, { filter: 'f/by_type', query_params: { type: 'c' } } as ReplicateOptions);
    assert.equal(res.docs_written, 4);
    assert.deepEqual(await ids(db), ['d02', 'd05', 'd08', 'd11']);
    // The bodies are the node's.
    const [mine, theirs] = [await db.get('d05'), await ok('GET', `${node.url}/${dbName}/d05`)];
    assert.deepEqual(mine, theirs);
  });

  test('push with a selector and with doc_ids: the node receives only what the filter selects', async () => {
    const db = local();
    await db.bulkDocs(Array.from({ length: 6 }, (_, i) => ({ _id: `p${i}`, keep: i % 2 === 0 })));
    const bySelector = await db.replicate.to(`${node.url}/pushed-selector`, { selector: { keep: true } } as ReplicateOptions);
    assert.equal(bySelector.docs_written, 3);
    const onNode = await ok<{ rows: { id: string }[] }>('GET', `${node.url}/pushed-selector/_all_docs`);
    assert.deepEqual(onNode.rows.map((r) => r.id), ['p0', 'p2', 'p4']);
    const byIds = await db.replicate.to(`${node.url}/pushed-ids`, { doc_ids: ['p1', 'p5'] } as ReplicateOptions);
    assert.equal(byIds.docs_written, 2);
    const onNode2 = await ok<{ rows: { id: string }[] }>('GET', `${node.url}/pushed-ids/_all_docs`);
    assert.deepEqual(onNode2.rows.map((r) => r.id), ['p1', 'p5']);
  });

  test('live pull with a selector: a matching write arrives, a non-matching one does not', async () => {
    const db = local();
    const live = db.replicate.from(`${node.url}/${dbName}`, { live: true, selector: { type: 'live' } } as ReplicateOptions);
    try {
      await ok('PUT', `${node.url}/${dbName}/live-1`, { type: 'live' });
      await waitFor('the matching write', async () => (await ids(db)).includes('live-1'), LIVE_DEADLINE_MS);
      await ok('PUT', `${node.url}/${dbName}/other-1`, { type: 'other' });
      await ok('PUT', `${node.url}/${dbName}/live-2`, { type: 'live' });
      await waitFor('the second matching write', async () => (await ids(db)).includes('live-2'), LIVE_DEADLINE_MS);
      await new Promise((r) => setTimeout(r, FILTERED_OUT_WAIT_MS));
      assert.deepEqual(await ids(db), ['live-1', 'live-2']);
    } finally {
      live.cancel();
    }
  });
});
