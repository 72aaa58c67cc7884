// CORS, configured per node (`--cors` or the config file's `cors` section) and off by default, as
// in CouchDB's [cors] section. Preflight OPTIONS is answered on every route; an origin that is not
// allowed gets no CORS headers at all, so the browser refuses it.

import type Koa from 'koa';

export interface CorsConfig {
  origins: string[];
  credentials: boolean;
  headers: string[];
  methods: string[];
  maxAgeSeconds: number;
}

/** What browsers may read from our responses (CouchDB's list). */
const EXPOSED_HEADERS = ['content-type', 'cache-control', 'accept-ranges', 'etag', 'server', 'x-couch-request-id', 'x-couch-update-newrev', 'x-couchdb-body-time'];

export function corsMiddleware(cfg: CorsConfig): Koa.Middleware {
  const any = cfg.origins.includes('*');
  const allowed = new Set(cfg.origins.map((o) => o.toLowerCase()));
  return async (ctx, next) => {
    const origin = ctx.get('origin');
    const ok = origin !== '' && (any || allowed.has(origin.toLowerCase()));
    if (ctx.method === 'OPTIONS' && ctx.get('access-control-request-method')) {
      ctx.status = 204;
      if (!ok) return;
      setOrigin(ctx, origin);
      ctx.set('Access-Control-Allow-Methods', cfg.methods.join(', '));
      const requested = ctx.get('access-control-request-headers');
      const headers = new Set(cfg.headers.map((h) => h.toLowerCase()));
      ctx.set('Access-Control-Allow-Headers', requested ? requested.split(',').map((h) => h.trim()).filter((h) => headers.has(h.toLowerCase())).join(', ') : cfg.headers.join(', '));
      ctx.set('Access-Control-Max-Age', String(cfg.maxAgeSeconds));
      return;
    }
    if (ok) {
      setOrigin(ctx, origin);
      ctx.set('Access-Control-Expose-Headers', EXPOSED_HEADERS.join(', '));
    }
    await next();
  };

  function setOrigin(ctx: Koa.Context, origin: string): void {
    // `*` cannot be combined with credentials; echo the origin instead (CouchDB does the same).
    if (any && !cfg.credentials) ctx.set('Access-Control-Allow-Origin', '*');
    else {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.vary('Origin');
    }
    if (cfg.credentials) ctx.set('Access-Control-Allow-Credentials', 'true');
  }
}
