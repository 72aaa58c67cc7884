// The session endpoints and cookie authentication: POST/GET/DELETE /_session and the middleware
// that turns an `AuthSession` cookie (or Basic credentials) into the request's userCtx.

import type Koa from 'koa';
import type Router from '@koa/router';
import { createHmac, randomBytes } from 'node:crypto';
import { jwtUser } from './jwt.js';
import { CouchError } from '../errors/catalog.js';
import type { Services } from '../http/services.js';
import type { Environment } from '../storage/environment.js';
import { readRaw, parseJson } from '../http/body.js';
import { send } from '../http/respond.js';
import { ANONYMOUS, type UserCtx } from './access.js';
import { checkSessionCookie, makeSessionCookie } from './session.js';
import { authDbOf, lookupUser } from './users.js';

export interface SessionConfig {
  timeoutSeconds: number;
  /** Persisted random secret; sessions survive restarts. */
  secret: string;
  /** `[chttpd_auth] allow_persistent_cookies`: cookies carry Expires and Max-Age (default true). */
  persistentCookies: boolean;
  /** `[chttpd_auth] cookie_domain`, or '' for none. */
  cookieDomain: string;
  /** `[chttpd_auth] same_site`: '', 'none', 'lax' or 'strict'. */
  sameSite: '' | 'none' | 'lax' | 'strict';
  /** `[chttpd] require_valid_user`: anonymous requests get 401 (except a login attempt). */
  requireValidUser: boolean;
  /** `[chttpd] require_valid_user_except_for_up`: the same, but `/_up` stays open. */
  requireValidUserExceptUp: boolean;
  /** JWT bearer tokens are checked (auth/jwt.ts authHandlers). */
  jwt?: boolean;
  /** Proxy headers are trusted (`proxy_authentication_handler` is configured). */
  proxy?: boolean;
}

export function defaultSessionConfig(timeoutSeconds: number): SessionConfig {
  return { timeoutSeconds, secret: '', persistentCookies: true, cookieDomain: '', sameSite: '', requireValidUser: false, requireValidUserExceptUp: false };
}

/** The node's persisted cookie secret, made on first start (CouchDB keeps it in `[chttpd_auth] secret`). */
export function loadSecret(env: Environment): string {
  const meta = env.stores.meta;
  let secret = meta.get(['_node', 'session_secret']) as string | undefined;
  if (!secret) {
    secret = randomBytes(32).toString('hex');
    meta.putSync(['_node', 'session_secret'], secret);
  }
  return secret;
}

function saltOf(s: Services, name: string): string | undefined {
  const admin = s.auth.adminHashes()[name];
  if (admin) return admin.salt;
  return lookupUser(s.catalog.get(authDbOf(s.users)), name)?.hash.salt;
}

const SAME_SITE = { none: 'None', lax: 'Lax', strict: 'Strict' } as const;

/**
 * The `Set-Cookie` value CouchDB sends (couch_httpd_auth:cookie_attributes through
 * mochiweb_cookies): `AuthSession=v; Version=1; Expires=…; Max-Age=<timeout>; Path=/; HttpOnly`,
 * with `Secure` over https, `Domain` and `SameSite` when configured. Clients such as nano keep a
 * cookie only while its Expires/Max-Age says it is valid.
 */
export function cookieHeader(value: string, cfg: SessionConfig, secure: boolean, now = Date.now()): string {
  let out = `AuthSession=${value}; Version=1`;
  if (cfg.persistentCookies) {
    const age = Math.max(0, cfg.timeoutSeconds);
    out += `; Expires=${new Date(now + age * 1000).toUTCString()}; Max-Age=${age}`;
  }
  if (secure) out += '; Secure';
  if (cfg.cookieDomain !== '') out += `; Domain=${cfg.cookieDomain}`;
  out += '; Path=/; HttpOnly';
  if (cfg.sameSite !== '') out += `; SameSite=${SAME_SITE[cfg.sameSite]}`;
  return out;
}

/**
 * couch_httpd_auth:proxy_authentication_handler: the user and roles a trusted proxy names in
 * `X-Auth-CouchDB-UserName` and `X-Auth-CouchDB-Roles` (comma-separated; header names from
 * `[chttpd_auth] x_auth_username|x_auth_roles|x_auth_token`). With `proxy_use_secret = true` and a
 * `secret`, `X-Auth-CouchDB-Token` must be the hex HMAC-SHA1 of the name by the secret, or the
 * headers are ignored.
 */
export function proxyUser(header: (name: string) => string, get: (key: string) => string | undefined): UserCtx | undefined {
  const name = header(get('x_auth_username') ?? 'X-Auth-CouchDB-UserName');
  if (!name) return undefined;
  const rolesHeader = header(get('x_auth_roles') ?? 'X-Auth-CouchDB-Roles');
  const roles = rolesHeader ? rolesHeader.split(',').filter((r) => r !== '') : [];
  const secret = get('secret');
  if (get('proxy_use_secret') === 'true' && secret !== undefined) {
    const expected = createHmac('sha1', secret).update(name).digest('hex');
    if (header(get('x_auth_token') ?? 'X-Auth-CouchDB-Token') !== expected) return undefined;
  }
  return { name, roles };
}

