// JWT bearer authentication (CouchDB's chttpd_auth:jwt_authentication_handler with jwtf and
// jwtf_keystore). `Authorization: Bearer <header>.<claims>.<signature>` is checked against a key
// from `[jwt_keys]`, named `<kind>:<kid>` (kid from the token's header, else `_default`; kind
// `hmac` for HS*, `rsa` for RS*, `ec` for ES*). An hmac key is base64; rsa and ec keys are PEM,
// with `\n` written as the two characters backslash-n as ini values need. The algorithm must be in
// `[jwt_auth] allowed_algorithms` (default HS256). `[jwt_auth] required_claims` lists claims that
// must be present (`exp, iat`) or must have a value (`{iss, "hello"}`); `exp` and `nbf` are checked
// whenever present. The user is the `sub` claim; roles come from `[jwt_auth] roles_claim_path`
// (dotted, `\.` for a literal dot) or `roles_claim_name` (default `_couchdb.roles`).

import { createHmac, createPublicKey, timingSafeEqual, verify as verifySignature, type KeyObject } from 'node:crypto';
import { CouchError } from '../errors/catalog.js';
import { CouchError as StatusError } from '../../views/index.js';
import type { UserCtx } from './access.js';

type Get = (section: string, key: string) => string | undefined;

const ALGORITHMS: Record<string, { kind: 'hmac' | 'rsa' | 'ec'; hash: string }> = {
  HS256: { kind: 'hmac', hash: 'sha256' },
  HS384: { kind: 'hmac', hash: 'sha384' },
  HS512: { kind: 'hmac', hash: 'sha512' },
  RS256: { kind: 'rsa', hash: 'sha256' },
  RS384: { kind: 'rsa', hash: 'sha384' },
  RS512: { kind: 'rsa', hash: 'sha512' },
  ES256: { kind: 'ec', hash: 'sha256' },
  ES384: { kind: 'ec', hash: 'sha384' },
  ES512: { kind: 'ec', hash: 'sha512' },
};

const bad = (reason: string) => new CouchError('bad_request', reason);

function decodePart(part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw bad('Malformed token');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('Not an object');
  return value as Record<string, unknown>;
}

/** `[jwt_auth] required_claims`: bare names must be present, `{name, "value"}` must match. */
export function parseRequiredClaims(text: string | undefined): { name: string; value?: string }[] {
  if (text === undefined || text.trim() === '') return [];
  const out: { name: string; value?: string }[] = [];
  const re = /([a-z]+)|\{([a-z]+)\s*,\s*"([^"]+)"\}/g;
  for (const m of text.matchAll(re)) out.push(m[1] !== undefined ? { name: m[1] } : { name: m[2] as string, value: m[3] as string });
  if (out.length === 0) throw new StatusError(500, 'misconfigured_server', 'JWT is not configured correctly');
  return out;
}

const keyCache = new Map<string, KeyObject>();

function publicKey(pem: string): KeyObject {
  let key = keyCache.get(pem);
  if (!key) {
    try {
      key = createPublicKey(pem.replace(/\\n/g, '\n'));
    } catch {
      throw bad('Invalid key');
    }
    if (keyCache.size > 100) keyCache.clear();
    keyCache.set(pem, key);
  }
  return key;
}

function rolesOf(claims: Record<string, unknown>, get: Get): string[] {
  const path = get('jwt_auth', 'roles_claim_path');
  let value: unknown;
  if (path !== undefined && path !== '') {
    value = claims;
    for (const seg of path.split(/(?<!\\)\./).map((s) => s.replace(/\\\./g, '.'))) {
      value = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[seg] : undefined;
    }
  } else value = claims[get('jwt_auth', 'roles_claim_name') ?? '_couchdb.roles'];
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((r) => typeof r === 'string')) throw bad('Malformed token');
  return value as string[];
}

/** The userCtx a bearer token proves, or throws CouchDB's 400/401 for a token that fails. */
export function jwtUser(token: string, get: Get, nowSeconds = Math.floor(Date.now() / 1000)): UserCtx {
  const parts = token.split('.');
  if (parts.length !== 3) throw bad('Malformed token');
  const [h, p, sig] = parts as [string, string, string];
  const header = decodePart(h);
  const claims = decodePart(p);
  const alg = header.alg;
  if (typeof alg !== 'string') throw bad('Missing alg header parameter');
  const spec = ALGORITHMS[alg];
  const allowed = (get('jwt_auth', 'allowed_algorithms') ?? 'HS256').split(/\s*,\s*/).map((a) => a.trim());
  if (!spec || !allowed.includes(alg)) throw bad('Invalid alg header parameter');
  for (const c of parseRequiredClaims(get('jwt_auth', 'required_claims'))) {
    const v = c.name === 'alg' || c.name === 'typ' || c.name === 'kid' ? header[c.name] : claims[c.name];
    if (v === undefined) throw bad(`Missing ${c.name} claim`);
    if (c.value !== undefined && v !== c.value) throw bad(`Invalid ${c.name} claim`);
  }
  if (claims.nbf !== undefined && !(typeof claims.nbf === 'number' && claims.nbf < nowSeconds)) throw new CouchError('unauthorized', 'nbf not in past');
  if (claims.exp !== undefined && !(typeof claims.exp === 'number' && claims.exp > nowSeconds)) throw new CouchError('unauthorized', 'exp not in future');
  const kid = typeof header.kid === 'string' ? header.kid : '_default';
  const keyText = get('jwt_keys', `${spec.kind}:${kid}`);
  if (keyText === undefined) throw bad(`Unknown kid`);
  const message = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(sig, 'base64url');
  if (spec.kind === 'hmac') {
    const mac = createHmac(spec.hash, Buffer.from(keyText, 'base64')).update(message).digest();
    if (mac.length !== signature.length || !timingSafeEqual(mac, signature)) throw bad('Bad HMAC');
  } else {
    const key = publicKey(keyText);
    const ok = verifySignature(spec.hash, message, spec.kind === 'ec' ? { key, dsaEncoding: 'ieee-p1363' } : key, signature);
    if (!ok) throw bad('Bad signature');
  }
  if (typeof claims.sub !== 'string') throw new CouchError('unauthorized', 'Token missing sub claim.');
  return { name: claims.sub, roles: rolesOf(claims, get) };
}

/** Which of CouchDB's handlers `[chttpd] authentication_handlers` turns on. */
export interface AuthHandlers {
  jwt: boolean;
  proxy: boolean;
}

/**
 * Without the setting, CouchDB runs cookie and default only; Chaise also runs JWT once a key is
 * configured (a token then proves nothing without one), never proxy (it trusts headers).
 */
export function authHandlers(get: Get, hasJwtKeys: () => boolean): AuthHandlers {
  const list = get('chttpd', 'authentication_handlers');
  if (list === undefined) return { jwt: hasJwtKeys(), proxy: false };
  return { jwt: list.includes('jwt_authentication_handler'), proxy: list.includes('proxy_authentication_handler') };
}
