// One design document's code, running in its own isolated-vm isolate.
//
// The host side of the sandbox: it creates the isolate lazily, installs the
// prelude (see prelude.ts) with the ddoc's JSON, and crosses into it only with
// strings, in batches. It guarantees:
// - a call that runs past CALL_TIMEOUT_MS or exhausts ISOLATE_MEMORY_LIMIT_MB
//   fails with a CouchDB-shaped 500 `os_process_error`; the isolate is disposed
//   and the next call gets a fresh one, so the node keeps serving;
// - user errors come back as CouchDB errors (403 forbidden / 401 unauthorized
//   from validate_doc_update, 400 compilation_error, ...), never as crashes;
// - `log()` lines from user code reach the injected logger, bounded in number.
// Calls are serialized per isolate by isolated-vm itself.

import ivm from 'isolated-vm';
import { debuglog } from 'node:util';
import { CouchError, osProcessError } from '../errors/couch-error.js';
import { PRELUDE_SOURCE } from './prelude.js';
import { compileCoffeeDesign } from './coffee.js';
import {
  CALL_TIMEOUT_MS,
  ISOLATE_MEMORY_LIMIT_MB,
  LOG_LINE_CHARS_MAX,
  LOG_LINES_MAX,
  MAP_BATCH_BYTES_MAX,
  MAP_BATCH_DOCS_MAX,
  MAP_BATCHES_IN_FLIGHT,
  LIST_ROWS_FIRST,
  LIST_ROWS_MAX,
  REDUCE_LIMIT_CHARS,
} from './limits.js';

const debug = debuglog('chaise:views');

/** A design document as stored (only the fields design code uses matter). */
export interface DesignDoc {
  _id: string;
  _rev?: string;
  language?: string;
  views?: Record<string, { map?: string; reduce?: string } | unknown>;
  filters?: Record<string, string>;
  validate_doc_update?: string;
  options?: Record<string, unknown>;
  [field: string]: unknown;
}

/** One emitted row: [key, value]. */
export type Emit = [unknown, unknown];

/** A reduce call: keys ([[key, docid], ...]) with values, or a rereduce (keys null). */
export interface ReduceJob {
  keys: [unknown, string][] | null;
  values: unknown[];
  rereduce: boolean;
}

export type SandboxLogger = (ddocId: string, message: string) => void;

export interface SandboxOptions {
  memoryLimitMb?: number;
  timeoutMs?: number;
  logger?: SandboxLogger;
}

interface Api {
  map: ivm.Reference<(names: string, docs: string) => string>;
  reduce: ivm.Reference<(view: string, jobs: string) => string>;
  validate: ivm.Reference<(args: string) => string>;
  filter: ivm.Reference<(name: string, docs: string, req: string) => string>;
  filterView: ivm.Reference<(name: string, docs: string) => string>;
  check: ivm.Reference<(paths: string) => string>;
  show: ivm.Reference<(name: string, doc: string, req: string) => string>;
  update: ivm.Reference<(name: string, doc: string, req: string) => string>;
  list: ivm.Reference<(name: string, head: string, req: string, pull: ivm.Reference<unknown>) => string>;
  rewrite: ivm.Reference<(req: string) => string>;
}

/** What a show or update function answers (CouchDB's external response object). */
export interface RenderResponse {
  code?: unknown;
  headers?: unknown;
  body?: unknown;
  json?: unknown;
  base64?: unknown;
  [field: string]: unknown;
}

/** One crossing of a running list into the host: what it sent since the last one. */
export interface ListOutput {
  /**
   * The response head: `start()` plus the negotiated Content-Type on the first crossing, and
   * again whenever the list called start() since (the response starts at the first output).
   */
  start?: RenderResponse;
  chunks: string[];
}

/**
 * The host side of a running list. `pull` receives the list's output so far and answers up to
 * `maxRows` next rows ([] when there are no more, or when maxRows is 0), or 'stop' when the
 * client has gone.
 */
export interface ListIo {
  pull(out: ListOutput, maxRows: number): Promise<unknown[] | 'stop'>;
}

interface Reply {
  ok?: unknown;
  fail?: { error: string; reason: string };
  logs: string[];
}

/**
 * HTTP status of an error design code raised (CouchDB's chttpd:error_info for the same names);
 * anything else is a 500.
 */
const ERROR_STATUS: Record<string, number> = {
  compilation_error: 400,
  bad_request: 400,
  query_parse_error: 400,
  not_found: 404,
  forbidden: 403,
  unauthorized: 401,
  not_acceptable: 406,
  method_not_allowed: 405,
};

