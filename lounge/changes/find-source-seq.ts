// Where a `_changes` position on one replica continues on another, from the replicator's
// checkpoints — the lounge's `mem3_rep:find_source_seq`.
//
// A token says the client read replica G (gone: down, or no longer holding the range) up to
// G's sequence S. Another replica L of the range replicates to G (anti-entropy, a move's
// copies), and each checkpoint of L → G records in its history entry: L's `recorded_seq`
// (everything of L up to it is on G) and G's `target_seq` read after those writes (and G's
// instance id). An entry with `target_seq ≤ S` on the same instance of G therefore says:
// the client has seen every change of L up to `recorded_seq` (through G), so L can be read
// from there. The newest such entry is the closest; history is newest first. No entry, or a
// token from another instance of G's shard, means no translation (the caller reads L from 0).
//
// Pure: no I/O. Sequences are compared by their numeric part (`N` or `N-opaque`).

import { seqNumber } from './since-token.js';

export interface CheckpointLog {
  history?: unknown;
}

/**
 * L's sequence to resume from, given L's checkpoint log of L → G and the token's position
 * on G (`seq`, `uuid` of G's shard, '' when unknown); undefined when nothing safe is known.
 */
export function findSourceSeq(log: CheckpointLog | null | undefined, seq: unknown, uuid: string): unknown {
  const history = Array.isArray(log?.history) ? (log.history as unknown[]) : [];
  const at = seqNumber(seq);
  for (const entry of history) {
    if (typeof entry !== 'object' || entry === null) continue;
    const e = entry as { target_seq?: unknown; target_uuid?: unknown; recorded_seq?: unknown };
    if (e.target_seq === undefined || e.recorded_seq === undefined) continue;
    // Another instance of G's shard (deleted and re-created), or ids missing so instances cannot be told apart.
    if (uuid === '' || e.target_uuid !== uuid) continue;
    if (seqNumber(e.target_seq) <= at) return e.recorded_seq;
  }
  return undefined;
}
