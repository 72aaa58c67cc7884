// The lounge's shard map: a grid of ranges × nodes. A cell is a replica, coloured by its node's
// health (and whether the shard answered); with a database picked, each replica shows its
// document count and its sync lag (documents behind the fullest replica of its range, from
// `/_lounge/shards/{db}`). Refreshed every two seconds.

import { useState } from 'preact/hooks';
import { get, path } from '../api';
import { go } from '../router';
import { ErrorBox, usePoll, useAsync } from '../ui';

/** How often the grid is refreshed. */
const POLL_MS = 2000;

interface MapInfo {
  q: number;
  n: number;
  r: number;
  w: number;
  nodes: Record<string, { url: string }>;
  ranges: { range: string; nodes: string[] }[];
}
interface Health {
  status: string;
  nodes: { node: string; state: string; failures: number; lastError?: string; downSinceMs?: number }[];
}
interface Replica {
  node: string;
  leader: boolean;
  health: string;
  state: 'ok' | 'down' | 'missing' | 'unreachable';
  doc_count?: number;
  doc_del_count?: number;
  update_seq?: unknown;
  lag?: number;
}
interface ShardStatus {
  ranges: { range: string; replicas: Replica[] }[];
  sync: { running: unknown[]; queued: number; completed: number; failed: number };
}

export function ShardsPage({ db }: { db: string | undefined }) {
  const dbs = useAsync(() => get<string[]>('/_all_dbs'), []);
  const [map, setMap] = useState<MapInfo>();
  const [health, setHealth] = useState<Health>();
  const [status, setStatus] = useState<ShardStatus>();
  const [error, setError] = useState<unknown>();
  usePoll(
    async () => {
      try {
        const [m, h, s] = await Promise.all([get<MapInfo>('/_lounge/map'), get<Health>('/_lounge/health'), db ? get<ShardStatus>(path('_lounge', 'shards', db)) : Promise.resolve(undefined)]);
        setMap(m);
        setHealth(h);
        setStatus(s);
        setError(undefined);
      } catch (e) {
        setError(e);
      }
    },
    POLL_MS,
    [db],
  );
  const nodes = map ? Object.keys(map.nodes) : [];
  const nodeState = (n: string) => health?.nodes.find((h) => h.node === n)?.state ?? 'unknown';
  return (
    <section>
      <h1>Shard map</h1>
      <ErrorBox error={error} />
      {map && (
        <p class="muted">
          q={map.q} ranges, n={map.n} copies, r={map.r}, w={map.w} · cluster {health?.status ?? '…'}
          {status && ` · sync: ${status.sync.running.length} running, ${status.sync.queued} queued, ${status.sync.completed} done, ${status.sync.failed} failed`}
        </p>
      )}
      <label>
        database{' '}
        <select value={db ?? ''} onChange={(e) => go('shards', ...((e.target as HTMLSelectElement).value ? [(e.target as HTMLSelectElement).value] : []))} aria-label="database">
          <option value="">(map only)</option>
          {(dbs.data ?? []).map((d) => (
            <option key={d} value={d}>
              {d}
            </option>
          ))}
        </select>
      </label>
      {map && (
        <div class="scroll">
          <table class="grid shards" aria-label="shard map">
            <thead>
              <tr>
                <th>range</th>
                {nodes.map((n) => (
                  <th key={n} class={`node-${nodeState(n)}`} title={map.nodes[n]?.url}>
                    {n} <span class="small">{nodeState(n)}</span>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {map.ranges.map((r) => {
                const st = status?.ranges.find((x) => x.range === r.range);
                return (
                  <tr key={r.range}>
                    <th scope="row" class="mono">
                      {r.range}
                    </th>
                    {nodes.map((n) => {
                      const i = r.nodes.indexOf(n);
                      if (i < 0) return <td key={n} class="no-replica" />;
                      const rep = st?.replicas.find((x) => x.node === n);
                      const health = nodeState(n) === 'down' ? 'down' : rep?.state === 'missing' || rep?.state === 'unreachable' ? 'bad' : (rep?.lag ?? 0) > 0 ? 'lagging' : 'up';
                      return (
                        <td key={n} class={`replica replica-${health}`} data-range={r.range} data-node={n}>
                          <div>{i === 0 ? 'leader' : `copy ${i}`}</div>
                          {rep?.state === 'ok' && (
                            <div class="small">
                              {rep.doc_count} docs{(rep.lag ?? 0) > 0 ? ` · ${rep.lag} behind` : ' · in sync'}
                            </div>
                          )}
                          {rep && rep.state !== 'ok' && <div class="small">{rep.state}</div>}
                        </td>
                      );
                    })}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <p class="legend small">
        <span class="replica-up">in sync</span> <span class="replica-lagging">behind</span> <span class="replica-bad">missing / not answering</span> <span class="replica-down">node down</span>
      </p>
    </section>
  );
}
