// `_users` documents written through the lounge. A node hashes the `password` of a user doc
// only in its own `_users` database; the lounge's `_users` lives in shard databases, so the
// lounge hashes it, as CouchDB's clustered layer does, before the doc reaches any node.

import { pbkdf2Sync, randomBytes } from 'node:crypto';

/** pbkdf2-sha256 rounds for new passwords: OWASP's 2023 floor is 600k; CouchDB 3.5 uses 600k too. */
const PBKDF2_ITERATIONS = 600_000;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** Returns the doc with a plain `password` replaced by pbkdf2 fields; other docs unchanged. */
export function prepareUserDoc(doc: unknown): unknown {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return doc;
  const d = doc as Record<string, unknown>;
  if (typeof d.password !== 'string') return doc;
  const salt = randomBytes(SALT_BYTES).toString('hex');
  const { password, ...rest } = d;
  return {
    ...rest,
    password_scheme: 'pbkdf2',
    pbkdf2_prf: 'sha256',
    iterations: PBKDF2_ITERATIONS,
    salt,
    derived_key: pbkdf2Sync(password as string, salt, PBKDF2_ITERATIONS, KEY_BYTES, 'sha256').toString('hex'),
  };
}
