// The node: its configuration (`/_node/_local/_config`), `_stats` as plots over the last minutes
// (requests per second, request latency, open `_changes` listeners; sampled every few seconds
// while the console is open), and active tasks. Endpoints this server does not have are named as
// missing instead of failing the page.

import { useState } from 'preact/hooks';
import { get, optional } from '../api';
import { Chart } from '../chart';
import { useSession } from '../session';
import { ErrorBox, Json, Loading, useAsync, usePoll } from '../ui';

/** How often `_stats` is sampled. */
const SAMPLE_MS = 2000;
/** How much history the plots keep. */
const HISTORY_MS = 5 * 60 * 1000;

interface Sample {
  t: number;
  requests: number | undefined;
  latencyMedian: number | undefined;
  latencyP95: number | undefined;
  changes: number | undefined;
}

/** Kept across visits to the page, so coming back shows the minutes already sampled. */
const samples: Sample[] = [];

function at(o: unknown, ...keys: string[]): unknown {
  let v = o;
  for (const k of keys) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** CouchDB's stats shape: `{couchdb: {httpd: {requests: {value}}, request_time: {value: {percentile: [[50, ms], …]}}}}`. */
export function sampleOf(stats: unknown, t: number): Sample {
  const rt = at(stats, 'couchdb', 'request_time', 'value');
  const pct = (p: number) => {
    const list = at(rt, 'percentile');
    if (Array.isArray(list)) for (const e of list) if (Array.isArray(e) && e[0] === p) return num(e[1]);
    return undefined;
  };
  return {
    t,
    requests: num(at(stats, 'couchdb', 'httpd', 'requests', 'value')),
    latencyMedian: pct(50) ?? num(at(rt, 'median')) ?? num(at(rt, 'arithmetic_mean')),
    latencyP95: pct(95),
    changes: num(at(stats, 'couchdb', 'httpd', 'clients_requesting_changes', 'value')),
  };
}

export function NodePage() {
  const session = useSession();
  const config = useAsync(() => optional<Record<string, Record<string, string>>>('/_node/_local/_config'), []);
  const [statsState, setStatsState] = useState<'waiting' | 'ok' | 'missing'>('waiting');
  const [, setTick] = useState(0);
  const [tasks, setTasks] = useState<unknown[]>([]);
  const [error, setError] = useState<unknown>();

  usePoll(async () => {
    try {
      const [stats, t] = await Promise.all([optional('/_node/_local/_stats'), get<unknown[]>('/_active_tasks')]);
      setTasks(t);
      if (stats === undefined) {
        setStatsState('missing');
      } else {
        const now = Date.now();
        samples.push(sampleOf(stats, now / 1000));
        while (samples.length > 0 && (samples[0] as Sample).t < (now - HISTORY_MS) / 1000) samples.shift();
        setStatsState('ok');
        setTick((x) => x + 1);
      }
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  }, SAMPLE_MS);

  const times = samples.slice(1).map((s) => s.t);
  const rate = samples.slice(1).map((s, i) => {
    const prev = samples[i] as Sample;
    return s.requests !== undefined && prev.requests !== undefined && s.t > prev.t ? Math.max(0, (s.requests - prev.requests) / (s.t - prev.t)) : null;
  });
  const pick = (f: (s: Sample) => number | undefined) => samples.slice(1).map((s) => f(s) ?? null);
  return (
    <section>
      <h1>{session.lounge ? 'Server' : 'Node'}</h1>
      <ErrorBox error={error} />
      <h2>Statistics (last {HISTORY_MS / 60000} minutes)</h2>
      {statsState === 'missing' && <p class="muted">This server does not answer /_node/_local/_stats.</p>}
      {statsState === 'waiting' && <Loading when />}
      {statsState === 'ok' && (
        <div class="charts">
          <Chart title="requests per second" unit="req/s" times={times} series={[{ label: 'requests/s', values: rate }]} />
          <Chart
            title="request latency"
            unit="ms"
            times={times}
            series={[
              { label: 'median', values: pick((s) => s.latencyMedian) },
              { label: 'p95', values: pick((s) => s.latencyP95) },
            ]}
          />
          <Chart title="open _changes listeners" unit="clients" times={times} series={[{ label: 'listeners', values: pick((s) => s.changes) }]} />
        </div>
      )}
      <h2>Active tasks</h2>
      {tasks.length === 0 ? <p class="muted">none</p> : <Json value={tasks} />}
      <h2>Configuration</h2>
      <Loading when={config.loading} />
      <ErrorBox error={config.error} />
      {config.data === undefined && !config.loading && !config.error && <p class="muted">This server does not answer /_node/_local/_config.</p>}
      {config.data && (
        <div class="scroll">
          <table class="grid" aria-label="configuration">
            <thead>
              <tr>
                <th>section</th>
                <th>key</th>
                <th>value</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(config.data).flatMap(([section, kv]) =>
                Object.entries(kv ?? {}).map(([k, v]) => (
                  <tr key={`${section}.${k}`}>
                    <td class="mono">{section}</td>
                    <td class="mono">{k}</td>
                    <td class="mono">{typeof v === 'string' ? v : JSON.stringify(v)}</td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
