// The lounge's shard map: a grid of ranges × nodes. A cell is a replica, coloured by its node's
// health (and whether the shard answered); with a database picked, each replica shows its
// document count and its sync lag (documents behind the fullest replica of its range, from
// `/_lounge/shards/{db}`). Refreshed every two seconds.

import { useState } from 'preact/hooks';
import { get, optional, path, post } from '../api';
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
interface Move {
  id: string;
  kind: 'move' | 'split';
  range: string;
  from?: string;
  to?: string;
  children?: [string, string];
  state: string;
  docsCopied: number;
  docsTotal: number;
  errors: string[];
  reason: string;
  updated: string;
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
  /** `/_lounge/moves` of the elastic lounge; null when this lounge has none. */
  const [moves, setMoves] = useState<Move[] | null>();
  usePoll(
    async () => {
      const m = await optional<{ moves: Move[] }>('/_lounge/moves');
      setMoves(m ? m.moves : null);
    },
    POLL_MS,
  );
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
      {moves !== undefined && <Moves moves={moves} />}
      <p class="legend small">
        <span class="replica-up">in sync</span> <span class="replica-lagging">behind</span> <span class="replica-bad">missing / not answering</span> <span class="replica-down">node down</span>
      </p>
    </section>
  );
}

/** Moves and splits with their progress (the elastic lounge), and a rebalance button. */
function Moves({ moves }: { moves: Move[] | null }) {
  const [error, setError] = useState<unknown>();
  const [note, setNote] = useState('');
  if (moves === null) return <p class="muted small">This lounge does not report shard moves (no /_lounge/moves).</p>;
  const rebalance = async () => {
    setError(undefined);
    try {
      const r = await post<{ moves: Move[] }>('/_lounge/rebalance', {});
      setNote(r.moves.length === 0 ? 'Already balanced: nothing to move.' : `Planned ${r.moves.length} move(s).`);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section aria-label="moves and splits">
      <h2>Moves and splits</h2>
      <div class="buttons">
        <button onClick={rebalance}>Rebalance</button>
        {note && <span class="muted">{note}</span>}
      </div>
      <ErrorBox error={error} />
      {moves.length === 0 ? (
        <p class="muted">none</p>
      ) : (
        <div class="scroll">
          <table class="grid" aria-label="moves">
            <thead>
              <tr>
                <th>what</th>
                <th>range</th>
                <th>state</th>
                <th>progress</th>
                <th>why</th>
                <th>updated</th>
              </tr>
            </thead>
            <tbody>
              {moves.map((m) => (
                <tr key={m.id} data-state={m.state}>
                  <td>{m.kind === 'split' ? `split → ${m.children?.join(' + ') ?? ''}` : `${m.from ?? '?'} → ${m.to ?? '?'}`}</td>
                  <td class="mono">{m.range}</td>
                  <td>
                    <span class={`state state-${m.state === 'done' ? 'completed' : m.state === 'failed' ? 'failed' : 'running'}`}>{m.state}</span>
                    {m.errors.length > 0 && <div class="error small">{m.errors[m.errors.length - 1]}</div>}
                  </td>
                  <td>
                    <progress max={Math.max(1, m.docsTotal)} value={m.state === 'done' ? Math.max(1, m.docsTotal) : m.docsCopied} aria-label={`progress of ${m.id}`} />{' '}
                    <span class="small muted">
                      {m.docsCopied}/{m.docsTotal} docs
                    </span>
                  </td>
                  <td>{m.reason}</td>
                  <td class="small">{m.updated}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
