// Document and `_uuids` ids as CouchDB's couch_uuids.erl makes them, by `[uuids] algorithm`:
// - `sequential` (the default): 26 random hex digits, then a 6-digit counter that grows by a random
//   1..254 per id; a new random prefix when the counter passes 0xfff000.
// - `random`: 32 random hex digits.
// - `utc_random`: 14 hex digits of microseconds since 1970, then 18 random hex digits.
// - `utc_id`: the same 14 digits, then `[uuids] utc_id_suffix`.
// The time prefix never goes backwards or repeats within a process, so ids made in one
// microsecond still sort in the order they were made.

import { randomBytes } from 'node:crypto';

export type UuidAlgorithm = 'sequential' | 'random' | 'utc_random' | 'utc_id';

export interface UuidSettings {
  algorithm: UuidAlgorithm;
  utcIdSuffix: string;
}

/** `[uuids]` settings from config values; an unknown algorithm is the default, sequential. */
export function uuidSettings(algorithm: string | undefined, suffix: string | undefined): UuidSettings {
  const a = algorithm === 'random' || algorithm === 'utc_random' || algorithm === 'utc_id' ? algorithm : 'sequential';
  return { algorithm: a, utcIdSuffix: suffix ?? '' };
}

const SEQ_ROLLOVER = 0xfff000;
let seqPrefix = randomBytes(13).toString('hex');
let seqCounter = Math.floor(Math.random() * 0xfff);
let lastMicros = 0;

function sequential(): string {
  seqCounter += 1 + Math.floor(Math.random() * 0xfe);
  if (seqCounter >= SEQ_ROLLOVER) {
    seqPrefix = randomBytes(13).toString('hex');
    seqCounter = Math.floor(Math.random() * 0xfff);
  }
  return seqPrefix + seqCounter.toString(16).padStart(6, '0');
}

/** Microseconds since 1970 as 14 hex digits, strictly increasing within the process. */
function utcPrefix(): string {
  const now = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  lastMicros = now > lastMicros ? now : lastMicros + 1;
  return lastMicros.toString(16).padStart(14, '0');
}

export function newUuidWith(settings: UuidSettings): string {
  switch (settings.algorithm) {
    case 'random':
      return randomBytes(16).toString('hex');
    case 'utc_random':
      return utcPrefix() + randomBytes(9).toString('hex');
    case 'utc_id':
      return utcPrefix() + settings.utcIdSuffix;
    default:
      return sequential();
  }
}
