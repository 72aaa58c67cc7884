// Authentication ends at the lounge: clients present the same credentials they would to a
// node — a config admin, or a user of the cluster's `_users` database — by Basic auth or
// the `AuthSession` cookie of `POST /_session`. The nodes only ever see the lounge's
// service credential.
//
// Verified credentials are cached (keyed by a hash of the header, never the password) so
// pbkdf2 runs once per credential, not per request; the cache is bounded and short-lived so
// a changed password takes effect soon.

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { LoungeError } from '../errors/lounge-error.js';
import { ANONYMOUS, type UserCtx } from './access.js';
import { verifyAdminPassword, verifyUserDoc } from './password.js';

/** Bounded so that a flood of distinct bad credentials cannot grow memory. */
const AUTH_CACHE_ENTRIES_MAX = 10_000;
/** A verified user stays verified this long; then its doc is read again. */
const AUTH_CACHE_TTL_MS = 60_000;
/** CouchDB's default session lifetime (`[chttpd_auth] timeout`). */
export const SESSION_TIMEOUT_S = 600;

/** Reads a `_users` doc (`org.couchdb.user:<name>`) through the lounge; undefined if absent. */
export type UserLookup = (name: string) => Promise<Record<string, unknown> | undefined>;

export class Authenticator {
  private readonly cache = new Map<string, { at: number; user: UserCtx }>();
  /** Signs session cookies; random per process, so a restart ends sessions (as a new CouchDB secret would). */
  private readonly secret = randomBytes(32);

  constructor(
    private readonly admins: Readonly<Record<string, string>>,
    private readonly lookup: UserLookup,
    private readonly now: () => number = Date.now,
  ) {}

  get adminParty(): boolean {
    return Object.keys(this.admins).length === 0;
  }

  /** The userCtx of a request from its Authorization and Cookie headers; 401 for wrong credentials. */
  async fromRequest(authorization: string | undefined, cookie: string | undefined): Promise<UserCtx> {
    if (this.adminParty) return { name: null, roles: ['_admin'] };
    const m = authorization ? /^Basic\s+(.+)$/i.exec(authorization.trim()) : null;
    if (m) {
      const text = Buffer.from(m[1] as string, 'base64').toString('utf8');
      const i = text.indexOf(':');
      if (i < 0) throw new LoungeError(401, 'unauthorized', 'Name or password is incorrect.');
      return this.check(text.slice(0, i), text.slice(i + 1));
    }
    const session = cookie ? /(?:^|;\s*)AuthSession=([^;]+)/.exec(cookie) : null;
    if (session) {
      const user = await this.fromCookie(session[1] as string);
      if (user) return user;
    }
    return ANONYMOUS;
  }

  /** Verifies a name and password (Basic auth or `POST /_session`). */
  async check(name: string, password: string): Promise<UserCtx> {
    const key = createHash('sha256').update(name).update('\0').update(password).digest('base64');
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < AUTH_CACHE_TTL_MS) return hit.user;
    let user: UserCtx | undefined;
    const admin = this.admins[name];
    if (admin !== undefined && verifyAdminPassword(password, admin)) user = { name, roles: ['_admin'] };
    if (!user) {
      const doc = await this.lookup(name);
      if (doc && verifyUserDoc(password, doc)) {
        const roles = Array.isArray(doc.roles) ? doc.roles.filter((r): r is string => typeof r === 'string') : [];
        user = { name, roles };
      }
    }
    if (!user) throw new LoungeError(401, 'unauthorized', 'Name or password is incorrect.');
    if (this.cache.size >= AUTH_CACHE_ENTRIES_MAX) this.cache.clear();
    this.cache.set(key, { at: this.now(), user });
    return user;
  }

  /** A cookie value for a verified user: `name:expiry-hex:hmac`, base64url. */
  sessionCookie(name: string): string {
    const expiry = Math.floor(this.now() / 1000) + SESSION_TIMEOUT_S;
    const body = `${name}:${expiry.toString(16).toUpperCase()}`;
    const mac = createHmac('sha256', this.secret).update(body).digest('base64url');
    return Buffer.from(`${body}:${mac}`).toString('base64url');
  }

  private async fromCookie(value: string): Promise<UserCtx | undefined> {
    const text = Buffer.from(value, 'base64url').toString('utf8');
    const j = text.lastIndexOf(':');
    const i = text.lastIndexOf(':', j - 1);
    if (i <= 0 || j <= i) return undefined;
    const body = text.slice(0, j);
    const want = createHmac('sha256', this.secret).update(body).digest();
    const got = Buffer.from(text.slice(j + 1), 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    const expiry = parseInt(text.slice(i + 1, j), 16);
    if (!(expiry * 1000 > this.now())) return undefined;
    const name = text.slice(0, i);
    if (this.admins[name] !== undefined) return { name, roles: ['_admin'] };
    const doc = await this.lookup(name);
    if (!doc) return undefined;
    return { name, roles: Array.isArray(doc.roles) ? doc.roles.filter((r): r is string => typeof r === 'string') : [] };
  }
}
