// The node's metrics in CouchDB's names, types and descriptions (stats_descriptions.cfg of
// couch, couch_mrview and couch_replicator), for `/_node/{node}/_stats`, `_prometheus` and
// `_system`. Only what Chaise really measures is listed; CouchDB's other metrics describe parts
// Chaise does not have (see test/api-fixtures-2.test.ts DEVIATIONS).
//
// Per-request cost: `requestStarted`/`requestEnded` do a clock read, three increments and a
// histogram store. The other counters and histograms are moved only by the endpoints they
// describe (`_bulk_docs`, `GET /{db}`, `_purge`, partition queries, validate_doc_update runs,
// Mango); everything else is read when a client asks.

import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { Histogram, type HistogramValue } from './histogram.js';
import type { StoreStats } from './store-stats.js';
import type { FindStats, ViewStats } from '../../views/index.js';
import type { ReplicatorMetrics } from '../../replicator/index.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface Metric {
  value: number | HistogramValue;
  type: MetricType;
  desc: string;
}

/** A nested object of metrics, as `_stats` answers: group → … → metric. */
export interface MetricTree {
  [name: string]: MetricTree | Metric;
}

/** CouchDB's status-code metrics and their descriptions. */
const STATUS_DESCS: Record<number, string> = {
  200: 'OK responses', 201: 'Created responses', 202: 'Accepted responses', 204: 'No Content responses',
  206: 'Partial Content', 301: 'Moved Permanently responses', 302: 'Found responses', 304: 'Not Modified responses',
  400: 'Bad Request responses', 401: 'Unauthorized responses', 403: 'Forbidden responses', 404: 'Not Found responses',
  405: 'Method Not Allowed responses', 406: 'Not Acceptable responses', 409: 'Conflict responses',
  412: 'Precondition Failed responses', 413: 'Request Entity Too Long responses', 414: 'Request URI Too Long responses',
  415: 'Unsupported Media Type responses', 416: 'Requested Range Not Satisfiable responses',
  417: 'Expectation Failed responses', 500: 'Internal Server Error responses', 501: 'Not Implemented responses',
  503: 'Service unavailable responses', 507: 'Insufficient Storage responses',
};
const METHODS = ['COPY', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'] as const;
/** Statuses are counted in an array indexed by code; anything outside is not a status. */
const STATUS_SLOTS = 600;
/** Event-loop delay is sampled at this resolution (ms); the cost is one timer per interval. */
const EVENT_LOOP_RESOLUTION_MS = 20;

export interface ReplicatorCounts {
  running: number;
  pending: number;
  crashed: number;
  total: number;
  adds: number;
  starts: number;
  stops: number;
  crashes: number;
  removes: number;
}

/** What the node's other parts report when stats are read. */
export interface StatsSources {
  store: StoreStats;
  views: ViewStats;
  find: FindStats;
  openDatabases: () => number;
  /** Milliseconds to open a database (couchdb.db_open_time). */
  dbOpenTimes: Histogram;
  replicator: () => ReplicatorCounts;
  /** The replicator's request, checkpoint and document-update counts (zeros without a replicator). */
  replicatorMetrics: () => ReplicatorMetrics;
  auth: { hits: number; misses: number };
}

/** Open file descriptors, where the OS lists them (Linux `/proc/self/fd`); read only when asked. */
function openFileCount(): number | undefined {
  try {
    // The listing's own descriptor is among the entries.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

export class NodeStats {
  requests = 0;
  private readonly methods = new Map<string, number>(METHODS.map((m) => [m, 0]));
  private readonly codes = new Float64Array(STATUS_SLOTS);
  readonly requestTime = new Histogram();
  /** Open continuous, longpoll and eventsource `_changes` feeds. */
  changesClients = 0;
  bulkRequests = 0;
  viewReads = 0;
  purgeRequests = 0;
  /** Documents per `_bulk_docs` request (couchdb.httpd.bulk_docs). */
  readonly bulkDocs = new Histogram();
  /** Milliseconds to compute a database's info for `GET /{db}` (couchdb.dbinfo). */
  readonly dbInfoTime = new Histogram();
  /** Requests under `/{db}/_partition/{p}/…` by kind (couchdb.httpd.partition_*_requests). */
  partitionViewRequests = 0;
  partitionAllDocsRequests = 0;
  partitionFindRequests = 0;
  partitionExplainRequests = 0;
  /** `_purge` requests that named documents, and the documents they named, by outcome. */
  databasePurges = 0;
  documentPurges = { total: 0, success: 0, failure: 0 };
  /** validate_doc_update: documents rejected, and milliseconds per document validated. */
  vduRejects = 0;
  readonly vduTime = new Histogram();
  /** Milliseconds per Mango query (mango.query_time). */
  readonly mangoQueryTime = new Histogram();
  readonly startedAt = Date.now();
  private readonly loopDelay: IntervalHistogram;

  constructor(private readonly sources: StatsSources) {
    this.loopDelay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
    this.loopDelay.enable();
  }

  close(): void {
    this.loopDelay.disable();
  }

  /** Called as a request arrives; returns the start time to hand to `requestEnded`. */
  requestStarted(method: string): number {
    this.requests++;
    const n = this.methods.get(method);
    if (n !== undefined) this.methods.set(method, n + 1);
    return performance.now();
  }

  requestEnded(status: number, startedAt: number): void {
    if (status > 0 && status < STATUS_SLOTS) this.codes[status] = (this.codes[status] as number) + 1;
    const now = performance.now();
    this.requestTime.record(now - startedAt, now);
  }

  /** Seconds since the node started. */
  uptimeSeconds(): number {
    return Math.floor((Date.now() - this.startedAt) / 1000);
  }

  /** Every metric, nested as CouchDB's `_stats` nests them. */
  tree(): MetricTree {
    const now = performance.now();
    const store = this.sources.store;
    const views = this.sources.views;
    const find = this.sources.find;
    const openFiles = openFileCount();
    const c = (value: number, desc: string): Metric => ({ value, type: 'counter', desc });
    const g = (value: number, desc: string): Metric => ({ value, type: 'gauge', desc });
    const methods: MetricTree = {};
    for (const m of METHODS) methods[m] = c(this.methods.get(m) ?? 0, `number of HTTP ${m} requests`);
    const codes: MetricTree = {};
    for (const [code, desc] of Object.entries(STATUS_DESCS)) codes[code] = c(this.codes[Number(code)] ?? 0, `number of HTTP ${code} ${desc}`);
    const tree: MetricTree = {
      couchdb: {
        auth_cache_hits: c(this.sources.auth.hits, 'number of authentication cache hits'),
        auth_cache_misses: c(this.sources.auth.misses, 'number of authentication cache misses'),
        database_reads: c(store.reads, 'number of times a document was read from a database'),
        database_purges: c(this.databasePurges, 'number of times a database was purged'),
        dbinfo: { value: this.dbInfoTime.value(now), type: 'histogram', desc: 'distribution of latencies for calls to retrieve DB info' },
        document_purges: {
          total: c(this.documentPurges.total, 'number of total document purge operations'),
          success: c(this.documentPurges.success, 'number of successful document purge operations'),
          failure: c(this.documentPurges.failure, 'number of failed document purge operations'),
        },
        database_writes: c(store.dbWrites, 'number of times a database was changed'),
        document_inserts: c(store.inserts, 'number of documents inserted'),
        document_writes: c(store.docWrites, 'number of document write operations'),
        local_document_writes: c(store.localWrites, 'number of _local document write operations'),
        open_databases: c(this.sources.openDatabases(), 'number of open databases'),
        db_open_time: { value: this.sources.dbOpenTimes.value(now), type: 'histogram', desc: 'milliseconds required to open a database' },
        ...(openFiles === undefined ? {} : { open_os_files: c(openFiles, 'number of file descriptors CouchDB has open') }),
        request_time: { value: this.requestTime.value(now), type: 'histogram', desc: 'length of a request inside CouchDB without MochiWeb' },
        httpd: {
          requests: c(this.requests, 'number of HTTP requests'),
          bulk_requests: c(this.bulkRequests, 'number of bulk requests'),
          bulk_docs: { value: this.bulkDocs.value(now), type: 'histogram', desc: 'distribution of the number of docs in _bulk_docs requests' },
          partition_view_requests: c(this.partitionViewRequests, 'number of partition HTTP view requests'),
          partition_all_docs_requests: c(this.partitionAllDocsRequests, 'number of partition HTTP _all_docs requests'),
          partition_find_requests: c(this.partitionFindRequests, 'number of partition HTTP _find requests'),
          partition_explain_requests: c(this.partitionExplainRequests, 'number of partition HTTP _explain requests'),
          view_reads: c(this.viewReads, 'number of view reads'),
          purge_requests: c(this.purgeRequests, 'number of purge requests'),
          clients_requesting_changes: c(this.changesClients, 'number of clients for continuous _changes'),
        },
        httpd_request_methods: methods,
        httpd_status_codes: codes,
        mrview: {
          map_doc: c(views.mapDocs, 'number of documents mapped in the view server'),
          emits: c(views.emits, "number of invocations of `emit' in map functions in the view server"),
        },
        query_server: {
          vdu_rejects: c(this.vduRejects, 'number of rejections by validate_doc_update function'),
          vdu_process_time: { value: this.vduTime.value(now), type: 'histogram', desc: 'duration of validate_doc_update function calls' },
        },
      },
      mango: {
        docs_examined: c(find.docsExamined, 'number of documents examined by mango queries coordinated by this node'),
        keys_examined: c(find.keysExamined, 'number of keys examined by mango queries coordinated by this node'),
        results_returned: c(find.resultsReturned, 'number of rows returned by mango queries'),
        unindexed_queries: c(find.unindexedQueries, 'number of mango queries that could not use an index'),
        too_many_docs_scanned: c(find.scanWarnings, 'number of mango queries that generated an index scan warning'),
        query_invalid_index: c(find.invalidIndexWarnings, 'number of mango queries that generated an invalid index warning'),
        query_time: { value: this.mangoQueryTime.value(now), type: 'histogram', desc: 'length of time processing a mango query' },
        // Every document examined is matched against the selector exactly once.
        evaluate_selector: c(find.docsExamined, 'number of mango selector evaluations'),
      },
    };
    const jobs = this.sources.replicator();
    const rm = this.sources.replicatorMetrics();
    tree.couch_replicator = {
      jobs: {
        running: g(jobs.running, 'replicator scheduler running jobs'),
        pending: g(jobs.pending, 'replicator scheduler pending jobs'),
        crashed: g(jobs.crashed, 'replicator scheduler crashed jobs'),
        total: g(jobs.total, 'total number of replicator scheduler jobs'),
        adds: c(jobs.adds, 'number of jobs added to replicator scheduler'),
        starts: c(jobs.starts, 'number of jobs started by replicator scheduler'),
        stops: c(jobs.stops, 'number of jobs stopped by replicator scheduler'),
        crashes: c(jobs.crashes, 'number of job crashed noticed by replicator scheduler'),
        removes: c(jobs.removes, 'number of jobs removed from replicator scheduler'),
      },
      requests: c(rm.requests, 'number of HTTP requests made by the replicator'),
      workers_started: c(rm.workersStarted, 'number of replicator workers started'),
      responses: {
        success: c(rm.responsesSuccess, 'number of successful HTTP responses received by the replicator'),
        failure: c(rm.responsesFailure, 'number of failed HTTP responses received by the replicator'),
      },
      // CouchDB's description, its typo included.
      checkpoints: {
        success: c(rm.checkpointsSuccess, 'number of checkpoints successfully saves'),
        failure: c(rm.checkpointsFailure, 'number of failed checkpoint saves'),
      },
      docs: {
        completed_state_updates: c(rm.completedStateUpdates, "number of 'completed' state document updates"),
        failed_state_updates: c(rm.failedStateUpdates, "number of 'failed' state document updates"),
      },
    };
    return tree;
  }

  /**
   * `_system`: uptime as CouchDB reports it, the process's memory in Node's kinds (CouchDB lists
   * the Erlang VM's) and the event loop's delay in milliseconds (Node's counterpart of CouchDB's
   * run queues). CouchDB's Erlang-only members are left out rather than faked.
   */
  system(): Record<string, unknown> {
    const mem = process.memoryUsage();
    const d = this.loopDelay;
    const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : 0);
    return {
      uptime: this.uptimeSeconds(),
      memory: {
        rss: mem.rss,
        heap_total: mem.heapTotal,
        heap_used: mem.heapUsed,
        external: mem.external,
        array_buffers: mem.arrayBuffers,
      },
      event_loop_delay: {
        min: ms(d.min),
        max: ms(d.max),
        mean: ms(d.mean),
        stddev: ms(d.stddev),
        50: ms(d.percentile(50)),
        90: ms(d.percentile(90)),
        99: ms(d.percentile(99)),
        count: d.count,
      },
    };
  }
}
