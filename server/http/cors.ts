// CORS, configured per node (`--cors`, the config file's `cors` section, or live through
// `/_node/{node}/_config/chttpd/enable_cors` and `cors/*`) and off by default, as in CouchDB's
// [cors] section. Preflight OPTIONS is answered on every route; an origin that is not allowed
// gets no CORS headers at all, so the browser refuses it. The settings are read per request, so
// a config change applies to the next one.

import type Koa from 'koa';

export interface CorsConfig {
  origins: string[];
  credentials: boolean;
  headers: string[];
  methods: string[];
  maxAgeSeconds: number;
}

/** Allowed request headers when `cors/headers` is not set. */
export const DEFAULT_CORS_HEADERS = ['accept', 'authorization', 'content-type', 'origin', 'referer', 'x-csrf-token'];
/** Allowed methods when `cors/methods` is not set. */
export const DEFAULT_CORS_METHODS = ['GET', 'PUT', 'POST', 'HEAD', 'DELETE', 'COPY', 'OPTIONS'];
/** How long a browser may cache a preflight answer when `cors/max_age` is not set. */
export const DEFAULT_CORS_MAX_AGE_SECONDS = 600;

/** What browsers may read from our responses (CouchDB's list). */
const EXPOSED_HEADERS = ['content-type', 'cache-control', 'accept-ranges', 'etag', 'server', 'x-couch-request-id', 'x-couch-update-newrev', 'x-couchdb-body-time'];

export function corsMiddleware(current: () => CorsConfig | undefined): Koa.Middleware {
  // The allowed-origin set is rebuilt only when the settings object changes.
  let seen: CorsConfig | undefined;
  let any = false;
  let allowed = new Set<string>();
  return async (ctx, next) => {
    const cfg = current();
    const origin = ctx.get('origin');
    if (!cfg || origin === '') return next();
    if (cfg !== seen) {
      seen = cfg;
      any = cfg.origins.includes('*');
      allowed = new Set(cfg.origins.map((o) => o.toLowerCase()));
    }
    const ok = any || allowed.has(origin.toLowerCase());
    if (ctx.method === 'OPTIONS' && ctx.get('access-control-request-method')) {
      ctx.status = 204;
      if (!ok) return;
      setOrigin(ctx, cfg, any, origin);
      ctx.set('Access-Control-Allow-Methods', cfg.methods.join(', '));
      const requested = ctx.get('access-control-request-headers');
      const headers = new Set(cfg.headers.map((h) => h.toLowerCase()));
      ctx.set('Access-Control-Allow-Headers', requested ? requested.split(',').map((h) => h.trim()).filter((h) => headers.has(h.toLowerCase())).join(', ') : cfg.headers.join(', '));
      ctx.set('Access-Control-Max-Age', String(cfg.maxAgeSeconds));
      return;
    }
    if (ok) {
      setOrigin(ctx, cfg, any, origin);
      ctx.set('Access-Control-Expose-Headers', EXPOSED_HEADERS.join(', '));
    }
    await next();
  };
}

function setOrigin(ctx: Koa.Context, cfg: CorsConfig, any: boolean, origin: string): void {
  // `*` cannot be combined with credentials; echo the origin instead (CouchDB does the same).
  if (any && !cfg.credentials) ctx.set('Access-Control-Allow-Origin', '*');
  else {
    ctx.set('Access-Control-Allow-Origin', origin);
    ctx.vary('Origin');
  }
  if (cfg.credentials) ctx.set('Access-Control-Allow-Credentials', 'true');
}
