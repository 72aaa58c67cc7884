// Database endpoints: create, info, delete, and the per-database properties
// (`_revs_limit`, `_security`, `_compact`, `_ensure_full_commit`).

import { performance } from 'node:perf_hooks';
import type Router from '@koa/router';
import { CouchError } from '../../errors/catalog.js';
import { requireDbAdmin, requireServerAdmin } from '../../auth/access.js';
import { validateDbName } from '../../storage/catalog.js';
import type { Database } from '../../storage/database.js';
import type { SecurityObject } from '../../storage/records.js';
import { purgeSeq } from '../../storage/purge.js';
import { readJson, requireJsonType } from '../body.js';
import { absoluteUri, send } from '../respond.js';
import type { Services } from '../services.js';
import { openDb } from './documents.js';

export function dbInfo(db: Database): Record<string, unknown> {
  const c = db.counters;
  return {
    db_name: db.name,
    purge_seq: db.seq.format(purgeSeq(db)),
    update_seq: db.seq.format(db.updateSeq),
    sizes: sizesOf(db),
    props: db.partitioned ? { partitioned: true } : {},
    doc_del_count: c.delCount,
    doc_count: c.docCount,
    disk_format_version: 8,
    compact_running: db.compactionsRunning > 0,
    cluster: { q: 1, n: 1, w: 1, r: 1 },
    instance_start_time: String(db.record.created),
  };
}

export function registerDatabase(router: Router, s: Services): void {
  router.put('/:db', async (ctx) => {
    const name = ctx.params.db as string;
    validateDbName(name);
    requireServerAdmin(ctx.state.user);
    await s.catalog.create(name, { partitioned: partitionedParam(ctx.query.partitioned) });
    ctx.set('Location', absoluteUri(ctx, `/${encodeURIComponent(name)}`));
    send(ctx, 201, { ok: true });
  });

  router.get('/:db', (ctx) => {
    const db = openDb(s, ctx);
    // chttpd_db times fabric:get_db_info for couchdb.dbinfo.
    const started = performance.now();
    const info = dbInfo(db);
    const now = performance.now();
    s.stats.dbInfoTime.record(now - started, now);
    send(ctx, 200, info);
  });
  router.head('/:db', (ctx) => send(ctx, 200, dbInfo(openDb(s, ctx))));

  router.delete('/:db', async (ctx) => {
    const name = ctx.params.db as string;
    validateDbName(name);
    requireServerAdmin(ctx.state.user);
    if ((ctx.query as Record<string, unknown>).rev !== undefined) {
      throw new CouchError('bad_request', 'You tried to DELETE a database with a ?=rev parameter. Did you mean to DELETE a document instead?');
    }
    await s.catalog.delete(name);
    send(ctx, 200, { ok: true });
  });

  // Temporary views went with CouchDB 2.0 (chttpd_view:handle_temp_view_req).
  router.all('/:db/_temp_view', (ctx) => {
    openDb(s, ctx);
    throw new CouchError('gone', 'Temporary views are not supported in CouchDB');
  });

  router.get('/:db/_revs_limit', (ctx) => send(ctx, 200, openDb(s, ctx).revsLimit));
  router.put('/:db/_revs_limit', async (ctx) => {
    const db = openDb(s, ctx);
    requireDbAdmin(db.security, ctx.state.user);
    const limit = await readJson(ctx, s.limits);
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit <= 0) {
      throw new CouchError('bad_request', 'Rev limit has to be a positive integer');
    }
    await db.setRevsLimit(limit);
    send(ctx, 200, { ok: true });
  });

  router.get('/:db/_security', (ctx) => send(ctx, 200, openDb(s, ctx).security));
  router.put('/:db/_security', async (ctx) => {
    const db = openDb(s, ctx);
    requireDbAdmin(db.security, ctx.state.user);
    const sec = await readJson(ctx, s.limits);
    validateSecurity(sec);
    await db.setSecurity(sec);
    send(ctx, 200, { ok: true });
  });

  router.post('/:db/_compact', async (ctx) => {
    const db = openDb(s, ctx);
    requireDbAdmin(db.security, ctx.state.user);
    requireJsonType(ctx);
    // CouchDB answers at once and compacts in the background; so do we.
    void db.compact().catch((e: unknown) => console.error('compaction failed', e));
    send(ctx, 202, { ok: true });
  });

  router.post('/:db/_ensure_full_commit', (ctx) => {
    const db = openDb(s, ctx);
    send(ctx, 201, { ok: true, instance_start_time: String(db.record.created) });
  });
}

/** chttpd_db:parse_partitioned_opt: `?partitioned=true|false`, anything else is refused. */
function partitionedParam(v: unknown): boolean {
  if (v === undefined) return false;
  const value = Array.isArray(v) ? v[v.length - 1] : v;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new CouchError('bad_request', 'Invalid `partitioned` parameter');
}

function validateSecurity(sec: unknown): asserts sec is SecurityObject {
  if (typeof sec !== 'object' || sec === null || Array.isArray(sec)) {
    throw new CouchError('bad_request', 'Security object must be a JSON object');
  }
  // couch_db:validate_security throws a bare string for bad names or roles, which chttpd answers
  // 500 (reader_acl_test.exs expects that); `members` falls back to 1.0's `readers`.
  const props = sec as Record<string, unknown>;
  for (const g of [props.admins, props.members ?? props.readers]) {
    if (g === undefined) continue;
    if (typeof g !== 'object' || g === null || Array.isArray(g)) throw new CouchError('unknown_error', 'admins or members must be a JSON list of strings');
    for (const list of ['names', 'roles'] as const) {
      const v = (g as Record<string, unknown>)[list];
      if (v !== undefined && (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))) {
        throw new CouchError('unknown_error', `${list} must be a JSON list of strings`);
      }
    }
  }
}

/** CouchDB's member order: file, external, active (see DbSizes for what each counts). */
function sizesOf(db: Database): { file: number; external: number; active: number } {
  const { file, external, active } = db.sizes();
  return { file, external, active };
}
