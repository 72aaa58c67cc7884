// The view engine: the one object the server holds for everything design-doc
// related. It owns the sandbox pool, the node cache and the open view groups,
// and turns HTTP-shaped inputs (query-string map, JSON body) into CouchDB
// response bodies or CouchDB-shaped errors, so the server's handlers stay thin.
//
// One engine per server process, over the server's `views` LMDB sub-database.
// View groups are opened lazily per (database instance, design signature).

import type { Database } from 'lmdb';
import { debuglog } from 'node:util';
import { CouchError, notFound } from '../errors/couch-error.js';
import { builtinReducer } from '../reduce/builtin.js';
import { deleteRange, ViewGroup, type ViewStats } from '../index-store/view-group.js';
import { viewGroupDef } from '../index-store/design.js';
import type { DocSource } from '../index-store/doc-source.js';
import { NodeCache } from '../index-store/node-cache.js';
import type { TreeShape } from '../index-store/btree.js';
import { parseViewArgs, validateViewArgs } from '../query/params.js';
import { arrayCursor, mapCursor, runMapQuery, runReduceQuery, type RowCursor, type ViewResponse } from '../query/run-view.js';
import type { DesignDoc, ListIo, ListOutput, RenderResponse, SandboxOptions } from '../sandbox/design-sandbox.js';
import { SandboxPool } from '../sandbox/sandbox-pool.js';
import { compileCoffeeDesign } from '../sandbox/coffee.js';
import { explainFind, newFindStats, runFind, type FindResponse, type FindScope, type FindStats } from '../mango/find.js';
import { createIndex, deleteIndex, listIndexesResponse } from '../mango/index-def.js';

const debug = debuglog('chaise:views');

export interface ViewEngineOptions {
  /** The server's `views` sub-database (`root.openDB({ name: 'views' })`). */
  db: Database;
  sandbox?: SandboxOptions & { isolatesMax?: number };
  /** Decoded index nodes kept in memory. */
  nodeCacheMax?: number;
  /** Index node sizes; only tests change this (tiny nodes → deep trees). */
  treeShape?: TreeShape;
  /**
   * The most rows a partition query may ask for, and what it gets without a `limit` (CouchDB's
   * `[query_server_config] partition_query_limit`); read on every query, so it may change.
   */
  partitionQueryLimit?: () => number;
}

/** CouchDB's default `partition_query_limit`. */
export const PARTITION_QUERY_LIMIT_DEFAULT = 2000;

