// The worker side of RevHasher: rev hashes for edits sent as their JSON text. Runs the same
// newRevHash as the main thread, so a hash made here equals one made in the transaction.

import { parentPort } from 'node:worker_threads';
import { newRevHash } from '../revtree/index.js';
import type { HashJob, HashReply, HashRequest } from './rev-hasher.js';

function hashOf(job: HashJob): string {
  return newRevHash({ parentRev: job.parentRev, deleted: job.deleted, body: JSON.parse(job.json) as unknown, attachmentDigests: [] });
}

parentPort?.on('message', (req: HashRequest) => {
  let reply: HashReply;
  try {
    reply = { id: req.id, hashes: req.jobs.map(hashOf) };
  } catch (e) {
    reply = { id: req.id, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort?.postMessage(reply);
});
