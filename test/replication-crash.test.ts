// The crash case: a `_replicator` job on the source node pushes 20,000 documents to a target node
// in another process; the target is SIGKILLed mid-replication and restarted on the same directory.
// What CouchDB promises (replication/protocol.rst, "Record the checkpoint"; replicator.rst,
// `crashing` and restart): the job crashes, is restarted by the scheduler, and the new session
// resumes from the last checkpoint both sides recorded instead of starting over, and in the end
// the target holds every document. Checkpoints are made every `checkpoint_interval` ms, so the
// job sets it to 500 ms (CouchDB's default is 30 s) to checkpoint during the test.
//
// The proof that it resumed is read from the target's replication log (`_local/<base id>`): the
// session after the restart has `start_last_seq` > 0, at least the checkpoint the source's
// `_active_tasks` reported before the kill, and it checked only the changes after that sequence.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startChildNode, type ChildNode } from './helpers/child-node.js';
import { json, ok, seeded, waitFor } from './helpers/replication.js';

/** The N of a sequence string `N-<opaque>` (0 for anything else). */
const seqNumber = (seq: unknown): number => (typeof seq === 'string' && /^\d+-/.test(seq) ? Number(seq.slice(0, seq.indexOf('-'))) : 0);

/** The figure: enough documents that the kill lands mid-replication. */
const DOCS = 20_000;
/** The load: `_bulk_docs` in 1,000-document batches. */
const LOAD_BATCH = 1_000;
/** The kill waits until at least this many documents are on the target (and a checkpoint exists). */
const KILL_AFTER_DOCS = 3_000;
/** Short checkpoints so that several happen before the kill (CouchDB's default is 30 s). */
const CHECKPOINT_INTERVAL_MS = 500;
/**
 * Fewer, smaller batches than the defaults (4 × 1,000) slow the copy down to a few thousand docs/s,
 * so the window between the first checkpoint and the end is seconds wide, not a fraction of one.
 */
const WORKER_PROCESSES = 2;
const WORKER_BATCH_SIZE = 250;
/** One retry, so that a dead target fails the session quickly and the scheduler takes over. */
const RETRIES_PER_REQUEST = 1;
/** Polls for the partway point; the copy takes several seconds at these settings. */
const PARTWAY_DEADLINE_MS = 30_000;
/** The session must fail and the job become `crashing` soon after the target dies. */
const CRASHING_DEADLINE_MS = 15_000;
/** A crashed job restarts after 2.5–5 s (the scheduler's first backoff), then finishes. */
const COMPLETED_DEADLINE_MS = 45_000;
/** Documents compared body for body between source and target at the end. */
const SPOT_CHECKS = 25;

let source: ChildNode | undefined;
let target: ChildNode | undefined;

before(async () => {
  [source, target] = await Promise.all([startChildNode(), startChildNode()]);
});

after(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
});

function docId(i: number): string {
  return `doc-${String(i).padStart(5, '0')}`;
}

