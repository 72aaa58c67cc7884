// Cookie sessions (`AuthSession`), as CouchDB's couch_httpd_auth does them: the cookie is
// base64url("name:hexTime:mac"), where mac is an HMAC over "name:hexTime" keyed by the node's
// persisted secret plus the user's password salt — so changing a password ends its sessions.
// A cookie is re-issued once a tenth of its lifetime has passed (CouchDB: TimeLeft < 0.9·Timeout).

import { createHmac, timingSafeEqual } from 'node:crypto';

/** CouchDB's default `[chttpd_auth] timeout`. */
export const SESSION_TIMEOUT_SECONDS = 600;

export interface SessionCookie {
  name: string;
  issuedAt: number;
}

function mac(secret: string, salt: string, payload: string): string {
  return createHmac('sha256', secret + salt).update(payload).digest('base64url');
}

export function makeSessionCookie(secret: string, salt: string, name: string, nowSeconds: number): string {
  const payload = `${name}:${nowSeconds.toString(16).toUpperCase()}`;
  return Buffer.from(`${payload}:${mac(secret, salt, payload)}`).toString('base64url');
}

/** Decodes a cookie value without checking it (the salt is needed first). */
export function decodeSessionCookie(value: string): { name: string; issuedAt: number; payload: string; mac: string } | undefined {
  const text = Buffer.from(value, 'base64url').toString('utf8');
  const last = text.lastIndexOf(':');
  const mid = text.lastIndexOf(':', last - 1);
  if (mid <= 0) return undefined;
  const issuedAt = parseInt(text.slice(mid + 1, last), 16);
  if (!Number.isFinite(issuedAt)) return undefined;
  return { name: text.slice(0, mid), issuedAt, payload: text.slice(0, last), mac: text.slice(last + 1) };
}

export type CookieCheck = { ok: true; name: string; refresh: boolean } | { ok: false };

export function checkSessionCookie(value: string, secret: string, saltOf: (name: string) => string | undefined, nowSeconds: number, timeoutSeconds: number): CookieCheck {
  const c = decodeSessionCookie(value);
  if (!c) return { ok: false };
  const salt = saltOf(c.name);
  if (salt === undefined) return { ok: false };
  const expected = Buffer.from(mac(secret, salt, c.payload));
  const actual = Buffer.from(c.mac);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return { ok: false };
  const age = nowSeconds - c.issuedAt;
  if (age < 0 || age >= timeoutSeconds) return { ok: false };
  const timeLeft = timeoutSeconds - age;
  return { ok: true, name: c.name, refresh: timeLeft < timeoutSeconds * 0.9 };
}
