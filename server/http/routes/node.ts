// The node API (chttpd_node.erl): `/_node/{node}` with `_local` meaning this node — its name,
// `_config` (whole, by section, by key; GET/PUT/DELETE, `_reload`), `_versions`, `_stats`,
// `_system`, `_prometheus` and `_restart` — and the single-node answers of the cluster endpoints
// (`/_membership` is in server.ts). Paths are split as CouchDB splits them, empty segments
// dropped, so add-cors-to-couchdb's `/_node/{node}//_config/…` works. Server admins only; the
// metrics endpoints also admit the `_metrics` role.

import type Router from '@koa/router';
import type { Context } from 'koa';
import { getHashes } from 'node:crypto';
import { CouchError, type CouchShaped } from '../../errors/catalog.js';
import { requireServerAdmin } from '../../auth/access.js';
import { ConfigRejected } from '../../config/store.js';
import { readRaw, parseJson, requireJsonType } from '../body.js';
import { CLUSTER_SYSTEM_DBS, ensureDbsList, planSetup, setupState, type SetupFacts } from '../../config/cluster-setup.js';
import { send } from '../respond.js';
import { PROMETHEUS_CONTENT_TYPE, toPrometheus } from '../../stats/prometheus.js';
import type { Metric, MetricTree } from '../../stats/node-stats.js';
import type { Services } from '../services.js';

/** Config sections CouchDB refuses to change over HTTP (couch_util:check_config_blacklist). */
const BLACKLISTED_SECTIONS = new Set(['daemons', 'external', 'httpd_design_handlers', 'httpd_db_handlers', 'httpd_global_handlers', 'native_query_servers', 'os_daemons', 'query_servers', 'feature_flags']);

function nodeDown(name: string): CouchShaped & Error {
  return Object.assign(new Error(`${name} is down`), { status: 412, error: 'nodedown', reason: `${name} is down` });
}

function notAllowed(methods: string): CouchError {
  return new CouchError('method_not_allowed', `Only ${methods} allowed`);
}

/** The path's segments after `/_node`, decoded, empty ones dropped (as mochiweb splits paths). */
function segments(path: string): string[] {
  return path
    .split('/')
    .filter((p) => p !== '')
    .slice(1)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        throw new CouchError('bad_request', 'invalid URL encoding');
      }
    });
}

function requireMetrics(ctx: Context): void {
  if (!ctx.state.user.roles.includes('_metrics')) requireServerAdmin(ctx.state.user);
}

/** Walks `_stats/<group>/<metric>`: a path into the tree, or CouchDB's `null` for an unknown one. */
function extract(tree: MetricTree, path: string[]): MetricTree | Metric | null {
  let at: MetricTree | Metric = tree;
  for (const p of path) {
    const next: MetricTree | Metric | undefined = (at as MetricTree)[p];
    if (next === undefined || typeof next !== 'object') return null;
    at = next;
  }
  return at;
}

export function registerNode(router: Router, s: Services): void {
  const handle = async (ctx: Context) => {
    const parts = segments(ctx.path);
    const metricsPath = parts[1];
    if (metricsPath === '_stats' || metricsPath === '_system' || metricsPath === '_prometheus') requireMetrics(ctx);
    else requireServerAdmin(ctx.state.user);
    if (parts.length === 0) throw new CouchError('bad_request', 'Incomplete path to _node request');
    const node = parts[0] as string;
    if (node !== '_local' && node !== s.nodeName) throw nodeDown(node);
    const rest = parts.slice(1);
    const method = ctx.method;
    if (rest.length === 0) return send(ctx, 200, { name: s.nodeName });
    const [what, ...tail] = rest as [string, ...string[]];
    switch (what) {
      case '_versions':
        if (tail.length > 0) break;
        if (method !== 'GET') throw notAllowed('GET');
        return send(ctx, 200, versions());
      case '_config':
        return config(ctx, s, tail);
      case '_stats': {
        if (method !== 'GET') throw notAllowed('GET');
        return send(ctx, 200, extract(s.stats.tree(), tail));
      }
      case '_system':
        if (tail.length > 0) break;
        if (method !== 'GET') throw notAllowed('GET');
        return send(ctx, 200, s.stats.system());
      case '_restart': {
        // chttpd_node: POST answers ok and calls init:restart(); here the restart waits until
        // the answer is out (server/README.md, Restarting).
        if (tail.length > 0) break;
        if (method !== 'POST') throw notAllowed('POST');
        const restart = s.restart;
        if (!restart) throw new CouchError('service_unavailable', 'This node is not listening on its own and cannot restart itself.');
        ctx.res.once('close', restart);
        return send(ctx, 200, { ok: true });
      }
      case '_prometheus': {
        if (tail.length > 0) break;
        if (method !== 'GET') throw notAllowed('GET');
        const mem = process.memoryUsage();
        ctx.status = 200;
        ctx.set('Content-Type', PROMETHEUS_CONTENT_TYPE);
        ctx.body = toPrometheus(s.stats.tree(), s.stats.uptimeSeconds(), { rss: mem.rss, heap_total: mem.heapTotal, heap_used: mem.heapUsed, external: mem.external, array_buffers: mem.arrayBuffers });
        return;
      }
    }
    throw new CouchError('not_found', 'missing');
  };
  router.all('/_node', handle);
  router.all('/_node/*rest', handle);

  router.all('/_cluster_setup', (ctx) => clusterSetup(ctx, s));
}

