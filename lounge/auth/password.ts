// Checking a password against what the lounge knows: a config admin (plain text, or
// CouchDB's `-pbkdf2-<derived key>,<salt>,<iterations>` form) or a `_users` document
// (`password_scheme: "pbkdf2"`, `derived_key`, `salt`, `iterations`, `pbkdf2_prf`).
//
// The same credentials that work on a node work on the lounge. Comparisons are
// constant-time. Pure apart from the CPU cost of pbkdf2 (callers cache verified results).

import { pbkdf2Sync, timingSafeEqual } from 'node:crypto';

/** CouchDB refuses user docs asking for more than this; so do we (pbkdf2 cost is per login). */
const ITERATIONS_MAX = 10_000_000;

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function pbkdf2Hex(password: string, salt: string, iterations: number, prf: string, keyBytes: number): string {
  return pbkdf2Sync(password, salt, iterations, keyBytes, prf === 'sha' ? 'sha1' : prf).toString('hex');
}

/** Checks a password against a config admin entry. */
export function verifyAdminPassword(password: string, stored: string): boolean {
  const m = /^-pbkdf2(?::(sha|sha256|sha512))?-([0-9a-f]+),([^,]+),(\d+)$/.exec(stored);
  if (!m) return same(password, stored);
  const iterations = Number(m[4]);
  if (iterations < 1 || iterations > ITERATIONS_MAX) return false;
  const key = m[2] as string;
  return same(pbkdf2Hex(password, m[3] as string, iterations, m[1] ?? 'sha', key.length / 2), key);
}

/** Checks a password against a `_users` document; false for anything malformed. */
export function verifyUserDoc(password: string, doc: Record<string, unknown>): boolean {
  if (doc.password_scheme !== 'pbkdf2') return false;
  const { derived_key: key, salt, iterations } = doc;
  if (typeof key !== 'string' || typeof salt !== 'string' || typeof iterations !== 'number') return false;
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > ITERATIONS_MAX) return false;
  const prf = typeof doc.pbkdf2_prf === 'string' ? doc.pbkdf2_prf : 'sha';
  if (!['sha', 'sha256', 'sha512'].includes(prf)) return false;
  return same(pbkdf2Hex(password, salt, iterations, prf, key.length / 2), key);
}
