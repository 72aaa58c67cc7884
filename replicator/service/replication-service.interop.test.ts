// The node-facing service against a real peer: `POST /_replicate` semantics,
// the `_replicator` scheduler watching a pouchdb-server over HTTP (as it will
// watch a Chaise node through its own URL), restarts, and the report bodies.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplicationService } from './replication-service.js';
import { ReplicationError } from '../errors.js';
import { http, startPouchDbServer, type PouchDbServer } from '../test-support/pouchdb-server.js';

let srv: PouchDbServer;
let counter = 0;
const FAST_RESTARTS = { baseMs: 50, capMs: 500 };

function fresh(): { src: string; tgt: string } {
  counter++;
  return { src: `s${counter}`, tgt: `t${counter}` };
}

async function createDb(name: string): Promise<void> {
  assert.equal((await http('PUT', srv.url + name)).status, 201);
}

async function saveDocs(db: string, docs: Record<string, unknown>[]): Promise<void> {
  assert.equal((await http('POST', `${srv.url}${db}/_bulk_docs`, { docs })).status, 201);
}

function docs(from: number, to: number): Record<string, unknown>[] {
  const out = [];
  for (let i = from; i <= to; i++) out.push({ _id: `d${i}`, i });
  return out;
}

async function docCount(db: string): Promise<number> {
  return (await http<{ doc_count: number }>('GET', srv.url + db)).body.doc_count;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}

/** A `_scheduler/docs` row, or null while the watcher has not seen the document yet. */
async function row(svc: ReplicationService, docId: string): Promise<Record<string, any> | null> {
  try {
    return await svc.schedulerDoc('_replicator', docId);
  } catch (err) {
    if (err instanceof ReplicationError && err.status === 404) return null;
    throw err;
  }
}

function service(): ReplicationService {
  return new ReplicationService({ nodeUrl: srv.url, nodeName: 'chaise@127.0.0.1', restartBackoff: FAST_RESTARTS, heartbeatMs: 1000 });
}

async function rejectsWith(p: Promise<unknown>, status: number, error: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ReplicationError, String(err));
    assert.equal(err.status, status);
    assert.equal(err.error, error);
    return true;
  });
}

before(async () => {
  srv = await startPouchDbServer();
});

after(async () => {
  await srv?.stop();
});

describe('POST /_replicate', () => {
  test('one-shot: 200 with the history; bare names are databases on the node', async () => {
    const svc = service();
    try {
      const { src, tgt } = fresh();
      await createDb(src);
      await saveDocs(src, docs(1, 5));
      const res = await svc.replicate({ source: src, target: tgt, create_target: true });
      assert.equal(res.status, 200);
      assert.equal(res.body['ok'], true);
      assert.equal((res.body['history'] as { docs_written: number }[])[0]?.docs_written, 5);
      assert.equal(await docCount(tgt), 5);
      assert.deepEqual(svc.activeTasks(), []);
      assert.deepEqual((await svc.schedulerJobs())['jobs'], [], 'finished one-shot jobs leave the scheduler');
    } finally {
      await svc.close();
    }
  });

  test('bad requests are 400, missing databases 404 db_not_found', async () => {
    const svc = service();
    try {
      await rejectsWith(svc.replicate({ source: srv.url + 'x' }), 400, 'bad_request');
      await rejectsWith(svc.replicate('nope'), 400, 'bad_request');
      await rejectsWith(svc.replicate({ source: srv.url + 'x', target: srv.url + 'y', doc_ids: ['a'], filter: 'a/b' }), 400, 'bad_request');
      await rejectsWith(svc.replicate({ source: srv.url + 'x', target: srv.url + 'y', query_params: { a: 1 }, filter: 'a/b' }), 400, 'bad_request');
      await rejectsWith(svc.replicate({ source: `${srv.url}missing${counter}`, target: srv.url + 'y' }), 404, 'db_not_found');
      const { src } = fresh();
      await createDb(src);
      await rejectsWith(svc.replicate({ source: srv.url + src, target: srv.url + 'y', filter: 'nodesign/f' }), 404, 'filter_fetch_error');
    } finally {
      await svc.close();
    }
  });

  test('continuous: 202 with _local_id, reported while running, cancelled by id or by the same request', async () => {
    const svc = service();
    try {
      const { src, tgt } = fresh();
      await createDb(src);
      await createDb(tgt);
      await saveDocs(src, docs(1, 3));
      const body = { source: srv.url + src, target: srv.url + tgt, continuous: true };
      const started = await svc.replicate(body, { name: 'joe', roles: [] });
      assert.equal(started.status, 202);
      assert.equal(started.body['ok'], true);
      const id = started.body['_local_id'] as string;
      assert.match(id, /^[0-9a-f]{32}\+continuous$/);
      // Posting the same replication again is idempotent.
      assert.deepEqual((await svc.replicate(body, { name: 'joe', roles: [] })).body, started.body);

      await waitFor(async () => (await docCount(tgt)) === 3);
      await saveDocs(src, docs(4, 6));
      await waitFor(async () => (await docCount(tgt)) === 6);

      const jobs = await svc.schedulerJobs();
      assert.equal(jobs['total_rows'], 1);
      const job = (jobs['jobs'] as Record<string, any>[])[0];
      assert.ok(job);
      assert.equal(job['id'], id);
      assert.equal(job['database'], null);
      assert.equal(job['doc_id'], null);
      assert.equal(job['user'], 'joe');
      assert.equal(job['source'], `${srv.url}${src}/`);
      assert.equal(job['node'], 'chaise@127.0.0.1');
      assert.deepEqual((job['history'] as { type: string }[]).map((e) => e.type), ['started', 'added']);
      assert.equal(job['info']['docs_written'], 6);
      assert.equal((await svc.schedulerJob(id))['id'], id);

      const [task] = svc.activeTasks();
      assert.ok(task);
      assert.equal(task['type'], 'replication');
      assert.equal(task['replication_id'], id);
      assert.equal(task['continuous'], true);
      assert.equal(task['docs_written'], 6);
      assert.equal(task['revisions_checked'], 6);
      assert.equal(task['doc_write_failures'], 0);
      assert.equal(typeof task['started_on'], 'number');

      // Only its owner or an admin may cancel it.
      await rejectsWith(svc.replicate({ replication_id: id, cancel: true }, { name: 'bob', roles: [] }), 401, 'unauthorized');
      const cancelled = await svc.replicate({ ...body, cancel: true }, { name: 'joe', roles: [] });
      assert.deepEqual(cancelled, { status: 200, body: { ok: true, _local_id: id } });
      assert.deepEqual(svc.activeTasks(), []);
      assert.equal((await svc.schedulerJobs())['total_rows'], 0);
      await rejectsWith(svc.replicate({ replication_id: id, cancel: true }), 404, 'not_found');
      await rejectsWith(svc.schedulerJob(id), 404, 'not_found');
    } finally {
      await svc.close();
    }
  });
});

