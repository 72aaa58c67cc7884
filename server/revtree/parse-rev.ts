// Revision ids on the wire are "N-hash". Everything that reads a rev from a client goes through
// here, so there is one rule for what a rev is: N a positive decimal integer written without a
// sign or leading zeros, then a dash, then a non-empty opaque hash (CouchDB splits at the first
// dash and keeps the rest as is, so a hash may itself contain dashes).

import type { Rev } from './types.js';

/** Longest generation we accept, in decimal digits: keeps N a safe integer (2^53 has 16 digits). */
const generationDigitsMax = 15;

/** CouchDB's answer to a malformed rev anywhere: 400 bad_request "Invalid rev format". */
export class InvalidRevError extends Error {
  readonly status = 400;
  readonly error = 'bad_request';
  readonly reason = 'Invalid rev format';
  constructor(readonly rev: unknown) {
    super(`Invalid rev format: ${String(rev)}`);
    this.name = 'InvalidRevError';
  }
}

/** Parses "N-hash"; null when it is not a valid rev. */
export function parseRev(rev: string): Rev | null {
  if (typeof rev !== 'string') return null;
  const dash = rev.indexOf('-');
  if (dash < 1 || dash === rev.length - 1 || dash > generationDigitsMax) return null;
  // First digit 1-9, the rest 0-9: no sign, no leading zero, no zero generation.
  const first = rev.charCodeAt(0);
  if (first < 0x31 || first > 0x39) return null;
  for (let i = 1; i < dash; i++) {
    const c = rev.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
  }
  return { pos: Number(rev.slice(0, dash)), hash: rev.slice(dash + 1) };
}

/** Like parseRev, but throws CouchDB's 400 for anything that is not a rev (including non-strings). */
export function requireRev(rev: unknown): Rev {
  const parsed = typeof rev === 'string' ? parseRev(rev) : null;
  if (parsed === null) throw new InvalidRevError(rev);
  return parsed;
}

export function formatRev(pos: number, hash: string): string {
  return `${pos}-${hash}`;
}