/** The body of GET /db/_design/ddoc/_info. */
export interface DesignInfo {
  name: string;
  view_index: Record<string, unknown>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class ViewEngine {
  readonly pool: SandboxPool;
  private readonly db: Database;
  private readonly cache: NodeCache;
  private readonly groups = new Map<string, ViewGroup>();
  private readonly shape: TreeShape | undefined;
  private readonly partitionQueryLimit: () => number;
  /** Documents mapped and rows emitted since start-up (the node's `_stats` reads them). */
  readonly stats: ViewStats = { mapDocs: 0, emits: 0 };
  /** Mango totals since start-up (the node's `_stats` reads them). */
  readonly findStats: FindStats = newFindStats();
  private running = 0;

  constructor(options: ViewEngineOptions) {
    this.db = options.db;
    this.pool = new SandboxPool(options.sandbox ?? {});
    this.cache = new NodeCache(options.nodeCacheMax);
    this.shape = options.treeShape;
    this.partitionQueryLimit = options.partitionQueryLimit ?? (() => PARTITION_QUERY_LIMIT_DEFAULT);
  }

  /** The view group of a design document in a database, opened on first use. */
  group(dbKey: string, ddoc: DesignDoc): ViewGroup {
    const sig = viewGroupDef(ddoc).signature;
    const key = `${dbKey}\u0000${sig}`;
    let g = this.groups.get(key);
    if (g !== undefined && g.isBroken) {
      // A failed commit or a lost node: start this index over.
      const broken = g;
      this.groups.delete(key);
      void broken.destroy().catch((e: unknown) => debug('dropping broken index failed: %s', (e as Error).message));
      g = undefined;
    }
    if (g === undefined) {
      g = new ViewGroup(
        { db: this.db, cache: this.cache, pool: this.pool, stats: this.stats, ...(this.shape ? { shape: this.shape } : {}) },
        dbKey,
        ddoc,
      );
      this.groups.set(key, g);
    } else {
      g.setDesignDoc(ddoc);
    }
    return g;
  }

  /**
   * GET/POST /db/_design/ddoc/_view/name. `query` is the query-string map,
   * `body` the parsed JSON body of a POST (or undefined). A parameter in both takes the URL's
   * value, unless `bodyWins` (a member of `queries`, which overrides the URL's).
   */
  async queryView(
    source: DocSource,
    ddoc: DesignDoc,
    viewName: string,
    query: Record<string, string>,
    body?: unknown,
    bodyWins = false,
  ): Promise<ViewResponse> {
    const args = parseViewArgs(query, body, bodyWins);
    checkLanguage(ddoc);
    const group = this.group(source.dbKey, ddoc);
    const vi = group.viewIndex(viewName);
    if (vi < 0) throw notFound('missing_named_view');
    const view = group.def.views[vi]!;
    const q = validateViewArgs(args, view.reduce !== null, (a, b) => group.orders[vi]!.cmpBounds(a, b));
    // couch_mrview_util:validate_args/2: a partitioned view answers partition queries only, and a global one none.
    if (group.def.partitioned && q.partition === undefined) {
      throw new CouchError(400, 'query_parse_error', '`partition` parameter is mandatory for queries to this view.');
    }
    if (!group.def.partitioned && q.partition !== undefined) {
      throw new CouchError(400, 'query_parse_error', '`partition` parameter is not supported in this design doc');
    }
    // couch_mrview_util:apply_limit: a partition query gets at most partition_query_limit rows.
    if (group.def.partitioned) {
      const max = this.partitionQueryLimit();
      if (q.limit === undefined) q.limit = max;
      else if (q.limit > max) throw new CouchError(400, 'query_parse_error', `Limit is too large, must not exceed ${max}`);
    }
    if (q.update === 'true') await group.update(source);
    const snap = group.snapshot();
    try {
      if (q.viewType === 'map') return runMapQuery(group, vi, q, snap, source);
      return await runReduceQuery(group, vi, q, snap, group.reducers[vi]!);
    } finally {
      snap.release();
      if (q.update === 'lazy') {
        group.update(source).catch((e: unknown) => debug('lazy view update failed: %s', (e as Error).message));
      }
    }
  }

  /**
   * A view's rows as a cursor, for `_list`: the same parameters and errors as queryView, but a
   * map query without `keys` is read a page at a time from one snapshot (held until close()).
   */
  async openViewCursor(
    source: DocSource,
    ddoc: DesignDoc,
    viewName: string,
    query: Record<string, string>,
    body?: unknown,
  ): Promise<RowCursor> {
    const args = parseViewArgs(query, body);
    checkLanguage(ddoc);
    const group = this.group(source.dbKey, ddoc);
    const vi = group.viewIndex(viewName);
    if (vi < 0) throw notFound('missing_named_view');
    const view = group.def.views[vi]!;
    const q = validateViewArgs(args, view.reduce !== null, (a, b) => group.orders[vi]!.cmpBounds(a, b));
    if (q.update === 'true') await group.update(source);
    const snap = group.snapshot();
    if (q.update === 'lazy') {
      group.update(source).catch((e: unknown) => debug('lazy view update failed: %s', (e as Error).message));
    }
    if (q.viewType === 'map' && q.keys === undefined) return mapCursor(group, vi, q, snap, source);
    try {
      const res = q.viewType === 'map' ? runMapQuery(group, vi, q, snap, source) : await runReduceQuery(group, vi, q, snap, group.reducers[vi]!);
      return arrayCursor(res);
    } finally {
      snap.release();
    }
  }

  /** Bring a design document's index up to date (e.g. for a warm-up or a test). */
  async updateIndex(source: DocSource, ddoc: DesignDoc): Promise<void> {
    await this.group(source.dbKey, ddoc).update(source);
  }

  /** GET /db/_design/ddoc/_info. */
  info(source: DocSource, ddoc: DesignDoc): DesignInfo {
    const g = this.group(source.dbKey, ddoc);
    const bytes = g.activeBytes;
    const pending = Math.max(0, source.updateSeq() - g.indexedSeq);
    return {
      name: ddoc._id.replace(/^_design\//, ''),
      view_index: {
        collator_versions: [process.versions.icu ?? 'unknown'],
        compact_running: g.compactRunning,
        language: g.def.language,
        purge_seq: 0,
        signature: g.signature,
        sizes: { active: bytes, external: bytes, file: g.fileBytes },
        update_seq: g.indexedSeq,
        updater_running: g.updaterRunning,
        updates_pending: { minimum: pending, preferred: pending, total: pending },
        waiting_clients: g.waiting,
        waiting_commit: false,
      },
    };
  }

  /** POST /db/_compact/ddoc: rebuild the index's trees compactly. Resolves when done. */
  async compact(source: DocSource, ddoc: DesignDoc): Promise<void> {
    await this.group(source.dbKey, ddoc).compact();
  }

  /**
   * POST /db/_view_cleanup: delete every stored index of this database whose
   * signature no current design document has.
   */
  async cleanup(dbKey: string, ddocs: readonly DesignDoc[]): Promise<void> {
    const live = new Set(ddocs.map((d) => viewGroupDef(d).signature));
    for (const sig of this.storedSignatures(dbKey)) {
      if (live.has(sig)) continue;
      const key = `${dbKey}\u0000${sig}`;
      const g = this.groups.get(key);
      this.groups.delete(key);
      if (g !== undefined) await g.destroy();
      else await deleteRange(this.db, [dbKey, sig], [dbKey, sig, '\uffff']);
    }
  }

  /** Delete every index of a database instance (after DELETE /db). */
  async dropDatabase(dbKey: string): Promise<void> {
    for (const [key, g] of [...this.groups]) {
      if (g.dbKey === dbKey) {
        this.groups.delete(key);
        await g.destroy();
      }
    }
    await deleteRange(this.db, [dbKey], [dbKey, '\uffff']);
  }

  /** Signatures that have stored data for this database (one seek per index). */
  storedSignatures(dbKey: string): string[] {
    const out: string[] = [];
    let start: (string | number)[] = [dbKey];
    for (;;) {
      const next = [...this.db.getKeys({ start, end: [dbKey, '\uffff'], limit: 1 })][0] as unknown[] | undefined;
      if (next === undefined || next[0] !== dbKey || typeof next[1] !== 'string') return out;
      out.push(next[1]);
      start = [dbKey, `${next[1]}\uffff`];
    }
  }

  /**
   * Run every design document's validate_doc_update on a write. Resolves when
   * all pass; throws 403 forbidden / 401 unauthorized (CouchDB's shapes) otherwise.
   */
  async validateDocUpdate(
    ddocs: readonly DesignDoc[],
    newDoc: unknown,
    oldDoc: unknown,
    userCtx: unknown,
    secObj: unknown,
  ): Promise<void> {
    for (const ddoc of ddocs) {
      if (typeof ddoc.validate_doc_update !== 'string' || ddoc.validate_doc_update === '') continue;
      await this.pool.get(ddoc).validate(newDoc, oldDoc, userCtx, secObj);
    }
  }

  /** filters.<name>(doc, req) over docs, one crossing: one boolean per doc. */
  runFilter(ddoc: DesignDoc, name: string, docs: readonly unknown[], req: unknown): Promise<boolean[]> {
    return this.pool.get(ddoc).filter(name, docs, req);
  }

  /** `_changes?filter=_view&view=ddoc/name`: true for each doc the view's map emits for. */
  runViewFilter(ddoc: DesignDoc, viewName: string, docs: readonly unknown[]): Promise<boolean[]> {
    const views = isObject(ddoc.views) ? ddoc.views : {};
    if (!isObject(views[viewName])) return Promise.reject(notFound('missing json view function'));
    return this.pool.get(ddoc).filterView(viewName, docs);
  }

  /**
   * Check a design document before it is saved, as CouchDB does on PUT: every
   * function must compile and every built-in reduce must exist. Throws 400
   * `invalid_design_doc` or `compilation_error`.
   */
  async validateDesignDoc(ddoc: DesignDoc): Promise<void> {
    // CouchDB stores a design document of any language; only the languages it runs are checked.
    if (!runsLanguage(ddoc) || ddoc.language === 'query') return;
    if (ddoc.language === 'coffeescript') compileCoffeeDesign(ddoc);
    const paths: string[][] = [];
    if (ddoc.views !== undefined) {
      if (!isObject(ddoc.views)) throw new CouchError(400, 'invalid_design_doc', '`views` is not an object.');
      for (const [name, v] of Object.entries(ddoc.views)) {
        if (name === 'lib') continue;
        if (!isObject(v)) throw new CouchError(400, 'invalid_design_doc', `View ${name} must be an object`);
        if (typeof v['map'] !== 'string') {
          throw new CouchError(400, 'invalid_design_doc', `View ${name} must have a map function`);
        }
        paths.push(['views', name, 'map']);
        const red = v['reduce'];
        if (red === undefined) continue;
        if (typeof red !== 'string') throw new CouchError(400, 'invalid_design_doc', `View ${name} reduce must be a string`);
        if (red.startsWith('_')) {
          if (builtinReducer(red) === null) {
            throw new CouchError(400, 'invalid_design_doc', `\`${red}\` is not a supported reduce function.`);
          }
        } else paths.push(['views', name, 'reduce']);
      }
    }
    if (isObject(ddoc.filters)) for (const name of Object.keys(ddoc.filters)) paths.push(['filters', name]);
    if (typeof ddoc.validate_doc_update === 'string') paths.push(['validate_doc_update']);
    if (paths.length > 0) await this.pool.get(ddoc).check(paths);
  }

  // ------------------------------------------------- shows, lists, updates, rewrites

  /** shows.<name>(doc, req): the response object (CouchDB's external response). */
  show(ddoc: DesignDoc, name: string, doc: unknown, req: unknown): Promise<RenderResponse> {
    requireFunction(ddoc, 'shows', name);
    return this.pool.get(ddoc, 'render').show(name, doc, req);
  }

  /** updates.<name>(doc, req): [the doc to save, or null; the response object]. */
  update(ddoc: DesignDoc, name: string, doc: unknown, req: unknown): Promise<[Record<string, unknown> | null, RenderResponse]> {
    requireFunction(ddoc, 'updates', name);
    return this.pool.get(ddoc, 'render').update(name, doc, req);
  }

  /** A `rewrites` function's answer for req, or null when it matched nothing. */
  rewrite(ddoc: DesignDoc, req: unknown): Promise<Record<string, unknown> | null> {
    checkLanguage(ddoc);
    return this.pool.get(ddoc, 'render').rewrite(req);
  }

  /**
   * lists.<name>(head, req) over rows `io.pull` hands out, in an isolate no other call shares while
   * it runs (a list runs as long as its rows last, and must not hold up shows or view builds).
   * Resolves with the last chunks (and a head, when the list called start() after its last row).
   */
  async list(ddoc: DesignDoc, name: string, head: unknown, req: unknown, io: ListIo): Promise<ListOutput> {
    checkLanguage(ddoc);
    const { sandbox, release } = this.pool.lease(ddoc);
    this.running++;
    try {
      return await sandbox.list(name, head, req, io);
    } finally {
      this.running--;
      release();
    }
  }

  /** Lists running now (each holds an isolate of its own). */
  get listsRunning(): number {
    return this.running;
  }

  // ------------------------------------------------------------------ Mango

  /**
   * POST /db/_find. `ddocs` are the database's current design documents (Mango
   * JSON indexes are those with `language: "query"`).
   */
  find(source: DocSource, ddocs: readonly DesignDoc[], body: unknown, scope: FindScope = {}): Promise<FindResponse> {
    return runFind(this, source, ddocs, body, scope, this.findStats);
  }

  /** POST /db/_explain. */
  explain(dbName: string, ddocs: readonly DesignDoc[], body: unknown, scope: FindScope = {}): Record<string, unknown> {
    return explainFind(dbName, ddocs, body, scope);
  }

  /** GET /db/_index. */
  listIndexes(ddocs: readonly DesignDoc[]): { total_rows: number; indexes: Record<string, unknown>[] } {
    return listIndexesResponse(ddocs);
  }

  /**
   * POST /db/_index. The server saves `save` (when not null) and answers
   * `response` (status 200).
   */
  createIndex(ddocs: readonly DesignDoc[], body: unknown, dbPartitioned = false): ReturnType<typeof createIndex> {
    return createIndex(ddocs, body, dbPartitioned);
  }

  /** DELETE /db/_index/{ddoc}/{type}/{name}: save `save` or delete `remove`, answer `response`. */
  deleteIndex(ddocs: readonly DesignDoc[], ddoc: string, type: string, name: string): ReturnType<typeof deleteIndex> {
    return deleteIndex(ddocs, ddoc, type, name);
  }

  /** Wait for every index write issued so far to be durable (shutdown, tests). */
  async flush(): Promise<void> {
    await Promise.all([...this.groups.values()].map((g) => g.flushed()));
  }

  /** Dispose every isolate and forget open groups (after flush()). */
  async close(): Promise<void> {
    await this.flush();
    this.groups.clear();
    this.pool.close();
  }
}

/** Whether Chaise runs this design document's code: JavaScript (the default), CoffeeScript (compiled to it) and Mango's `query`. */
export function runsLanguage(ddoc: DesignDoc): boolean {
  const language = ddoc.language ?? 'javascript';
  return language === 'javascript' || language === 'query' || language === 'coffeescript';
}

/**
 * Using the code of a design document whose language Chaise does not run (erlang, coffeescript,
 * anything stored): CouchDB's `unknown_query_language` error, with the language as the reason.
 * CouchDB answers it with a 500; it is the request that cannot be served, so Chaise answers 400.
 */
export function checkLanguage(ddoc: DesignDoc): void {
  if (!runsLanguage(ddoc)) throw new CouchError(400, 'unknown_query_language', String(ddoc.language));
}

/**
 * A show or update function must exist before anything runs: CouchDB looks the path up in the
 * design document (couch_util:get_nested_json_value) and answers 404 "missing json key: name".
 */
function requireFunction(ddoc: DesignDoc, kind: 'shows' | 'updates', name: string): void {
  checkLanguage(ddoc);
  const fns = ddoc[kind];
  if (!isObject(fns)) throw notFound(`missing json key: ${kind}`);
  if (typeof fns[name] !== 'string') throw notFound(`missing json key: ${name}`);
}
