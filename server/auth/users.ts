// The `_users` database, CouchDB 3 style: `org.couchdb.user:NAME` documents of `type: "user"`.
// A `password` member is replaced by its pbkdf2 hash before the document is stored, so clear
// passwords never reach the disk. Only admins see other users or change roles; users may update
// their own document (and password); anonymous sign-up is a switch that is off by default.

import type { Database, EditResult } from '../storage/database.js';
import type { GuardedEdit, WriteGuard } from '../http/write.js';
import { hashPassword, type PasswordHash } from './password.js';
import { checkPassword } from './password-rules.js';
import { isServerAdmin, type UserCtx } from './access.js';
import { conflicts } from '../revtree/index.js';
import { CouchError } from '../errors/catalog.js';

export const USERS_DB = '_users';
export const USER_PREFIX = 'org.couchdb.user:';

export interface UsersConfig {
  /** Anyone may create their own user document (never with roles). CouchDB 3: off. */
  publicSignup: boolean;
  /** pbkdf2 iterations for new password hashes. */
  iterations: number;
  /** `[chttpd_auth] authentication_db`: where users log in from (default `_users`). */
  authDb?: string;
  /** `[couch_httpd_auth] password_regexp`, read at each password change. */
  passwordRules?: () => string | undefined;
}

/** The database users are looked up in; it gets `_users`' write rules too. */
export function authDbOf(cfg: UsersConfig): string {
  return cfg.authDb ?? USERS_DB;
}

export interface StoredUser {
  hash: PasswordHash;
  roles: string[];
}

/** Reads a user's hash and roles from `_users`, for the authenticator. */
export function lookupUser(db: Database | undefined, name: string): StoredUser | undefined {
  if (!db) return undefined;
  const id = USER_PREFIX + name;
  const info = db.docInfo(id);
  if (!info || info.deleted) return undefined;
  // couch_auth_cache: a user document in conflict proves nothing until someone resolves it.
  if (conflicts(info.tree).length > 0) {
    throw new CouchError('unauthorized', 'User document conflicts must be resolved before the document is used for authentication purposes.');
  }
  const body = db.body(id, info.rev);
  if (!body) return undefined;
  const doc = JSON.parse(body.json) as Record<string, unknown>;
  if (typeof doc.derived_key !== 'string' || typeof doc.salt !== 'string' || typeof doc.iterations !== 'number') return undefined;
  const roles = Array.isArray(doc.roles) ? doc.roles.filter((r): r is string => typeof r === 'string') : [];
  return {
    hash: {
      password_scheme: 'pbkdf2',
      pbkdf2_prf: doc.pbkdf2_prf === 'sha' ? ('sha' as 'sha256') : 'sha256',
      iterations: doc.iterations,
      salt: doc.salt,
      derived_key: doc.derived_key,
    },
    roles,
  };
}

/** May this caller touch this `_users` document at all? (Reads and writes of one's own doc.) */
export function canAccessUserDoc(id: string, user: UserCtx, forWrite: boolean, cfg: UsersConfig): boolean {
  if (isServerAdmin(user)) return true;
  if (!id.startsWith(USER_PREFIX)) return false;
  if (user.name !== null && id === USER_PREFIX + user.name) return true;
  return forWrite && user.name === null && cfg.publicSignup;
}

const forbidden = (id: string, reason: string): EditResult => ({ id, error: 'forbidden', reason });

export function usersGuard(cfg: UsersConfig, onUserChanged: (name: string) => void): WriteGuard {
  return (db, _raw, edits, newEdits, user) => {
    if (db.name === USERS_DB) return edits().map((e) => checkUserEdit(e, newEdits, user, cfg, onUserChanged));
    // Another `authentication_db` gets couch_users_db:before_doc_update (passwords are hashed);
    // the document rules are `_users`' own `_design/_auth`, which that database does not have.
    if (db.name === authDbOf(cfg)) return edits().map((e) => hashEditPassword(e, cfg, onUserChanged));
    return [];
  };
}

function checkUserEdit(e: GuardedEdit, newEdits: boolean, user: UserCtx, cfg: UsersConfig, onUserChanged: (name: string) => void): EditResult | undefined {
  const admin = isServerAdmin(user);
  if (e.id.startsWith('_design/')) return admin ? undefined : forbidden(e.id, 'Only admins may change design documents of _users.');
  if (!e.id.startsWith(USER_PREFIX)) return admin ? undefined : forbidden(e.id, 'Document ID must be of the form org.couchdb.user:name');
  const name = e.id.slice(USER_PREFIX.length);
  const old = e.old();
  if (!admin) {
    const own = user.name !== null && user.name === name;
    const signup = user.name === null && cfg.publicSignup && (old === null || old._deleted === true);
    if (!own && !signup) return forbidden(e.id, 'You may only update your own user document.');
  }
  if (e.doc.deleted) {
    onUserChanged(name);
    return undefined;
  }
  const body = e.doc.body;
  if (body.type !== 'user') return forbidden(e.id, 'doc.type must be user');
  if (body.name !== name) return forbidden(e.id, 'Doc ID must be of the form org.couchdb.user:name');
  // _design/_auth's messages (a missing `roles` is its 'doc.roles must exist').
  if (body.roles !== undefined && !Array.isArray(body.roles)) return forbidden(e.id, 'doc.roles must be an array');
  if (Array.isArray(body.roles) && !body.roles.every((r) => typeof r === 'string')) return forbidden(e.id, 'doc.roles can only contain strings');
  if (!admin) {
    const before = JSON.stringify(old && old._deleted !== true ? old.roles ?? [] : []);
    if (JSON.stringify(body.roles ?? []) !== before) return forbidden(e.id, 'Only _admin may set roles');
  }
  if (body.password !== undefined && body.password !== null && typeof body.password !== 'string') {
    return forbidden(e.id, 'password must be a string');
  }
  return hashEditPassword(e, cfg, onUserChanged);
}

/**
 * Replaces a clear `password` by its pbkdf2 hash once it passes `password_regexp`; the user's
 * cached credentials are forgotten.
 */
function hashEditPassword(e: GuardedEdit, cfg: UsersConfig, onUserChanged: (name: string) => void): EditResult | undefined {
  const body = e.doc.body;
  if (typeof body.password === 'string') {
    const refused = checkPassword(body.password, cfg.passwordRules?.());
    if (refused) return { id: e.id, ...refused };
    const hash = hashPassword(body.password, cfg.iterations);
    const next: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) if (k !== 'password') next[k] = v;
    Object.assign(next, hash);
    e.doc = { ...e.doc, body: next, json: JSON.stringify(next) };
  }
  if (e.id.startsWith(USER_PREFIX)) onUserChanged(e.id.slice(USER_PREFIX.length));
  return undefined;
}