/** The handlers `GET /_session` lists, in the order they run. */
function handlerNames(cfg: SessionConfig): string[] {
  return [...(cfg.jwt ? ['jwt'] : []), ...(cfg.proxy ? ['proxy'] : []), 'cookie', 'default'];
}

/** Authentication: JWT and proxy headers when configured, then Basic, then the session cookie; sets ctx.state.user. */
export function authMiddleware(s: Services, cfg: SessionConfig): Koa.Middleware {
  const authConfig = (key: string) => s.configStore.get('chttpd_auth', key) ?? s.configStore.get('couch_httpd_auth', key);
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    let user: UserCtx;
    let proxied: UserCtx | undefined;
    if (cfg.jwt && header.startsWith('Bearer ')) {
      user = jwtUser(header.slice(7).trim(), (section, key) => s.configStore.get(section, key));
      ctx.state.authenticated = 'jwt';
    } else if (cfg.proxy && (proxied = proxyUser((h) => ctx.get(h), authConfig))) {
      user = proxied;
      ctx.state.authenticated = 'proxy';
    } else if (header || s.auth.adminParty) {
      user = s.auth.fromHeader(header || undefined, ctx.req.socket.remoteAddress);
      ctx.state.authenticated = user.name !== null ? 'default' : undefined;
    } else {
      user = ANONYMOUS;
      const cookie = ctx.cookies.get('AuthSession');
      if (cookie) {
        const now = Math.floor(Date.now() / 1000);
        const check = checkSessionCookie(cookie, cfg.secret, (n) => saltOf(s, n), now, cfg.timeoutSeconds);
        if (check.ok) {
          const admin = s.auth.adminHashes()[check.name];
          const roles = admin ? ['_admin'] : lookupUser(s.catalog.get(authDbOf(s.users)), check.name)?.roles ?? [];
          user = { name: check.name, roles };
          ctx.state.authenticated = 'cookie';
          if (check.refresh) {
            const salt = saltOf(s, check.name) as string;
            ctx.set('Set-Cookie', cookieHeader(makeSessionCookie(cfg.secret, salt, check.name, now), cfg, ctx.secure));
          }
        }
      }
    }
    if (user.name === null && (cfg.requireValidUser || cfg.requireValidUserExceptUp)) {
      // chttpd_auth:party_mode_handler: a login attempt is always allowed; `/_up` needs a valid
      // user only with require_valid_user and without require_valid_user_except_for_up.
      const login = ctx.method === 'POST' && ctx.path === '/_session';
      const required = ctx.path === '/_up' ? cfg.requireValidUser && !cfg.requireValidUserExceptUp : true;
      if (!login && required) throw new CouchError('unauthorized', 'Authentication required.');
    }
    ctx.state.user = user;
    await next();
  };
}

export function registerSessions(router: Router, s: Services, cfg: SessionConfig): void {
  router.post('/_session', async (ctx) => {
    const raw = await readRaw(ctx, s.limits);
    const type = (ctx.get('content-type') || '').split(';')[0]?.trim().toLowerCase();
    let name: unknown;
    let password: unknown;
    if (type === 'application/x-www-form-urlencoded') {
      const form = new URLSearchParams(raw.toString('utf8'));
      name = form.get('name') ?? form.get('username');
      password = form.get('password');
    } else if (type === 'application/json') {
      const body = parseJson(raw, s.limits.maxJsonDepth) as Record<string, unknown> | null;
      name = body?.name ?? body?.username;
      password = body?.password;
    } else {
      throw new CouchError('bad_content_type', 'Content-Type must be application/x-www-form-urlencoded or application/json');
    }
    if (typeof name !== 'string' || typeof password !== 'string') throw new CouchError('unauthorized', 'Name or password is incorrect.');
    const user = s.auth.check({ name, password }, ctx.req.socket.remoteAddress);
    const salt = saltOf(s, name) as string;
    ctx.set('Set-Cookie', cookieHeader(makeSessionCookie(cfg.secret, salt, name, Math.floor(Date.now() / 1000)), cfg, ctx.secure));
    const next = (ctx.query as Record<string, string | undefined>).next;
    if (typeof next === 'string' && next.startsWith('/')) {
      ctx.status = 302;
      ctx.set('Location', next);
      return;
    }
    send(ctx, 200, { ok: true, name: user.name, roles: user.roles });
  });

  router.get('/_session', (ctx) => {
    const user = ctx.state.user;
    const method = ctx.state.authenticated as string | undefined;
    const authDb = s.configStore.get('chttpd_auth', 'authentication_db');
    send(ctx, 200, {
      ok: true,
      userCtx: { name: user.name, roles: user.roles },
      // authentication_db only when `[chttpd_auth] authentication_db` is set, as CouchDB answers.
      info: { authentication_handlers: handlerNames(cfg), ...(method ? { authenticated: method } : {}), ...(authDb !== undefined ? { authentication_db: authDb } : {}) },
    });
  });

  router.delete('/_session', (ctx) => {
    ctx.set('Set-Cookie', cookieHeader('', cfg, ctx.secure));
    send(ctx, 200, { ok: true });
  });
}