/**
 * A CoffeeScript ddoc compiled to JavaScript; one that does not compile runs as JavaScript that
 * reports the compilation error from every call (the sandbox is made where no error can be thrown).
 */
function coffeeOrBroken(ddoc: DesignDoc): DesignDoc {
  try {
    return compileCoffeeDesign(ddoc);
  } catch (e) {
    const reason = JSON.stringify((e as Error & { reason?: string }).reason ?? (e as Error).message);
    const broken = `(function () { throw ['error', 'compilation_error', ${reason}]; })`;
    return { _id: ddoc._id, language: 'javascript', views: {}, shows: {}, lists: {}, updates: {}, filters: {}, validate_doc_update: broken };
  }
}

const defaultLogger: SandboxLogger = (id, msg) => debug('%s: %s', id, msg);

export class DesignSandbox {
  readonly ddocId: string;
  private readonly ddocJson: string;
  private readonly memoryLimitMb: number;
  private readonly timeoutMs: number;
  private readonly logger: SandboxLogger;
  private isolate: ivm.Isolate | null = null;
  private api: Api | null = null;
  private inflight = 0;
  private released = false;

  constructor(ddoc: DesignDoc, options: SandboxOptions = {}) {
    this.ddocId = ddoc._id;
    // Attachments never hold code; leaving them out keeps big ddocs cheap to load.
    const { _attachments: _ignored, ...code } = ddoc;
    this.ddocJson = JSON.stringify(code.language === 'coffeescript' ? coffeeOrBroken(code as DesignDoc) : code);
    this.memoryLimitMb = options.memoryLimitMb ?? ISOLATE_MEMORY_LIMIT_MB;
    this.timeoutMs = options.timeoutMs ?? CALL_TIMEOUT_MS;
    this.logger = options.logger ?? defaultLogger;
  }

  /**
   * Run the named views' map functions over docs. Result: per doc, per view,
   * its emits. Docs cross in batches; up to MAP_BATCHES_IN_FLIGHT batches are
   * queued on the isolate at once, so the host serializes the next batch and
   * parses the previous result while the isolate (on its own thread) maps.
   */
  async map(viewNames: readonly string[], docs: readonly unknown[]): Promise<Emit[][][]> {
    const names = JSON.stringify(viewNames);
    const calls: Promise<Emit[][][]>[] = [];
    let batch: string[] = [];
    let bytes = 0;
    const send = async (): Promise<void> => {
      if (batch.length === 0) return;
      const json = `[${batch.join(',')}]`;
      batch = [];
      bytes = 0;
      const p = this.call('map', (api) => api.map, [names, json]) as Promise<Emit[][][]>;
      p.catch(() => undefined); // awaited below; this only silences the early-rejection warning
      calls.push(p);
      const waitFor = calls[calls.length - 1 - MAP_BATCHES_IN_FLIGHT];
      if (waitFor !== undefined) await waitFor;
    };
    for (const doc of docs) {
      // A string is a document already serialized by the caller.
      const json = typeof doc === 'string' ? doc : JSON.stringify(doc);
      if (batch.length > 0 && (batch.length >= MAP_BATCH_DOCS_MAX || bytes + json.length > MAP_BATCH_BYTES_MAX)) {
        await send();
      }
      batch.push(json);
      bytes += json.length;
    }
    await send();
    const out: Emit[][][] = [];
    for (const p of calls) for (const r of await p) out.push(r);
    return out;
  }

  /** Run one view's JS reduce function over several jobs in one crossing. */
  async reduce(viewName: string, jobs: readonly ReduceJob[]): Promise<unknown[]> {
    if (jobs.length === 0) return [];
    // The 4th element is the input size CouchDB's reduce_limit compares against.
    const payload = jobs.map((j) => {
      const input = JSON.stringify([j.keys, j.values]);
      return `[${JSON.stringify(j.keys)},${JSON.stringify(j.values)},${j.rereduce},${input.length}]`;
    });
    return (await this.call('reduce', (api) => api.reduce, [viewName, `[${payload.join(',')}]`])) as unknown[];
  }

