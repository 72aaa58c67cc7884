// Password hashing as CouchDB 3 does it: pbkdf2 with sha256, a random salt, and an iteration
// count that is a named constant. Clear-text passwords are never stored or logged.

import { pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/** CouchDB 3.4's default is 600,000; the cost is paid once per credential thanks to the auth cache. */
export const PBKDF2_ITERATIONS = 600_000;
const KEY_BYTES = 32;

export interface PasswordHash {
  password_scheme: 'pbkdf2';
  pbkdf2_prf: 'sha256';
  iterations: number;
  salt: string;
  derived_key: string;
}

export function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): PasswordHash {
  const salt = randomBytes(16).toString('hex');
  const derived = pbkdf2Sync(password, salt, iterations, KEY_BYTES, 'sha256').toString('hex');
  return { password_scheme: 'pbkdf2', pbkdf2_prf: 'sha256', iterations, salt, derived_key: derived };
}

export function verifyPassword(password: string, hash: Pick<PasswordHash, 'iterations' | 'salt' | 'derived_key'> & { pbkdf2_prf?: string }): boolean {
  const prf = hash.pbkdf2_prf === 'sha256' || hash.pbkdf2_prf === undefined ? 'sha256' : hash.pbkdf2_prf;
  const expected = Buffer.from(hash.derived_key, 'hex');
  const actual = pbkdf2Sync(password, hash.salt, hash.iterations, expected.length || KEY_BYTES, prf === 'sha' ? 'sha1' : prf);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * An admin's hash as CouchDB writes it in the `[admins]` config section:
 * `-pbkdf2:sha256-<derived key>,<salt>,<iterations>` (CouchDB 3.4+), or `-pbkdf2-…` for sha1.
 */
export function formatAdminHash(h: Pick<PasswordHash, 'derived_key' | 'salt' | 'iterations'> & { pbkdf2_prf?: string }): string {
  const prf = h.pbkdf2_prf === 'sha' ? '' : `:${h.pbkdf2_prf ?? 'sha256'}`;
  return `-pbkdf2${prf}-${h.derived_key},${h.salt},${h.iterations}`;
}

const ADMIN_HASH = /^-pbkdf2(?::(sha|sha224|sha256|sha384|sha512))?-([0-9a-f]+),([^,]+),(\d+)$/;

/** Reads an `[admins]` value written by `formatAdminHash` (or by CouchDB); undefined otherwise. */
export function parseAdminHash(text: string): PasswordHash | undefined {
  const m = ADMIN_HASH.exec(text);
  if (!m) return undefined;
  return { password_scheme: 'pbkdf2', pbkdf2_prf: (m[1] ?? 'sha') as 'sha256', derived_key: m[2] as string, salt: m[3] as string, iterations: Number(m[4]) };
}

/** Whether an `[admins]` value is already hashed (CouchDB leaves `-pbkdf2…` and `-hashed-…` alone). */
export function isHashedAdminValue(text: string): boolean {
  return text.startsWith('-pbkdf2') || text.startsWith('-hashed-');
}
