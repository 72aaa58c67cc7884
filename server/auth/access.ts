// Who may do what, after CouchDB 3's rules (couch_db:check_is_member/admin): server admins may do
// everything; a database's admins may also change its design docs and `_security`; members may
// read and write documents. A database whose `members` lists nobody is public.

import { CouchError } from '../errors/catalog.js';
import type { SecurityObject } from '../storage/records.js';

export interface UserCtx {
  name: string | null;
  roles: string[];
}

export const ANONYMOUS: UserCtx = { name: null, roles: [] };

export function isServerAdmin(user: UserCtx): boolean {
  return user.roles.includes('_admin');
}

function listed(group: { names?: string[]; roles?: string[] } | undefined, user: UserCtx): boolean {
  if (!group) return false;
  if (user.name !== null && (group.names ?? []).includes(user.name)) return true;
  return (group.roles ?? []).some((r) => user.roles.includes(r));
}

export function isDbAdmin(sec: SecurityObject, user: UserCtx): boolean {
  return isServerAdmin(user) || listed(sec.admins, user);
}

export function isMember(sec: SecurityObject, user: UserCtx): boolean {
  if (isDbAdmin(sec, user)) return true;
  const m = sec.members;
  const open = !m || ((m.names ?? []).length === 0 && (m.roles ?? []).length === 0);
  return open || listed(m, user);
}

/** 401 for anonymous callers, 403 for a known user without the right. */
function deny(user: UserCtx, reason401: string, reason403: string): never {
  if (user.name === null) throw new CouchError('unauthorized', reason401);
  throw new CouchError('forbidden', reason403);
}

export function requireMember(sec: SecurityObject, user: UserCtx): void {
  if (!isMember(sec, user)) deny(user, 'You are not authorized to access this db.', 'You are not allowed to access this db.');
}

export function requireDbAdmin(sec: SecurityObject, user: UserCtx): void {
  if (!isDbAdmin(sec, user)) deny(user, 'You are not a db or server admin.', 'You are not a db or server admin.');
}

/** CouchDB answers 401 to everyone here, signed in or not (couch_httpd:verify_is_server_admin). */
export function requireServerAdmin(user: UserCtx): void {
  if (!isServerAdmin(user)) throw new CouchError('unauthorized', 'You are not a server admin.');
}