describe('the _replicator database', () => {
  test('a document starts a job; one-shot jobs complete and say so in their document; continuous ones follow; deletion stops', async () => {
    const svc = service();
    try {
      await svc.start();
      const once = fresh();
      const live = fresh();
      for (const db of [once.src, live.src, live.tgt]) await createDb(db);
      await saveDocs(once.src, docs(1, 4));
      await saveDocs(live.src, docs(1, 2));

      assert.equal((await http('PUT', `${srv.url}_replicator/once${counter}`, { source: srv.url + once.src, target: srv.url + once.tgt, create_target: true })).status, 201);
      assert.equal((await http('PUT', `${srv.url}_replicator/live${counter}`, { source: srv.url + live.src, target: srv.url + live.tgt, continuous: true, app_field: 'ignored' })).status, 201);

      await waitFor(async () => (await row(svc, `once${counter}`))?.['state'] === 'completed');
      assert.equal(await docCount(once.tgt), 4);
      await waitFor(async () => (await http<Record<string, any>>('GET', `${srv.url}_replicator/once${counter}`)).body['_replication_state'] === 'completed');
      const recorded = (await http<Record<string, any>>('GET', `${srv.url}_replicator/once${counter}`)).body;
      assert.equal(recorded['_replication_stats']['docs_written'], 4);
      assert.match(recorded['_replication_state_time'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

      await waitFor(async () => (await docCount(live.tgt)) === 2);
      await saveDocs(live.src, docs(3, 5));
      await waitFor(async () => (await docCount(live.tgt)) === 5);
      const liveRow = await svc.schedulerDoc('_replicator', `live${counter}`);
      assert.equal(liveRow['state'], 'running');
      assert.equal(liveRow['database'], '_replicator');
      assert.equal(liveRow['error_count'], 0);
      assert.match(liveRow['id'] as string, /\+continuous$/);
      assert.equal((liveRow['info'] as Record<string, unknown>)['docs_written'], 5);
      const all = await svc.schedulerDocs();
      assert.deepEqual((all['docs'] as { doc_id: string }[]).map((d) => d.doc_id), [`live${counter}`, `once${counter}`]);
      assert.equal((await svc.schedulerDocs('_replicator', { states: 'completed' }))['total_rows'], 1);
      const task = svc.activeTasks().find((t) => t['doc_id'] === `live${counter}`);
      assert.ok(task);
      assert.equal(task['database'], '_replicator');

      // An edit outside the replication's fields is a no-op: same session keeps running.
      const liveDoc = (await http<Record<string, unknown>>('GET', `${srv.url}_replicator/live${counter}`)).body;
      const sessionBefore = svc.activeTasks().find((t) => t['doc_id'] === `live${counter}`)?.['started_on'];
      await http('PUT', `${srv.url}_replicator/live${counter}`, { ...liveDoc, app_field: 'changed' });
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await row(svc, `live${counter}`))?.['state'], 'running');
      assert.equal(svc.activeTasks().find((t) => t['doc_id'] === `live${counter}`)?.['started_on'], sessionBefore);

      // Deleting the document stops the job.
      const rev = (await http<{ _rev: string }>('GET', `${srv.url}_replicator/live${counter}`)).body._rev;
      await http('DELETE', `${srv.url}_replicator/live${counter}?rev=${rev}`);
      await waitFor(async () => svc.activeTasks().every((t) => t['doc_id'] !== `live${counter}`));
      await rejectsWith(svc.schedulerDoc('_replicator', `live${counter}`), 404, 'not_found');
      await saveDocs(live.src, docs(6, 6));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await docCount(live.tgt), 5, 'nothing replicates after the document is gone');
    } finally {
      await svc.close();
    }
  });

  test('after a restart, jobs resume from their checkpoints and completed ones stay completed', async () => {
    const live = fresh();
    const once = fresh();
    for (const db of [live.src, live.tgt, once.src]) await createDb(db);
    await saveDocs(live.src, docs(1, 10));
    await saveDocs(once.src, docs(1, 2));
    const first = service();
    await first.start();
    await http('PUT', `${srv.url}_replicator/r${counter}`, { source: srv.url + live.src, target: srv.url + live.tgt, continuous: true });
    await http('PUT', `${srv.url}_replicator/o${counter}`, { source: srv.url + once.src, target: srv.url + once.tgt, create_target: true });
    await waitFor(async () => (await docCount(live.tgt)) === 10);
    await waitFor(async () => (await http<Record<string, unknown>>('GET', `${srv.url}_replicator/o${counter}`)).body['_replication_state'] === 'completed');
    await first.close(); // each running session writes a last checkpoint

    await saveDocs(live.src, docs(11, 13));
    await saveDocs(once.src, docs(3, 3));
    const second = service();
    try {
      await second.start();
      await waitFor(async () => (await docCount(live.tgt)) === 13);
      await waitFor(async () => (await row(second, `r${counter}`))?.['info']?.['docs_written'] === 3);
      const info = (await second.schedulerDoc('_replicator', `r${counter}`))['info'] as Record<string, number>;
      assert.equal(info['docs_read'], 3, 'resumed from the checkpoint: only the 3 new docs were read');
      assert.equal(info['revisions_checked'], 3);
      const done = await second.schedulerDoc('_replicator', `o${counter}`);
      assert.equal(done['state'], 'completed');
      assert.equal((done['info'] as Record<string, number>)['docs_written'], 2, 'the recorded stats of the earlier run');
      assert.equal(await docCount(once.tgt), 2, 'a completed one-shot job is not run again');
    } finally {
      await second.close();
    }
  });

  test('invalid documents and duplicates fail; unreachable peers crash and are retried with backoff', async () => {
    const svc = service();
    try {
      await svc.start();
      const { src, tgt } = fresh();
      await createDb(src);
      await createDb(tgt);
      await http('PUT', `${srv.url}_replicator/bad${counter}`, { source: srv.url + src });
      await waitFor(async () => (await row(svc, `bad${counter}`))?.['state'] === 'failed');
      const bad = await svc.schedulerDoc('_replicator', `bad${counter}`);
      assert.deepEqual(bad['info'], { error: 'Missing `target` field' });
      assert.equal(bad['id'], null);
      await waitFor(async () => (await http<Record<string, unknown>>('GET', `${srv.url}_replicator/bad${counter}`)).body['_replication_state'] === 'failed');

      const spec = { source: srv.url + src, target: srv.url + tgt, continuous: true };
      await http('PUT', `${srv.url}_replicator/first${counter}`, spec);
      await waitFor(async () => (await row(svc, `first${counter}`))?.['state'] === 'running');
      await http('PUT', `${srv.url}_replicator/second${counter}`, spec);
      await waitFor(async () => (await row(svc, `second${counter}`))?.['state'] === 'failed');
      const dup = (await svc.schedulerDoc('_replicator', `second${counter}`))['info'] as { error: string };
      assert.match(dup.error, new RegExp(`already started, triggered by document \`first${counter}\``));

      // Nothing listens on port 9 (discard): every start fails, so the job crashes and backs off.
      await http('PUT', `${srv.url}_replicator/down${counter}`, { source: 'http://127.0.0.1:9/nowhere', target: srv.url + tgt, retries_per_request: 0 });
      await waitFor(async () => {
        const down = await row(svc, `down${counter}`);
        return down !== null && (down['state'] === 'crashing' || down['state'] === 'pending') && (down['error_count'] as number) >= 2;
      });
      const down = await svc.schedulerDoc('_replicator', `down${counter}`);
      assert.equal(typeof (down['info'] as { error?: string } | null)?.error === 'string' || down['state'] === 'pending', true);
    } finally {
      await svc.close();
    }
  });
});