test(`SIGKILL of the target mid-replication: the job resumes from its checkpoint and ${DOCS} docs arrive`, async (t) => {
  const src = source as ChildNode;
  const tgt = target as ChildNode;
  const seed = Number(process.env.CHAISE_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`CHAISE_SEED=${seed}`);
  const random = seeded(seed);

  await ok('PUT', `${src.url}/crash-src`, undefined, [201]);
  for (let from = 0; from < DOCS; from += LOAD_BATCH) {
    const docs = Array.from({ length: LOAD_BATCH }, (_, k) => ({ _id: docId(from + k), n: from + k, text: `document ${from + k} ${'x'.repeat(100)}` }));
    const rows = await ok<{ error?: string }[]>('POST', `${src.url}/crash-src/_bulk_docs`, { docs }, [201]);
    assert.ok(rows.every((r) => r.error === undefined), 'every document of the load is written');
  }
  assert.equal((await ok('GET', `${src.url}/crash-src`)).doc_count, DOCS);

  await ok('PUT', `${src.url}/_replicator/crash`, {
    source: `${src.url}/crash-src`,
    target: `${tgt.url}/crash-tgt`,
    create_target: true,
    checkpoint_interval: CHECKPOINT_INTERVAL_MS,
    worker_processes: WORKER_PROCESSES,
    worker_batch_size: WORKER_BATCH_SIZE,
    retries_per_request: RETRIES_PER_REQUEST,
  });

  // Partway: a checkpoint is recorded and at least KILL_AFTER_DOCS docs are on the target.
  const partway = await waitFor(
    'a checkpoint and a partial copy',
    async () => {
      const tasks = await ok<Record<string, any>[]>('GET', `${src.url}/_active_tasks`);
      const task = tasks.find((x) => x.doc_id === 'crash');
      if (!task || seqNumber(task.checkpointed_source_seq) <= 0) return undefined;
      const info = await json('GET', `${tgt.url}/crash-tgt`);
      if (info.status !== 200) return undefined;
      assert.ok(info.body.doc_count < DOCS, `the replication finished (${info.body.doc_count} docs) before the kill could land; slow it down`);
      return info.body.doc_count >= KILL_AFTER_DOCS ? { checkpointed: task.checkpointed_source_seq as string, docCount: info.body.doc_count as number } : undefined;
    },
    PARTWAY_DEADLINE_MS,
  );
  const killed = await tgt.kill('SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');
  t.diagnostic(`killed the target at ${partway.docCount} docs, checkpoint ${partway.checkpointed}`);

  const crashing = await waitFor(
    'the job is crashing',
    async () => {
      const row = await json('GET', `${src.url}/_scheduler/docs/_replicator/crash`);
      return row.status === 200 && row.body.state === 'crashing' ? row.body : undefined;
    },
    CRASHING_DEADLINE_MS,
  );
  assert.equal(typeof crashing.info.error, 'string');
  assert.ok(crashing.error_count >= 1);

  await tgt.restart();
  // Everything the checkpoint claims survived the kill: the changes up to it are the first
  // documents of the load (they were written in order), and they are all on the target.
  const claimed = DOCS - (await ok<{ pending: number }>('GET', `${src.url}/crash-src/_changes?since=${encodeURIComponent(partway.checkpointed)}&limit=0`)).pending;
  const survived = (await ok('GET', `${tgt.url}/crash-tgt`)).doc_count as number;
  assert.ok(claimed > 0 && survived >= claimed, `the target kept ${survived} docs; the checkpoint claims ${claimed}`);
  assert.equal((await json('GET', `${tgt.url}/crash-tgt/${docId(claimed - 1)}`)).status, 200);

  const done = await waitFor(
    'the job completes',
    async () => {
      const row = await json('GET', `${src.url}/_scheduler/docs/_replicator/crash`);
      return row.status === 200 && row.body.state === 'completed' ? row.body : undefined;
    },
    COMPLETED_DEADLINE_MS,
  );

  // Every document is on the target, and sampled bodies are the source's.
  assert.equal((await ok('GET', `${tgt.url}/crash-tgt`)).doc_count, DOCS);
  for (let k = 0; k < SPOT_CHECKS; k++) {
    const id = docId(k === 0 ? DOCS - 1 : Math.floor(random() * DOCS));
    const [x, y] = await Promise.all([ok('GET', `${src.url}/crash-src/${id}`), ok('GET', `${tgt.url}/crash-tgt/${id}`)]);
    assert.deepEqual(y, x, id);
  }

  // The resumed session's log entry, on the target and on the source.
  const baseId = String(done.id).split('+')[0];
  const [onTarget, onSource] = await Promise.all([ok('GET', `${tgt.url}/crash-tgt/_local/${baseId}`), ok('GET', `${src.url}/crash-src/_local/${baseId}`)]);
  assert.equal(onTarget.session_id, onSource.session_id, 'both sides recorded the last session');
  const last = onTarget.history[0];
  assert.equal(last.session_id, onTarget.session_id);
  assert.ok(onTarget.history.length >= 2, 'the log holds the crashed session and the resumed one');
  assert.notEqual(onTarget.history[1].session_id, last.session_id);
  assert.ok(typeof last.start_last_seq === 'string' && seqNumber(last.start_last_seq) > 0, `the resumed session started at ${last.start_last_seq}, not 0`);
  assert.ok(seqNumber(last.start_last_seq) >= seqNumber(partway.checkpointed), `it started from the checkpoint seen before the kill (${last.start_last_seq} < ${partway.checkpointed})`);
  // It looked only at what came after its start: exactly the source's changes after that sequence.
  const after = await ok<{ pending: number }>('GET', `${src.url}/crash-src/_changes?since=${encodeURIComponent(last.start_last_seq)}&limit=0`);
  assert.equal(last.missing_checked, after.pending);
  assert.ok(last.docs_read <= after.pending && last.docs_read < DOCS, `the resumed session read ${last.docs_read} docs`);
  assert.equal(last.doc_write_failures, 0);
  t.diagnostic(`resumed from seq ${last.start_last_seq}: checked ${last.missing_checked}, read ${last.docs_read}, wrote ${last.docs_written}`);
});