function setupFacts(s: Services): SetupFacts {
  const store = s.configStore;
  return {
    singleNode: store.get('couchdb', 'single_node'),
    clusterN: store.get('cluster', 'n'),
    bindAddress: store.get('chttpd', 'bind_address'),
    hasAdmins: Object.keys(store.section('admins')).length > 0,
    dbsExist: (dbs) => dbs.every((d) => s.catalog.get(d) !== undefined),
  };
}

/** setup_httpd:handle_setup_req/1 (decisions in config/cluster-setup.ts). */
async function clusterSetup(ctx: Context, s: Services): Promise<void> {
  // chttpd serves HEAD as GET.
  if (ctx.method === 'GET' || ctx.method === 'HEAD') {
    requireServerAdmin(ctx.state.user);
    const raw = typeof ctx.query.ensure_dbs_exist === 'string' ? ctx.query.ensure_dbs_exist : undefined;
    let dbs: string[] | null = CLUSTER_SYSTEM_DBS.slice();
    if (raw !== undefined) {
      try {
        dbs = ensureDbsList(JSON.parse(raw));
      } catch {
        throw new CouchError('bad_request', 'Invalid JSON in ensure_dbs_exist');
      }
      if (dbs === null) throw new CouchError('bad_request', 'ensure_dbs_exist must be a list of database names');
    }
    return send(ctx, 200, { state: setupState(setupFacts(s), dbs) });
  }
  if (ctx.method !== 'POST') throw notAllowed('GET,POST');
  requireServerAdmin(ctx.state.user);
  requireJsonType(ctx);
  let body: unknown;
  try {
    body = parseJson(await readRaw(ctx, s.limits), s.limits.maxJsonDepth);
  } catch (e) {
    // CouchDB catches every body failure alike; size limits still answer as they do everywhere.
    if (e instanceof CouchError && e.status === 413) throw e;
    body = undefined;
  }
  const plan = planSetup(setupFacts(s), body);
  if (!plan.ok) throw new CouchError('bad_request', plan.reason);
  try {
    for (const c of plan.config) s.configStore.set(c.section, c.key, c.value, true);
  } catch (e) {
    throw new CouchError('bad_request', e instanceof ConfigRejected ? e.reason : e instanceof Error ? e.message : String(e));
  }
  // fabric:create_db's answers are ignored, as CouchDB's lists:foreach ignores them (an existing
  // or misnamed database is no failure of the action).
  for (const name of plan.createDbs) {
    if (s.catalog.get(name)) continue;
    await s.catalog.create(name).catch((e: unknown) => {
      if (!(e instanceof CouchError)) throw e;
    });
  }
  return send(ctx, 201, { ok: true });
}

function versions(): Record<string, unknown> {
  const icu = process.versions.icu ?? '';
  return {
    javascript_engine: { name: 'v8', version: process.versions.v8 },
    node: { version: process.versions.node },
    erlang: { version: 'none', supported_hashes: getHashes() },
    collation_driver: { name: 'chaise', library_version: icu, collator_version: process.versions.unicode ?? '', collation_algorithm_version: process.versions.unicode ?? '' },
  };
}

async function config(ctx: Context, s: Services, path: string[]): Promise<void> {
  const store = s.configStore;
  const method = ctx.method;
  const persist = ctx.get('x-couch-persist') !== 'false';
  // A refused value, or a change that could not be written to the config file: CouchDB's 400.
  const rejected = (e: unknown): never => {
    if (e instanceof ConfigRejected) throw new CouchError('bad_request', e.reason);
    throw new CouchError('bad_request', e instanceof Error ? e.message : String(e));
  };
  if (path.length === 0) {
    if (method !== 'GET') throw notAllowed('GET');
    return send(ctx, 200, store.all());
  }
  if (path.length === 1 && path[0] === '_reload') {
    if (method !== 'POST') throw notAllowed('POST');
    try {
      store.reload();
    } catch (e) {
      throw new CouchError('bad_request', e instanceof Error ? e.message : String(e));
    }
    return send(ctx, 200, { ok: true });
  }
  const section = path[0] as string;
  if (path.length === 1) {
    if (method !== 'GET') throw notAllowed('GET');
    return send(ctx, 200, store.section(section));
  }
  if (path.length > 2) throw new CouchError('not_found', 'missing');
  const key = path[1] as string;
  if (method === 'GET') {
    const v = store.get(section, key);
    if (v === undefined) throw new CouchError('not_found', 'unknown_config_value');
    return send(ctx, 200, v);
  }
  if (method === 'PUT') {
    if (BLACKLISTED_SECTIONS.has(section)) throw new CouchError('forbidden', 'Config section blacklisted for modification over HTTP API.');
    const value = parseJson(await readRaw(ctx, s.limits), s.limits.maxJsonDepth);
    if (typeof value !== 'string') throw new CouchError('bad_request', 'a JSON string expected');
    let old = '';
    try {
      old = store.set(section, key, value.trim(), persist);
    } catch (e) {
      rejected(e);
    }
    return send(ctx, 200, old);
  }
  if (method === 'DELETE') {
    if (BLACKLISTED_SECTIONS.has(section)) throw new CouchError('forbidden', 'Config section blacklisted for modification over HTTP API.');
    let old: string | undefined;
    try {
      old = store.delete(section, key, persist);
    } catch (e) {
      rejected(e);
    }
    if (old === undefined) throw new CouchError('not_found', 'unknown_config_value');
    return send(ctx, 200, old);
  }
  throw notAllowed('GET,PUT,DELETE');
}
