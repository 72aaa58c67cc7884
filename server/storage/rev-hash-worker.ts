// The worker side of RevHasher. Splits docs as parseDoc does (hashFields) and hashes with the same
// plainRevHash, so a hash made here equals one made in the transaction.

import { parentPort } from 'node:worker_threads';
import { hashFields } from '../docs/parse-doc.js';
import { Claim, bulkLayout, plainRevHash, type HashJob, type HashReply, type WorkerRequest } from './rev-hasher.js';

function hashOf(job: HashJob): string {
  return plainRevHash(job.parentRev, job.deleted, JSON.parse(job.json) as unknown);
}

/** Hashes a `_bulk_docs` body's docs from the last one back, until it meets the main thread's claims. */
function hashBulk(raw: Uint8Array, shared: SharedArrayBuffer): void {
  const { header, claims, digests, capacity } = bulkLayout(shared);
  let docs: unknown[];
  try {
    const body = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8')) as { docs?: unknown; new_edits?: unknown } | null;
    // Replicated writes (`new_edits: false`) keep their revs; nothing to hash.
    if (typeof body !== 'object' || body === null || !Array.isArray(body.docs) || body.new_edits === false || body.docs.length > capacity) {
      Atomics.store(header, 0, -1);
      return;
    }
    docs = body.docs as unknown[];
  } catch {
    Atomics.store(header, 0, -1);
    return;
  }
  Atomics.store(header, 0, docs.length);
  for (let i = docs.length - 1; i >= 0; i--) {
    if (Atomics.compareExchange(claims, i, Claim.Free, Claim.Worker) !== Claim.Free) return;
    let claim: number = Claim.None;
    try {
      const f = hashFields(docs[i]);
      const hash = f && plainRevHash(f.rev, f.deleted, f.body);
      if (hash !== undefined) {
        digests.set(Buffer.from(hash, 'hex'), 16 * i);
        claim = Claim.Hashed;
      }
    } catch {
      // Not a valid doc: the main thread's parse refuses the request anyway.
    }
    Atomics.store(claims, i, claim);
    Atomics.notify(claims, i);
  }
}

parentPort?.on('message', (req: WorkerRequest) => {
  if (req.kind === 'bulk') {
    hashBulk(req.raw, req.shared);
    return;
  }
  let reply: HashReply;
  try {
    reply = { id: req.id, hashes: req.jobs.map(hashOf) };
  } catch (e) {
    reply = { id: req.id, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort?.postMessage(reply);
});
