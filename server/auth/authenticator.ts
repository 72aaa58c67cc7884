// Turns a request's credentials into CouchDB's userCtx. Server admins come from the command line
// or config and are kept only as pbkdf2 hashes. Verified credentials are cached (keyed by a hash
// of the header, never the password) so the pbkdf2 cost is paid once, not per request.

import { createHash } from 'node:crypto';
import { CouchError } from '../errors/catalog.js';
import { hashPassword, verifyPassword, type PasswordHash } from './password.js';
import { ANONYMOUS, type UserCtx } from './access.js';

/** Bounded so that a flood of distinct bad credentials cannot grow memory. */
const AUTH_CACHE_ENTRIES_MAX = 10_000;

export interface Credentials {
  name: string;
  password: string;
}

/** Looks a user up in `_users` (wired in by the server once that database exists). */
export type UserLookup = (name: string) => { hash: PasswordHash; roles: string[] } | undefined;

export class Authenticator {
  private readonly admins = new Map<string, PasswordHash>();
  private readonly cache = new Map<string, UserCtx>();
  userLookup: UserLookup | undefined;
  /** Credential cache hits and misses (the node's couchdb.auth_cache_hits and auth_cache_misses). */
  readonly counts = { hits: 0, misses: 0 };

  get adminParty(): boolean {
    return this.admins.size === 0;
  }

  addAdmin(name: string, password: string, hash?: PasswordHash): void {
    const h = hash ?? hashPassword(password);
    this.admins.set(name, h);
    // Seed the cache so the first request does not pay pbkdf2 a second time.
    this.remember(basicKey(name, password), { name, roles: ['_admin'] });
  }

  /**
   * Replaces the server admins (the `[admins]` config section changed). Cached credentials of
   * every admin that was added, removed or given a new hash are forgotten.
   */
  setAdmins(next: Map<string, PasswordHash>): void {
    for (const [name, hash] of this.admins) {
      const n = next.get(name);
      if (!n || n.derived_key !== hash.derived_key || n.salt !== hash.salt) this.forget(name);
    }
    for (const name of next.keys()) if (!this.admins.has(name)) this.forget(name);
    this.admins.clear();
    for (const [name, hash] of next) this.admins.set(name, hash);
  }

  adminHashes(): Record<string, PasswordHash> {
    return Object.fromEntries(this.admins);
  }

  /** The userCtx for an Authorization header; throws 401 for wrong credentials. */
  fromHeader(header: string | undefined): UserCtx {
    if (this.adminParty) return { name: null, roles: ['_admin'] };
    if (!header) return ANONYMOUS;
    const m = /^Basic\s+(.+)$/i.exec(header.trim());
    if (!m) return ANONYMOUS;
    const creds = parseBasic(m[1] as string);
    if (!creds) throw new CouchError('unauthorized', 'Name or password is incorrect.');
    return this.check(creds);
  }

  check(creds: Credentials): UserCtx {
    const key = basicKey(creds.name, creds.password);
    const hit = this.cache.get(key);
    if (hit) {
      this.counts.hits++;
      return hit;
    }
    this.counts.misses++;
    const admin = this.admins.get(creds.name);
    let ctx: UserCtx | undefined;
    if (admin && verifyPassword(creds.password, admin)) ctx = { name: creds.name, roles: ['_admin'] };
    if (!ctx && this.userLookup) {
      const user = this.userLookup(creds.name);
      if (user && verifyPassword(creds.password, user.hash)) ctx = { name: creds.name, roles: user.roles };
    }
    if (!ctx) throw new CouchError('unauthorized', 'Name or password is incorrect.');
    this.remember(key, ctx);
    return ctx;
  }

  /** Forget every cached credential (the users' database changed). */
  forgetAll(): void {
    this.cache.clear();
  }

  /** Forget cached credentials of a user (password or roles changed). */
  forget(name: string): void {
    for (const [k, v] of this.cache) if (v.name === name) this.cache.delete(k);
  }

  private remember(key: string, ctx: UserCtx): void {
    if (this.cache.size >= AUTH_CACHE_ENTRIES_MAX) this.cache.clear();
    this.cache.set(key, ctx);
  }
}

function basicKey(name: string, password: string): string {
  return createHash('sha256').update(name).update('\0').update(password).digest('base64');
}

export function parseBasic(b64: string): Credentials | undefined {
  const text = Buffer.from(b64, 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return undefined;
  return { name: text.slice(0, i), password: text.slice(i + 1) };
}
