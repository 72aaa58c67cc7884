// Ranges of the 2^32 ring: parsing, printing, generating and checking that a set of
// ranges tiles the ring.
//
// A range is written as CouchDB writes it, `00000000-1fffffff`: two inclusive bounds in
// eight lowercase hex digits. Ranges are explicit in the config (never derived from an
// index), which is what allows one range to be moved or split later without touching the
// others. A generated layout uses CouchDB's `mem3_util:make_key_ranges`: `inc = floor(2^32/q)`,
// range i is `[i*inc, i*inc+inc-1]`, and the last one ends at `ffffffff`.
//
// Pure: no I/O.

import { hex8 } from './crc32.js';

/** The ring is [0, RING_TOP): every 32-bit hash value has a place. */
export const RING_TOP = 2 ** 32;

/** Bounds are inclusive on both ends, as in CouchDB. */
export interface Range {
  readonly begin: number;
  readonly end: number;
  /** The canonical text, `bbbbbbbb-eeeeeeee`, used in shard names, tokens and introspection. */
  readonly name: string;
}

const RANGE_TEXT = /^([0-9a-f]{8})-([0-9a-f]{8})$/;

/** Parses `00000000-1fffffff`; returns undefined for anything else (callers word the error). */
export function parseRange(text: string): Range | undefined {
  const m = RANGE_TEXT.exec(text);
  if (!m) return undefined;
  const begin = parseInt(m[1] as string, 16);
  const end = parseInt(m[2] as string, 16);
  if (begin > end) return undefined;
  return { begin, end, name: text };
}

export function makeRange(begin: number, end: number): Range {
  return { begin, end, name: `${hex8(begin)}-${hex8(end)}` };
}

/** The q equal ranges CouchDB generates for a database with q shards. */
export function generateRanges(q: number): Range[] {
  if (!Number.isInteger(q) || q < 1 || q > RING_TOP) throw new RangeError(`q must be an integer from 1 to 2^32, not ${q}`);
  const inc = Math.floor(RING_TOP / q);
  const out: Range[] = [];
  for (let i = 0; i < q; i++) out.push(makeRange(i * inc, i === q - 1 ? RING_TOP - 1 : i * inc + inc - 1));
  return out;
}

/**
 * Why a list of ranges does not tile the ring exactly once (sorted by begin), or undefined
 * if it does. The message names the first gap or overlap, so an operator can fix the file.
 */
export function tilingProblem(ranges: readonly Range[]): string | undefined {
  if (ranges.length === 0) return 'no ranges: the ring 00000000-ffffffff must be covered';
  const sorted = [...ranges].sort((a, b) => a.begin - b.begin);
  let expected = 0;
  for (const r of sorted) {
    if (r.begin > expected) return `ranges leave a gap: ${hex8(expected)}-${hex8(r.begin - 1)} is not covered`;
    if (r.begin < expected) return `ranges overlap: ${r.name} starts inside the range before it`;
    expected = r.end + 1;
  }
  if (expected !== RING_TOP) return `ranges leave a gap: ${hex8(expected)}-ffffffff is not covered`;
  return undefined;
}

/** Index of the range holding `hash` in ranges sorted by begin (binary search). */
export function findRangeIndex(sorted: readonly Range[], hash: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if ((sorted[mid] as Range).begin <= hash) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
