// The node's metrics in the Prometheus text exposition format, named as CouchDB's
// couch_prometheus names them: `couchdb_` + the metric's path joined with `_`; counters end in
// `_total`; request methods and status codes are one metric each with a label; gauges and
// counters CouchDB decrements are gauges; histograms are summaries in seconds.

import type { HistogramValue } from './histogram.js';
import type { Metric, MetricTree } from './node-stats.js';

/** What CouchDB sends as the content type's version. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=2.0';

const QUANTILES: Record<number, string> = { 50: '0.5', 75: '0.75', 90: '0.9', 95: '0.95', 99: '0.99', 999: '0.999' };
/** Metrics CouchDB counts up and down, exposed as gauges. */
const GAUGES = new Set(['open_databases', 'open_os_files', 'httpd_clients_requesting_changes']);

function isMetric(v: MetricTree | Metric): v is Metric {
  return typeof (v as Metric).type === 'string' && typeof (v as Metric).desc === 'string' && 'value' in v;
}

function leaves(tree: MetricTree, path: string[] = []): [string[], Metric][] {
  const out: [string[], Metric][] = [];
  for (const k of Object.keys(tree).sort()) {
    const v = tree[k] as MetricTree | Metric;
    if (isMetric(v)) out.push([[...path, k], v]);
    else out.push(...leaves(v, [...path, k]));
  }
  return out;
}

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function num(n: number): string {
  return Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN';
}

export function toPrometheus(tree: MetricTree, uptimeSeconds: number, memory: Record<string, number>): string {
  const lines: string[] = [];
  const head = (name: string, type: string, desc: string) => lines.push('', `# HELP couchdb_${name} ${escapeHelp(desc)}`, `# TYPE couchdb_${name} ${type}`);
  const labelled = new Map<string, { desc: string; label: string; rows: [string, number][] }>();
  for (const [path0, m] of leaves(tree)) {
    const path = path0[0] === 'couchdb' ? path0.slice(1) : path0;
    const group = path.slice(0, -1).join('_');
    const last = path[path.length - 1] as string;
    if (group === 'httpd_request_methods' || group === 'httpd_status_codes') {
      const entry = labelled.get(group) ?? {
        desc: group === 'httpd_request_methods' ? 'number of HTTP requests by method' : 'number of HTTP responses by status code',
        label: group === 'httpd_request_methods' ? 'method' : 'code',
        rows: [],
      };
      entry.rows.push([last, m.value as number]);
      labelled.set(group, entry);
      continue;
    }
    const name = path.join('_');
    if (m.type === 'histogram') {
      const h = m.value as HistogramValue;
      head(`${name}_seconds`, 'summary', m.desc);
      for (const [p, v] of h.percentile) lines.push(`couchdb_${name}_seconds{quantile="${QUANTILES[p] ?? String(p / 100)}"} ${num(v / 1000)}`);
      lines.push(`couchdb_${name}_seconds_sum ${num((h.n * h.arithmetic_mean) / 1000)}`, `couchdb_${name}_seconds_count ${h.n}`);
    } else if (m.type === 'gauge' || GAUGES.has(name)) {
      head(name, 'gauge', m.desc);
      lines.push(`couchdb_${name} ${num(m.value as number)}`);
    } else {
      const total = name.endsWith('_total') ? name : `${name}_total`;
      head(total, 'counter', m.desc);
      lines.push(`couchdb_${total} ${num(m.value as number)}`);
    }
  }
  for (const [name, { desc, label, rows }] of labelled) {
    head(name, 'counter', desc);
    for (const [l, v] of rows) lines.push(`couchdb_${name}{${label}="${l}"} ${num(v)}`);
  }
  head('uptime_seconds', 'counter', 'number of seconds the node has been up');
  lines.push(`couchdb_uptime_seconds ${uptimeSeconds}`);
  head('nodejs_memory_bytes', 'gauge', 'memory of the Node.js process by kind');
  for (const [kind, bytes] of Object.entries(memory)) lines.push(`couchdb_nodejs_memory_bytes{memory_type="${kind}"} ${bytes}`);
  return lines.join('\n') + '\n';
}