  /**
   * validate_doc_update(newDoc, oldDoc, userCtx, secObj). Resolves when the update
   * is allowed; throws 403 forbidden / 401 unauthorized / 500 otherwise.
   */
  async validate(newDoc: unknown, oldDoc: unknown, userCtx: unknown, secObj: unknown): Promise<void> {
    const res = await this.call('validate_doc_update', (api) => api.validate, [
      JSON.stringify([newDoc, oldDoc ?? null, userCtx ?? null, secObj ?? null]),
    ]);
    if (res === 1 || res === true) return;
    if (typeof res === 'object' && res !== null && !Array.isArray(res)) {
      const entries = Object.entries(res as Record<string, unknown>);
      const [kind, message] = entries[0] ?? ['unknown_error', ''];
      const reason = typeof message === 'string' ? message : JSON.stringify(message);
      if (kind === 'forbidden') throw new CouchError(403, 'forbidden', reason);
      if (kind === 'unauthorized') throw new CouchError(401, 'unauthorized', reason);
      throw new CouchError(500, 'unknown_error', reason);
    }
    throw new CouchError(500, 'unknown_error', typeof res === 'string' ? res : JSON.stringify(res));
  }

  /** filters.<name>(doc, req) for each doc, in one crossing. */
  async filter(name: string, docs: readonly unknown[], req: unknown): Promise<boolean[]> {
    return (await this.call(`filter ${name}`, (api) => api.filter, [
      name,
      JSON.stringify(docs),
      JSON.stringify(req ?? {}),
    ])) as boolean[];
  }

  /** The `_view` changes filter: true for each doc the view's map emits for. */
  async filterView(viewName: string, docs: readonly unknown[]): Promise<boolean[]> {
    return (await this.call(`view ${viewName}`, (api) => api.filterView, [viewName, JSON.stringify(docs)])) as boolean[];
  }

  /** shows.<name>(doc, req): the response object (string answers come back as {body}). */
  async show(name: string, doc: unknown, req: unknown): Promise<RenderResponse> {
    return (await this.call(`show ${name}`, (api) => api.show, [name, JSON.stringify(doc ?? null), JSON.stringify(req)])) as RenderResponse;
  }

  /** updates.<name>(doc, req): [the doc to save or null, the response object]. */
  async update(name: string, doc: unknown, req: unknown): Promise<[Record<string, unknown> | null, RenderResponse]> {
    return (await this.call(`update ${name}`, (api) => api.update, [name, JSON.stringify(doc ?? null), JSON.stringify(req)])) as [
      Record<string, unknown> | null,
      RenderResponse,
    ];
  }

  /** The `rewrites` function of the ddoc: the new request, or null when it matched nothing. */
  async rewrite(req: unknown): Promise<Record<string, unknown> | null> {
    return (await this.call('rewrites', (api) => api.rewrite, [JSON.stringify(req)])) as Record<string, unknown> | null;
  }

