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

/**
 * couch_auth_lockout's settings (`[chttpd_auth_lockout] mode`, `threshold`, `max_lifetime`):
 * after `threshold` wrong passwords for one account from one address, `enforce` refuses that
 * account from there (403) until `lifetimeMs` has passed since the last failure; `warn` only counts.
 */
export interface LockoutConfig {
  mode: 'off' | 'warn' | 'enforce';
  threshold: number;
  lifetimeMs: number;
}

/** CouchDB's defaults (couch_auth_lockout.erl; the lru's max_lifetime). */
export const DEFAULT_LOCKOUT: LockoutConfig = { mode: 'enforce', threshold: 5, lifetimeMs: 300_000 };

const LOCKOUT_MSG = 'Account is temporarily locked due to multiple authentication failures';

export class Authenticator {
  private readonly admins = new Map<string, PasswordHash>();
  private readonly cache = new Map<string, UserCtx>();
  lockout: LockoutConfig = { ...DEFAULT_LOCKOUT };
  /** Wrong passwords per (peer, name, salt), as couch_auth_lockout's lru keys them; bounded like the cache. */
  private readonly failures = new Map<string, { count: number; last: number }>();
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
  fromHeader(header: string | undefined, peer?: string): UserCtx {
    if (this.adminParty) return { name: null, roles: ['_admin'] };
    if (!header) return ANONYMOUS;
    const m = /^Basic\s+(.+)$/i.exec(header.trim());
    if (!m) return ANONYMOUS;
    const creds = parseBasic(m[1] as string);
    if (!creds) throw new CouchError('unauthorized', 'Name or password is incorrect.');
    // couch_httpd_auth:basic_name_pw: `_:_` is the name and password of someone logged out.
    if (creds.name === '_' && creds.password === '_') return ANONYMOUS;
    return this.check(creds, peer);
  }

  /**
   * The userCtx for a name and password (401 when wrong). With the peer's address, wrong
   * passwords for an existing account count towards its lockout (chttpd_auth:authenticate).
   */
  check(creds: Credentials, peer?: string): UserCtx {
    const key = basicKey(creds.name, creds.password);
    // Checked before the credential cache, as CouchDB checks it before its password cache.
    if (this.failures.size > 0 && peer !== undefined) this.refuseLockedOut(creds.name, peer);
    const hit = this.cache.get(key);
    if (hit) {
      this.counts.hits++;
      return hit;
    }
    this.counts.misses++;
    const admin = this.admins.get(creds.name);
    const user = admin ? undefined : this.userLookup?.(creds.name);
    const hash = admin ?? user?.hash;
    let ctx: UserCtx | undefined;
    if (admin && verifyPassword(creds.password, admin)) ctx = { name: creds.name, roles: ['_admin'] };
    else if (user && verifyPassword(creds.password, user.hash)) ctx = { name: creds.name, roles: user.roles };
    if (!ctx) {
      if (hash && peer !== undefined) this.countFailure(lockoutKey(peer, creds.name, hash.salt));
      throw new CouchError('unauthorized', 'Name or password is incorrect.');
    }
    this.remember(key, ctx);
    return ctx;
  }

  /** Forget every cached credential (the users' database changed). */
  forgetAll(): void {
    this.cache.clear();
  }

  private refuseLockedOut(name: string, peer: string): void {
    const { mode, threshold, lifetimeMs } = this.lockout;
    if (mode !== 'enforce') return;
    const hash = this.admins.get(name) ?? this.userLookup?.(name)?.hash;
    if (!hash) return;
    const k = lockoutKey(peer, name, hash.salt);
    const f = this.failures.get(k);
    if (!f) return;
    if (Date.now() - f.last > lifetimeMs) this.failures.delete(k);
    else if (f.count >= threshold) throw new CouchError('forbidden', LOCKOUT_MSG);
  }

  private countFailure(k: string): void {
    if (this.lockout.mode === 'off') return;
    const now = Date.now();
    const f = this.failures.get(k);
    if (f && now - f.last <= this.lockout.lifetimeMs) {
      f.count++;
      f.last = now;
      return;
    }
    if (this.failures.size >= AUTH_CACHE_ENTRIES_MAX) this.failures.clear();
    this.failures.set(k, { count: 1, last: now });
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

function lockoutKey(peer: string, name: string, salt: string): string {
  return `${peer}\0${name}\0${salt}`;
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
