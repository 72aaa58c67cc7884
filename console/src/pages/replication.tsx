// Replication: start one-shot or continuous replications by writing `_replicator` documents,
// watch them live (state and counts from `_scheduler/docs`, progress from `_active_tasks`, polled
// every second) and stop them (deleting the document cancels the job, as in CouchDB).

import { useState } from 'preact/hooks';
import { ApiError, del, get, path, post, qs } from '../api';
import { useSession } from '../session';
import { ErrorBox, usePoll } from '../ui';

/** How often the live table is refreshed. */
const POLL_MS = 1000;

interface SchedDoc {
  doc_id: string;
  database: string;
  state: string;
  source: string | null;
  target: string | null;
  info: Record<string, unknown> | null;
  error_count: number;
  last_updated: string;
}
interface Task {
  type: string;
  doc_id?: string;
  replication_id?: string;
  changes_pending?: number | null;
  docs_read?: number;
  docs_written?: number;
  progress?: number;
}

/** A bare name is a database on this server; anything with a scheme is used as given. */
function endpoint(v: string, user: string | null, password: string): unknown {
  const url = /^https?:\/\//.test(v) ? v : `${location.origin}/${encodeURIComponent(v)}`;
  if (user === null || password === '' || /^https?:\/\/[^/]*@/.test(v)) return url;
  return { url, auth: { basic: { username: user, password } } };
}

export function ReplicationPage() {
  const session = useSession();
  const [docs, setDocs] = useState<SchedDoc[]>([]);
  const [tasks, setTasks] = useState<Task[]>([]);
  const [pollError, setPollError] = useState<unknown>();
  usePoll(async () => {
    try {
      const [d, t] = await Promise.all([get<{ docs: SchedDoc[] }>('/_scheduler/docs'), get<Task[]>('/_active_tasks')]);
      setDocs(d.docs);
      setTasks(t.filter((x) => x.type === 'replication'));
      setPollError(undefined);
    } catch (e) {
      setPollError(e);
    }
  }, POLL_MS);

  if (session.lounge) {
    return (
      <section>
        <h1>Replication</h1>
        <p class="muted">A lounge does not run replications; open the console of a node for that.</p>
      </section>
    );
  }
  return (
    <section>
      <h1>Replication</h1>
      <StartForm />
      <h2>Replications</h2>
      <ErrorBox error={pollError} />
      <div class="scroll">
        <table class="grid" aria-label="replications">
          <thead>
            <tr>
              <th>document</th>
              <th>source → target</th>
              <th>state</th>
              <th class="num">read</th>
              <th class="num">written</th>
              <th class="num">pending</th>
              <th>progress</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {docs.map((d) => {
              const task = tasks.find((t) => t.doc_id === d.doc_id);
              const info = d.info ?? {};
              const read = Number(task?.docs_read ?? info.docs_read ?? 0);
              const pending = task?.changes_pending ?? (info.changes_pending as number | null | undefined) ?? null;
              const fraction = d.state === 'completed' ? 1 : pending === null ? undefined : read + pending === 0 ? 1 : read / (read + pending);
              return (
                <tr key={d.database + d.doc_id} data-doc={d.doc_id} data-state={d.state}>
                  <td class="mono">{d.doc_id}</td>
                  <td class="mono small">
                    {d.source ?? '?'} → {d.target ?? '?'}
                  </td>
                  <td>
                    <span class={`state state-${d.state}`}>{d.state}</span>
                    {typeof info.error === 'string' && <div class="error small">{info.error}</div>}
                  </td>
                  <td class="num">{read}</td>
                  <td class="num">{String(task?.docs_written ?? info.docs_written ?? 0)}</td>
                  <td class="num">{pending ?? '—'}</td>
                  <td>{fraction !== undefined && <progress max={1} value={fraction} aria-label={`progress of ${d.doc_id}`} />}</td>
                  <td>
                    <StopButton db={d.database} id={d.doc_id} finished={['completed', 'failed'].includes(d.state)} />
                  </td>
                </tr>
              );
            })}
            {docs.length === 0 && (
              <tr>
                <td colSpan={8} class="muted">
                  no replications
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function StartForm() {
  const session = useSession();
  const [source, setSource] = useState('');
  const [target, setTarget] = useState('');
  const [password, setPassword] = useState('');
  const [continuous, setContinuous] = useState(false);
  const [createTarget, setCreateTarget] = useState(true);
  const [error, setError] = useState<unknown>();
  const [started, setStarted] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setStarted('');
    const id = `console-${source.replace(/[^a-z0-9_-]/gi, '_')}-${target.replace(/[^a-z0-9_-]/gi, '_')}-${Date.now().toString(36)}`;
    try {
      await post(path('_replicator'), {
        _id: id,
        source: endpoint(source, session.name, password),
        target: endpoint(target, session.name, password),
        continuous,
        create_target: createTarget,
      });
      setStarted(id);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="params" onSubmit={submit} aria-label="start a replication">
      <label>
        source
        <input value={source} placeholder="db name or URL" onInput={(e) => setSource((e.target as HTMLInputElement).value)} required />
      </label>
      <label>
        target
        <input value={target} placeholder="db name or URL" onInput={(e) => setTarget((e.target as HTMLInputElement).value)} required />
      </label>
      {session.name !== null && (
        <label>
          your password
          <input type="password" autoComplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </label>
      )}
      <div class="checks">
        <label class="check">
          <input type="checkbox" checked={continuous} onChange={(e) => setContinuous((e.target as HTMLInputElement).checked)} /> continuous
        </label>
        <label class="check">
          <input type="checkbox" checked={createTarget} onChange={(e) => setCreateTarget((e.target as HTMLInputElement).checked)} /> create target
        </label>
      </div>
      <button type="submit" class="primary">
        Start replication
      </button>
      {session.name !== null && (
        <p class="muted small wide">
          The replicator acts as you with your password, kept in the <span class="mono">_replicator</span> document as CouchDB does. Database names become URLs of this
          server.
        </p>
      )}
      <ErrorBox error={error} />
      {started && (
        <p class="ok wide" role="status">
          Started {started}.
        </p>
      )}
    </form>
  );
}

/** Deletes the `_replicator` doc: stops a running job, removes a finished one from the list. */
function StopButton({ db, id, finished }: { db: string; id: string; finished: boolean }) {
  const [error, setError] = useState<unknown>();
  const stop = async () => {
    try {
      const d = await get<{ _rev: string }>(path(db, id));
      await del(path(db, id) + qs({ rev: d._rev }));
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) setError(e);
    }
  };
  return (
    <>
      <button class="small danger" onClick={stop} aria-label={`${finished ? 'remove' : 'stop'} ${id}`}>
        {finished ? 'remove' : 'stop'}
      </button>
      <ErrorBox error={error} />
    </>
  );
}
