// Replication of partitioned databases between two nodes, through CouchDB's `_replicate`:
// partitioned → partitioned both ways (the target checks every replicated id, and its per-partition
// counters follow), `create_target` with `create_target_params: {partitioned: true}` making a
// partitioned target, and a non-partitioned source whose ids have no partition being refused by a
// partitioned target (CouchDB fails those `_bulk_docs` batches as a whole).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, type RunningNode } from '../server/node.js';
import { ok } from './helpers/replication.js';

let a: RunningNode;
let b: RunningNode;

before(async () => {
  [a, b] = await Promise.all([startNode({ port: 0, inMemory: true }), startNode({ port: 0, inMemory: true })]);
});

after(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

async function allIds(node: RunningNode, db: string): Promise<string[]> {
  return (await ok<{ rows: { id: string }[] }>('GET', `${node.url}/${db}/_all_docs`)).rows.map((r) => r.id);
}

test('a partitioned database replicates to a new partitioned target and back', async () => {
  await ok('PUT', `${a.url}/src?partitioned=true`, undefined, [201]);
  const docs = [];
  for (let i = 0; i < 30; i++) docs.push({ _id: `p${i % 3}:${i}`, n: i });
  await ok('POST', `${a.url}/src/_bulk_docs`, { docs }, [201]);
  const res = await ok<{ ok: boolean; history: { docs_written: number }[] }>('POST', `${a.url}/_replicate`, {
    source: `${a.url}/src`,
    target: `${b.url}/copy`,
    create_target: true,
    create_target_params: { partitioned: true },
  });
  assert.equal(res.ok, true);
  assert.equal(res.history[0]?.docs_written, 30);
  const info = await ok<{ props: Record<string, unknown> }>('GET', `${b.url}/copy`);
  assert.deepEqual(info.props, { partitioned: true });
  assert.deepEqual(await allIds(b, 'copy'), await allIds(a, 'src'));
  const part = await ok<{ doc_count: number }>('GET', `${b.url}/copy/_partition/p1`);
  assert.equal(part.doc_count, 10);
  const rows = await ok<{ rows: { id: string }[] }>('GET', `${b.url}/copy/_partition/p1/_all_docs`);
  assert.equal(rows.rows.length, 10);

  // Writes on the target come back to the source.
  await ok('PUT', `${b.url}/copy/p1:new`, { n: 100 }, [201]);
  const back = await ok<{ ok: boolean; history: { docs_written: number }[] }>('POST', `${b.url}/_replicate`, { source: `${b.url}/copy`, target: `${a.url}/src` });
  assert.equal(back.history[0]?.docs_written, 1);
  assert.equal((await ok<{ doc_count: number }>('GET', `${a.url}/src/_partition/p1`)).doc_count, 11);
});

test('a partitioned target refuses documents without a partition', async () => {
  await ok('PUT', `${a.url}/plain`, undefined, [201]);
  await ok('POST', `${a.url}/plain/_bulk_docs`, { docs: [{ _id: 'nopart' }, { _id: 'p:1' }] }, [201]);
  await ok('PUT', `${b.url}/strict?partitioned=true`, undefined, [201]);
  const res = await fetch(`${a.url}/_replicate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ source: `${a.url}/plain`, target: `${b.url}/strict` }),
  });
  const body = (await res.json()) as Record<string, unknown>;
  // The batch holding `nopart` is refused as a whole: nothing reaches the target.
  assert.deepEqual(await allIds(b, 'strict'), [], JSON.stringify(body));
});