  /**
   * lists.<name>(head, req), streaming: each time the list needs rows it crosses into the host
   * through `io.pull` (handing over what it sent), so rows are read lazily and output leaves as
   * it is produced. There is no limit on the whole run (a list over a large view takes as long
   * as it takes) but the isolate must cross back within the call timeout each time: a list that
   * loops or sends without asking for rows is stopped then, and its isolate disposed. Resolves
   * with the last chunks (the list's return value included).
   */
  async list(name: string, head: unknown, req: unknown, io: ListIo): Promise<ListOutput> {
    this.released = false;
    const api = this.ensure();
    const isolate = this.isolate as ivm.Isolate;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        if (!isolate.isDisposed) isolate.dispose();
      }, this.timeoutMs);
    };
    let batch = LIST_ROWS_FIRST;
    let handedAt = Date.now();
    const pull = new ivm.Reference(async (msgJson: string): Promise<string> => {
      if (timer !== undefined) clearTimeout(timer);
      const took = Date.now() - handedAt;
      if (took > this.timeoutMs / 4) batch = Math.max(1, batch >> 1);
      else if (took < this.timeoutMs / 16) batch = Math.min(LIST_ROWS_MAX, batch * 2);
      try {
        const msg = JSON.parse(msgJson) as ListOutput & { rows: boolean };
        const rows = await io.pull(msg.start !== undefined ? { start: msg.start, chunks: msg.chunks } : { chunks: msg.chunks }, msg.rows ? batch : 0);
        return JSON.stringify(rows);
      } finally {
        handedAt = Date.now();
        arm();
      }
    });
    let raw: unknown;
    this.inflight++;
    arm();
    try {
      raw = await api.list.apply(undefined, [name, JSON.stringify(head), JSON.stringify(req), pull], {
        arguments: { reference: false },
      } as ivm.ScriptRunOptions);
    } catch (e) {
      const message = (e as Error).message ?? String(e);
      const oom = !timedOut && (/memory limit/i.test(message) || isolate.isDisposed);
      if (this.isolate === isolate) this.reset();
      if (timedOut) throw osProcessError(`The list ${name} function of ${this.ddocId} timed out after ${this.timeoutMs} ms`);
      if (oom) throw osProcessError(`The list ${name} function of ${this.ddocId} exceeded the ${this.memoryLimitMb} MB memory limit`);
      throw osProcessError(`The list ${name} function of ${this.ddocId} failed: ${message}`);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      pull.release();
      this.inflight--;
      if (this.released && this.inflight === 0) this.reset();
    }
    return this.settle(`list ${name}`, raw) as ListOutput;
  }

  /** Compile the functions at the given ddoc paths now; throws compilation_error if one is broken. */
  async check(paths: readonly string[][]): Promise<void> {
    await this.call('check', (api) => api.check, [JSON.stringify(paths)]);
  }

  /**
   * Free the isolate (after the calls in flight finish). The object stays usable:
   * a later call starts a new isolate, so a caller holding it across a pool
   * eviction never sees a spurious failure.
   */
  dispose(): void {
    this.released = true;
    if (this.inflight === 0) this.reset();
  }

  /** True while an isolate is allocated (for tests and the pool's bookkeeping). */
  get live(): boolean {
    return this.isolate !== null && !this.isolate.isDisposed;
  }

  private reset(): void {
    const iso = this.isolate;
    this.isolate = null;
    this.api = null;
    if (iso !== null && !iso.isDisposed) iso.dispose();
  }

  private ensure(): Api {
    if (this.api !== null && this.isolate !== null && !this.isolate.isDisposed) return this.api;
    this.reset();
    const isolate = new ivm.Isolate({ memoryLimit: this.memoryLimitMb });
    try {
      const context = isolate.createContextSync();
      const limits = {
        logLines: LOG_LINES_MAX,
        logLineChars: LOG_LINE_CHARS_MAX,
        reduceLimit: true,
        reduceLimitChars: REDUCE_LIMIT_CHARS,
      };
      const apiRef = context.evalClosureSync(PRELUDE_SOURCE, [this.ddocJson, limits], {
        arguments: { copy: true },
        result: { reference: true },
        timeout: this.timeoutMs,
      }) as ivm.Reference<Record<string, unknown>>;
      const fn = <T>(name: string): ivm.Reference<T> => apiRef.getSync(name, { reference: true }) as ivm.Reference<T>;
      this.api = {
        map: fn('map'),
        reduce: fn('reduce'),
        validate: fn('validate'),
        filter: fn('filter'),
        filterView: fn('filterView'),
        check: fn('check'),
        show: fn('show'),
        update: fn('update'),
        list: fn('list'),
        rewrite: fn('rewrite'),
      };
      this.isolate = isolate;
      return this.api;
    } catch (e) {
      if (!isolate.isDisposed) isolate.dispose();
      throw osProcessError(`Could not start the sandbox for ${this.ddocId}: ${(e as Error).message}`);
    }
  }

  private async call(
    what: string,
    pick: (api: Api) => ivm.Reference<(...args: string[]) => string>,
    args: string[],
  ): Promise<unknown> {
    this.released = false;
    const api = this.ensure();
    const isolate = this.isolate as ivm.Isolate;
    let raw: unknown;
    this.inflight++;
    try {
      raw = await pick(api).apply(undefined, args, { timeout: this.timeoutMs });
    } catch (e) {
      const message = (e as Error).message ?? String(e);
      const oom = isolate.isDisposed || /memory limit/i.test(message);
      // Whatever state the isolate is in after a timeout or OOM, it is not trusted again.
      if (this.isolate === isolate) this.reset();
      if (oom) {
        throw osProcessError(`The ${what} function of ${this.ddocId} exceeded the ${this.memoryLimitMb} MB memory limit`);
      }
      if (/timed out/i.test(message)) {
        throw osProcessError(`The ${what} function of ${this.ddocId} timed out after ${this.timeoutMs} ms`);
      }
      throw osProcessError(`The ${what} function of ${this.ddocId} failed: ${message}`);
    } finally {
      this.inflight--;
      if (this.released && this.inflight === 0) this.reset();
    }
    return this.settle(what, raw);
  }

  /** A call's JSON reply: its logs go to the logger, its failure becomes a CouchError. */
  private settle(what: string, raw: unknown): unknown {
    if (typeof raw !== 'string') throw osProcessError(`The ${what} function of ${this.ddocId} returned no result`);
    const reply = JSON.parse(raw) as Reply;
    for (const line of reply.logs) this.logger(this.ddocId, line);
    if (reply.fail !== undefined) {
      const { error, reason } = reply.fail;
      throw new CouchError(ERROR_STATUS[error] ?? 500, error, reason);
    }
    return reply.ok;
  }
}
