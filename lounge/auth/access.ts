// Who may do what in a database: CouchDB's `_security` rules, enforced at the lounge
// because the nodes only ever see the lounge's service credential.
//
// - server admins (`_admin` role) may do anything;
// - a database admin is listed in `admins.names` or has a role in `admins.roles`;
// - a member is listed in `members.names`/`members.roles`, or is any database admin;
//   a database with no members at all is public.
// Pure.

export interface UserCtx {
  name: string | null;
  roles: string[];
}

export interface SecurityObject {
  admins?: { names?: string[]; roles?: string[] };
  members?: { names?: string[]; roles?: string[] };
}

export const ANONYMOUS: UserCtx = { name: null, roles: [] };

export function isServerAdmin(user: UserCtx): boolean {
  return user.roles.includes('_admin');
}

function inGroup(user: UserCtx, g: { names?: string[]; roles?: string[] } | undefined): boolean {
  if (!g) return false;
  if (user.name !== null && (g.names ?? []).includes(user.name)) return true;
  return (g.roles ?? []).some((r) => user.roles.includes(r));
}

export function isDbAdmin(user: UserCtx, sec: SecurityObject): boolean {
  return isServerAdmin(user) || inGroup(user, sec.admins);
}

export function isMember(user: UserCtx, sec: SecurityObject): boolean {
  if (isDbAdmin(user, sec)) return true;
  const m = sec.members;
  const open = (m?.names ?? []).length === 0 && (m?.roles ?? []).length === 0;
  return open || inGroup(user, m);
}
