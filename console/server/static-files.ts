// Serves the built console (dist/console/app, made by `vite build` during `npm install`) at
// `/_utils/`, for the node and for the lounge alike, as CouchDB serves Fauxton there.
//
// A koa middleware that answers only paths under `/_utils` and passes everything else on. It runs
// before authentication: the files are public (the app itself logs in through `_session`).
// Hashed asset names (`assets/*-<hash>.js`) never change content, so they are cached for a year;
// `index.html` names the current hashes, so it is revalidated on every load (ETag → 304).

import type Koa from 'koa';
import { readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** Where CouchDB mounts its web console. */
export const CONSOLE_PREFIX = '/_utils';
/** One year: the longest max-age caches honour, for files whose name carries their hash. */
const IMMUTABLE_MAX_AGE_S = 365 * 24 * 3600;
/** Files larger than this are not served (the build's largest bundle is well under 1 MB). */
const FILE_BYTES_MAX = 8 * 1024 * 1024;
/** Text files at least this big are sent gzipped to clients that accept it (the JS bundle shrinks ~3×). */
const GZIP_BYTES_MIN = 1024;
/** Gzipped copies kept, by path and ETag: a build has a handful of files. */
const GZIP_CACHE_MAX = 64;
const gzipped = new Map<string, Buffer>();

function gzipOf(key: string, body: Buffer): Buffer {
  let z = gzipped.get(key);
  if (!z) {
    z = gzipSync(body, { level: 9 });
    if (gzipped.size >= GZIP_CACHE_MAX) gzipped.delete(gzipped.keys().next().value as string);
    gzipped.set(key, z);
  }
  return z;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Nothing is fetched from another origin: scripts, styles and connections stay on this server.
 * CodeMirror and uPlot set element styles at run time, hence `'unsafe-inline'` for styles only.
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'self'; base-uri 'self'; form-action 'self'";

/** The build's folder: beside this module once compiled (dist/console/app), or dist/ from the repository root. */
export function consoleRoot(): string | undefined {
  const candidates = [fileURLToPath(new URL('../app', import.meta.url)), join(process.cwd(), 'dist', 'console', 'app')];
  return candidates.find((c) => existsSync(join(c, 'index.html')));
}

interface Found {
  body: Buffer;
  type: string;
  etag: string;
  immutable: boolean;
}

/** Resolves a path below `/_utils/` to a file of the build, or undefined (never outside the build). */
async function find(root: string, rel: string): Promise<Found | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rel);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const file = normalize(join(root, decoded === '' ? 'index.html' : decoded));
  if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) return undefined;
  const st = await stat(file).catch(() => undefined);
  if (!st || !st.isFile() || st.size > FILE_BYTES_MAX) return undefined;
  const body = await readFile(file);
  return {
    body,
    type: TYPES[extname(file)] ?? 'application/octet-stream',
    etag: `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
    immutable: decoded.startsWith('assets/'),
  };
}

function sendJson(ctx: Koa.Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.set('Content-Type', 'application/json');
  ctx.set('Cache-Control', 'must-revalidate');
  ctx.body = JSON.stringify(body) + '\n';
}

/** The middleware; `root` defaults to the built console's folder. */
export function consoleMiddleware(root: string | undefined = consoleRoot()): Koa.Middleware {
  return async (ctx, next) => {
    const path = ctx.path;
    if (path !== CONSOLE_PREFIX && !path.startsWith(CONSOLE_PREFIX + '/')) return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'GET,HEAD');
      return sendJson(ctx, 405, { error: 'method_not_allowed', reason: 'Only GET,HEAD allowed' });
    }
    // CouchDB (chttpd_misc:handle_utils_dir_req) redirects the bare name so relative URLs resolve.
    if (path === CONSOLE_PREFIX) {
      ctx.status = 301;
      ctx.set('Location', CONSOLE_PREFIX + '/' + (ctx.querystring ? '?' + ctx.querystring : ''));
      ctx.body = '';
      return;
    }
    if (!root) return sendJson(ctx, 404, { error: 'not_found', reason: 'The console is not built: run `npm run build`.' });
    const found = await find(root, path.slice(CONSOLE_PREFIX.length + 1));
    if (!found) return sendJson(ctx, 404, { error: 'not_found', reason: 'missing' });
    ctx.set('ETag', found.etag);
    ctx.set('Cache-Control', found.immutable ? `public, max-age=${IMMUTABLE_MAX_AGE_S}, immutable` : 'no-cache');
    ctx.set('X-Content-Type-Options', 'nosniff');
    if (found.type.startsWith('text/html')) {
      ctx.set('Content-Security-Policy', CSP);
      ctx.set('X-Frame-Options', 'SAMEORIGIN');
    }
    if (ctx.get('if-none-match') === found.etag) {
      ctx.status = 304;
      return;
    }
    ctx.status = 200;
    ctx.set('Content-Type', found.type);
    ctx.set('Vary', 'Accept-Encoding');
    const compressible = /^(text\/|application\/json|image\/svg)/.test(found.type) && found.body.length >= GZIP_BYTES_MIN;
    if (compressible && /\bgzip\b/.test(ctx.get('accept-encoding'))) {
      ctx.set('Content-Encoding', 'gzip');
      ctx.body = gzipOf(path + found.etag, found.body);
    } else {
      ctx.body = found.body;
    }
  };
}
