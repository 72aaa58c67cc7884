// Continuous replication delay: a `continuous: true` replication A → B between two servers of the
// same kind (pulled by B's server), then single-doc writes on A spaced apart; for each, the time
// from sending the PUT on A until the doc shows on B's `_changes?feed=continuous` (followed all
// along, so no poll interval adds to it). The median in ms; p95 in the note.
// DESIGN.md target: ≤ 50 ms.
//
// Warm-up writes must arrive first (the replication has started and its feed is live), every
// timed write must arrive within `arrivalLimitMs`, and the replication is cancelled afterwards with
// CouchDB's `cancel: true`. A server that gives no `_local_id` to cancel by (pouchdb-server cannot
// cancel) has its source database deleted instead, which ends a PouchDB live replication.

import { performance } from 'node:perf_hooks';
import { isSuccess, snippet } from '../http-client.js';
import { ChangesFollower } from './changes-follower.js';
import { replicationPair } from './replication-pair.js';
import { failed, measured, median, percentile, type Workload } from './workload.js';

/** Timed writes (the issue asks for ~100). */
const writes = 100;
/** Between the starts of two writes (the issue's ~20 ms): a steady trickle, not a burst. */
const spacingMs = 20;
/** Untimed writes first; each must arrive before the next is sent. */
const warmupWrites = 3;
/** A continuous replication that has not delivered a warm-up write by then is not running. */
const warmupLimitMs = 60_000;
/** Every timed write must be on B this long after the last was sent. */
const arrivalLimitMs = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const replicateDelay: Workload = {
  name: 'replicate_delay',
  title: `continuous replication delay, ${writes} writes ${spacingMs} ms apart, median`,
  unit: 'ms',
  better: 'lower',
  target: 50,
  async run(ctx) {
    const pair = await replicationPair(ctx, 'delay');
    let follower: ChangesFollower | undefined;
    const { source, target } = pair;
    const replication = { source: source.url, target: target.url, continuous: true };
    let localId: string | undefined;
    let started = false;
    try {
      const info = await target.client.json('GET', `/${encodeURIComponent(target.db)}`);
      const since = (info.body as { update_seq?: unknown } | null)?.update_seq;
      if (info.status !== 200 || since === undefined) return failed(`GET /${target.db} answered ${info.status}: ${snippet(JSON.stringify(info.body))}`);
      follower = await ChangesFollower.open(target.server.url, target.db, since);

      const res = await target.client.json('POST', '/_replicate', replication);
      const answer = res.body as { ok?: unknown; _local_id?: unknown } | null;
      if (!isSuccess(res.status) || answer?.ok !== true) return failed(`POST /_replicate (continuous) answered ${res.status}: ${snippet(JSON.stringify(res.body))}`);
      started = true;
      if (typeof answer._local_id === 'string') localId = answer._local_id;

      const write = async (id: string, n: number): Promise<string | undefined> => {
        const put = await source.client.request('PUT', `/${encodeURIComponent(source.db)}/${id}`, Buffer.from(`{"type":"bench","n":${n}}`));
        return isSuccess(put.status) ? undefined : `PUT ${id} on the source answered ${put.status}: ${snippet(put.body)}`;
      };

      for (let w = 0; w < warmupWrites; w++) {
        const id = `warm${w}`;
        const problem = await write(id, w);
        if (problem !== undefined) return failed(problem);
        const missing = await follower.waitFor([id], warmupLimitMs);
        if (missing.length > 0) {
          // Tell a replication that did not copy the doc from a target whose feed did not say so.
          const there = await target.client.request('GET', `/${encodeURIComponent(target.db)}/${id}`);
          const where = there.status === 200 ? "GET on the target finds it, but the target's continuous _changes never listed it" : `GET on the target answers ${there.status}`;
          return failed(`warm-up write ${id} not on the target's _changes after ${warmupLimitMs / 1000} s: ${where}${follower.failure ? ` (feed: ${follower.failure})` : ''}`);
        }
      }

      const sentAt = new Map<string, number>();
      const ids: string[] = [];
      const t0 = performance.now();
      for (let i = 0; i < writes; i++) {
        const due = t0 + i * spacingMs;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const id = `x${String(i).padStart(4, '0')}`;
        ids.push(id);
        sentAt.set(id, performance.now());
        const problem = await write(id, i);
        if (problem !== undefined) return failed(problem);
      }
      const missing = await follower.waitFor(ids, arrivalLimitMs);
      if (missing.length > 0) {
        return failed(`${missing.length} of ${writes} writes not on the target ${arrivalLimitMs / 1000} s after the last (first: ${missing[0]})${follower.failure ? `; feed: ${follower.failure}` : ''}`);
      }
      const delays = ids.map((id) => follower!.seenAt(id)! - sentAt.get(id)!);

      const stopped = await stop();
      started = false;
      return measured(
        median(delays),
        `p95 ${percentile(delays, 95).toFixed(1)} ms, max ${Math.max(...delays).toFixed(1)} ms over ${writes} writes; from sending the PUT on the source to the change on the target's continuous _changes; pulled by the target server; ${stopped}`,
      );
    } finally {
      follower?.close();
      if (started) await stop().catch(() => undefined);
      pair.close();
    }

    /** Ends the replication; says how, for the note. */
    async function stop(): Promise<string> {
      if (localId !== undefined) {
        const res = await target.client.json('POST', '/_replicate', { ...replication, cancel: true });
        return isSuccess(res.status) && (res.body as { ok?: unknown } | null)?.ok === true
          ? 'cancelled with cancel: true'
          : `cancel answered ${res.status}: ${snippet(JSON.stringify(res.body))}`;
      }
      const res = await source.client.request('DELETE', `/${encodeURIComponent(source.db)}`);
      return `no _local_id to cancel by, so the source db was deleted to end it (DELETE answered ${res.status})`;
    }
  },
};
