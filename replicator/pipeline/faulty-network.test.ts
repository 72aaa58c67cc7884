// Replication over a faulty network, in-process and seeded: requests fail
// before reaching the peer, or after it acted (the answer lost). Sessions keep
// crashing and restarting from their checkpoints, as under the scheduler; in
// the end the target must hold exactly the source's revisions, conflicts
// included. Faults are drawn from a seeded generator; with concurrent workers
// and a real checkpoint timer a seed replays closely, not bit for bit (the
// lead's simulation injects the clock too).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerError } from '../errors.js';
import { parseReplicationRequest } from '../protocol/replication-options.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { memoryPouch, PouchEndpoint } from '../test-support/pouch-endpoint.js';
import { Replication } from './replication.js';

/** mulberry32: a tiny seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FLAKY = ['changes', 'revsDiff', 'bulkGet', 'bulkDocs', 'getLocal', 'putLocal', 'getAttachment'] as const;

/** Wraps an endpoint so each flaky call fails with probability `p`, half the time after acting. */
function faulty(inner: Endpoint, random: () => number, p: number): Endpoint {
  const wrapped = Object.create(inner) as Endpoint;
  const slots = wrapped as unknown as Record<string, unknown>;
  for (const method of FLAKY) {
    const original = (inner[method] as (...args: unknown[]) => Promise<unknown>).bind(inner);
    slots[method] = async (...args: unknown[]) => {
      const roll = random();
      const lost = new PeerError({ status: 0, error: 'no_response', reason: `injected ${method} failure`, method: 'X', url: inner.label });
      if (roll < p / 2) throw lost;
      const result = await original(...args);
      if (roll < p) throw lost;
      return result;
    };
  }
  return wrapped;
}

for (const seed of [1, 2, 3]) {
  test(`seed ${seed}: crashing sessions converge to an identical target`, async () => {
    const random = prng(seed);
    const srcDb = memoryPouch(`faulty-src-${seed}`);
    const tgtDb = memoryPouch(`faulty-tgt-${seed}`);
    // Docs, updates, deletes, a conflict and an attachment.
    const docs = Array.from({ length: 120 }, (_, i) => ({ _id: `d${String(i).padStart(3, '0')}`, i }));
    const saved = await srcDb.bulkDocs(docs);
    for (let i = 0; i < 30; i++) await srcDb.put({ ...docs[i], _rev: saved[i].rev, i: -i });
    for (let i = 30; i < 40; i++) await srcDb.remove(docs[i]?._id, saved[i].rev);
    await srcDb.bulkDocs([{ _id: 'c', v: 1, _rev: '2-x', _revisions: { start: 2, ids: ['x', 'r'] } }, { _id: 'c', v: 2, _rev: '2-y', _revisions: { start: 2, ids: ['y', 'r'] } }], { new_edits: false });
    await srcDb.put({ _id: 'att', _attachments: { 'a.bin': { content_type: 'application/octet-stream', data: Buffer.from([1, 2, 3]).toString('base64') } } });

    const options = parseReplicationRequest({ source: 'http://unused/a', target: 'http://unused/b', worker_batch_size: 16, worker_processes: 3, checkpoint_interval: 1 });
    let sessions = 0;
    for (;;) {
      sessions++;
      assert.ok(sessions < 200, 'converges in a bounded number of sessions');
      const replication = new Replication({
        source: faulty(new PouchEndpoint(srcDb, `faulty-src-${seed}`), random, 0.15),
        target: faulty(new PouchEndpoint(tgtDb, `faulty-tgt-${seed}`), random, 0.15),
        serverUuid: 'sim',
        options,
        random,
        skipRevsDiff: seed % 2 === 0,
      });
      try {
        await replication.run();
        break;
      } catch (err) {
        assert.ok(err instanceof PeerError, String(err));
      }
    }
    assert.ok(sessions > 1, 'the faults did strike');
    const all = async (db: typeof srcDb) => {
      const rows = (await db.allDocs({ include_docs: true, conflicts: true })).rows as { doc: Record<string, unknown> }[];
      return rows.map((r) => r.doc);
    };
    const leaves = async (db: typeof srcDb, id: string) =>
      ((await db.get(id, { open_revs: 'all' })) as { ok: { _rev: string } }[]).map((r) => r.ok._rev).sort();
    assert.deepEqual(await all(tgtDb), await all(srcDb));
    assert.deepEqual(await leaves(tgtDb, 'c'), ['2-x', '2-y']);
    assert.deepEqual(await leaves(tgtDb, 'd035'), await leaves(srcDb, 'd035'));
    assert.deepEqual(Buffer.from(await tgtDb.getAttachment('att', 'a.bin')), Buffer.from([1, 2, 3]));
    await Promise.all([srcDb.destroy(), tgtDb.destroy()]);
  });
}
