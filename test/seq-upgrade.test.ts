// Upgrading a data dir written when Chaise handed out bare integer sequences (before they became
// CouchDB 3's opaque strings, `"N-<opaque>"`). Replication checkpoints already stored by then hold
// integers: PouchDB's (`_local/<id>` on both sides, `last_seq`) and the replicator's (`_local/<base
// id>` on source and target, `source_last_seq` and the history's `recorded_seq`). After the
// upgrade a PouchDB client and a continuous `_replicator` job must resume from those integers, not
// start over; an integer the old version could not have issued is refused, as CouchDB refuses it.
//
// The old data dir is made the way an old version left it: a node writes the data and the
// checkpoints, then, offline, every sequence in the checkpoints becomes its bare integer and the
// data dir loses the marker that says its sequences are strings (the only thing that differs on
// disk between the two versions).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startChildNode, type ChildNode } from './helpers/child-node.js';
import { memoryPouch, type PouchDoc } from './helpers/pouchdb.js';
import { json, ok, waitFor } from './helpers/replication.js';
import { Environment } from '../server/storage/environment.js';
import type { LocalDoc } from '../server/storage/records.js';

/** Documents written before the upgrade, and after it. */
const DOCS_BEFORE = 10;
const DOCS_AFTER = 5;
/** Short checkpoints so the job records one soon (CouchDB's default is 30 s). */
const CHECKPOINT_INTERVAL_MS = 200;
/** A continuous job catches up within this (it polls nothing: it follows the feed). */
const CATCH_UP_DEADLINE_MS = 30_000;
/** Members of replication logs that hold a source sequence. */
const SEQ_MEMBERS = new Set(['last_seq', 'source_last_seq', 'start_last_seq', 'end_last_seq', 'recorded_seq']);

let node: ChildNode | undefined;

before(async () => {
  node = await startChildNode();
});
after(async () => {
  await node?.stop();
});

/** Every sequence member of a replication log, as the bare integer an old version stored. */
function integerSeqs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(integerSeqs);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SEQ_MEMBERS.has(k) && typeof v === 'string' && /^\d+-/.test(v) ? Number(v.slice(0, v.indexOf('-'))) : integerSeqs(v);
  }
  return out;
}

/**
 * Offline, on the stopped node's data dir: the `_local` docs of `dbs` get integer sequences, and
 * the dir forgets it was written with string sequences. Returns the `_local` ids rewritten per db.
 */
async function makeOld(dir: string, dbs: string[]): Promise<Map<string, string[]>> {
  const env = Environment.open({ dir });
  const rewritten = new Map<string, string[]>();
  try {
    await env.root.transaction(() => {
      for (const name of dbs) {
        const record = env.stores.dbs.get(name);
        assert.ok(record, name);
        const ids: string[] = [];
        for (const { key, value } of env.stores.local.getRange({ start: [record.id], end: [record.id + 1] })) {
          const doc = value as LocalDoc;
          env.stores.local.put(key, { rev: doc.rev, json: JSON.stringify(integerSeqs(JSON.parse(doc.json))) } satisfies LocalDoc);
          ids.push(key[1] as string);
        }
        rewritten.set(name, ids);
        env.stores.meta.remove([record.id, 'legacy_seq_max']);
      }
      env.stores.meta.remove(['_node', 'seq_format']);
    });
  } finally {
    await env.close();
  }
  return rewritten;
}

const docs = (from: number, n: number) => Array.from({ length: n }, (_, k) => ({ _id: `d${String(from + k).padStart(3, '0')}`, n: from + k }));

test('a PouchDB client and a _replicator job that checkpointed integer seqs resume after the upgrade', async (t) => {
  const n = node as ChildNode;
  const src = `${n.url}/legacy`;
  await ok('PUT', src, undefined, [201]);
  await ok('POST', `${src}/_bulk_docs`, { docs: docs(0, DOCS_BEFORE) }, [201]);

  // A continuous job on the node, and a PouchDB client pulling once; both checkpoint.
  await ok('PUT', `${n.url}/_replicator/upgrade`, { source: src, target: `${n.url}/legacy-copy`, create_target: true, continuous: true, checkpoint_interval: CHECKPOINT_INTERVAL_MS });
  const baseId = await waitFor(
    'the job copies everything and checkpoints it',
    async () => {
      const row = await json('GET', `${n.url}/_scheduler/docs/_replicator/upgrade`);
      if (row.status !== 200 || typeof row.body.id !== 'string') return undefined;
      const id = String(row.body.id).split('+')[0] as string;
      const log = await json('GET', `${n.url}/legacy-copy/_local/${id}`);
      return log.status === 200 && String(log.body.source_last_seq).startsWith(`${DOCS_BEFORE}-`) ? id : undefined;
    },
    CATCH_UP_DEADLINE_MS,
  );
  const pouch = memoryPouch('upgrade');
  const first = await pouch.replicate.from(src);
  assert.equal(first.docs_read, DOCS_BEFORE);

  // The old data dir: integer checkpoints (PouchDB's own side too), no string-seq marker.
  await n.kill('SIGTERM');
  const rewritten = await makeOld(n.dir, ['legacy', 'legacy-copy']);
  const pouchIds = (rewritten.get('legacy') ?? []).filter((id) => id !== `_local/${baseId}`);
  assert.equal(pouchIds.length, 1, `PouchDB's checkpoint is on the source: ${JSON.stringify(rewritten.get('legacy'))}`);
  const pouchLog = await pouch.get(pouchIds[0] as string);
  assert.equal(typeof pouchLog.last_seq, 'string', 'PouchDB checkpointed a string seq');
  await pouch.put(integerSeqs(pouchLog) as PouchDoc);
  assert.equal((await pouch.get(pouchIds[0] as string)).last_seq, DOCS_BEFORE);

  await n.restart();
  const targetLog = await ok('GET', `${n.url}/legacy-copy/_local/${baseId}`);
  assert.equal(targetLog.source_last_seq, DOCS_BEFORE, 'the job resumes from an integer checkpoint');
  assert.equal((await ok('GET', `${src}/_local/${baseId}`)).source_last_seq, DOCS_BEFORE);

  // Integers the old version issued still work as `since`; later ones never existed.
  const old = await ok('GET', `${src}/_changes?since=${DOCS_BEFORE - 1}`);
  assert.equal(old.results.length, 1);
  assert.match(old.last_seq, new RegExp(`^${DOCS_BEFORE}-`));
  const beyond = await json('GET', `${src}/_changes?since=${DOCS_BEFORE + 1}`);
  assert.deepEqual([beyond.status, beyond.body], [400, { error: 'bad_request', reason: "Malformed sequence supplied in 'since' parameter." }]);

  await ok('POST', `${src}/_bulk_docs`, { docs: docs(DOCS_BEFORE, DOCS_AFTER) }, [201]);

  // The job: the new docs arrive, and its new session started at the old integer checkpoint.
  const resumed = await waitFor(
    'the job resumes and copies the new docs',
    async () => {
      const log = await json('GET', `${n.url}/legacy-copy/_local/${baseId}`);
      const done = String(log.body.source_last_seq).startsWith(`${DOCS_BEFORE + DOCS_AFTER}-`);
      return log.status === 200 && done ? log.body : undefined;
    },
    CATCH_UP_DEADLINE_MS,
  );
  assert.equal((await ok('GET', `${n.url}/legacy-copy`)).doc_count, DOCS_BEFORE + DOCS_AFTER);
  const session = resumed.history[0];
  assert.equal(session.start_last_seq, DOCS_BEFORE, `the new session started at the old checkpoint: ${JSON.stringify(session)}`);
  assert.equal(session.docs_read, DOCS_AFTER, 'it read only the new docs');

  // PouchDB: reads only the new docs, and now checkpoints a string.
  const second = await pouch.replicate.from(src);
  assert.equal(second.docs_read, DOCS_AFTER, 'PouchDB resumed from its integer checkpoint');
  assert.equal((await pouch.info()).doc_count, DOCS_BEFORE + DOCS_AFTER);
  assert.match(String((await pouch.get(pouchIds[0] as string)).last_seq), new RegExp(`^${DOCS_BEFORE + DOCS_AFTER}-`));
  t.diagnostic(`job session: ${JSON.stringify(session)}`);

  // A database created after the upgrade never issued integers: CouchDB 3's 400 for since=1.
  await ok('PUT', `${n.url}/fresh`, undefined, [201]);
  await ok('PUT', `${n.url}/fresh/a`, { a: 1 }, [201]);
  assert.equal((await json('GET', `${n.url}/fresh/_changes?since=1`)).status, 400);
  await pouch.destroy();
});
