// Views and Mango: query a design doc's view with its parameters (key range, group level,
// reduce, limit...) and see the rows; run a `_find` and its `_explain` side by side.

import { useMemo, useState } from 'preact/hooks';
import { get, path, post, qs } from '../api';
import { JsonEditor, jsonError } from '../json-editor';
import { DbTabs, ErrorBox, Json, Loading, useAsync } from '../ui';

interface DesignDoc {
  _id: string;
  views?: Record<string, { map: string; reduce?: string }>;
}

interface ViewParams {
  key: string;
  startkey: string;
  endkey: string;
  group_level: string;
  limit: string;
  skip: string;
  reduce: boolean;
  group: boolean;
  descending: boolean;
  include_docs: boolean;
}

const EMPTY: ViewParams = { key: '', startkey: '', endkey: '', group_level: '', limit: '20', skip: '', reduce: true, group: false, descending: false, include_docs: false };

export function ViewsPage({ db }: { db: string }) {
  const ddocs = useAsync(
    async () => (await get<{ rows: { doc: DesignDoc }[] }>(path(db, '_all_docs') + qs({ startkey: '_design/', endkey: '_design0', include_docs: 'true' }))).rows.map((r) => r.doc),
    [db],
  );
  const views = useMemo(() => (ddocs.data ?? []).flatMap((d) => Object.entries(d.views ?? {}).map(([name, v]) => ({ ddoc: d._id, name, reduce: v.reduce !== undefined }))), [ddocs.data]);
  const [picked, setPicked] = useState('');
  const [p, setP] = useState<ViewParams>(EMPTY);
  const [rows, setRows] = useState<unknown>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const view = views.find((v) => `${v.ddoc}/${v.name}` === picked) ?? views[0];

  const run = async (e: Event) => {
    e.preventDefault();
    if (!view) return;
    setBusy(true);
    setError(undefined);
    try {
      const params: Record<string, string> = {};
      for (const k of ['key', 'startkey', 'endkey'] as const) {
        if (p[k] === '') continue;
        if (jsonError(p[k])) throw new Error(`${k} must be JSON (a string needs quotes): ${p[k]}`);
        params[k] = p[k];
      }
      for (const k of ['group_level', 'limit', 'skip'] as const) if (p[k] !== '') params[k] = p[k];
      if (view.reduce) {
        params.reduce = String(p.reduce);
        if (p.reduce && p.group) params.group = 'true';
      } else if (p.include_docs) params.include_docs = 'true';
      if (p.descending) params.descending = 'true';
      const u = new URLSearchParams(params).toString();
      setRows(await get(path(db, view.ddoc, '_view', view.name) + (u ? '?' + u : '')));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const field = (k: 'key' | 'startkey' | 'endkey' | 'group_level' | 'limit' | 'skip', label: string, ph = '') => (
    <label>
      {label}
      <input class="mono" value={p[k]} placeholder={ph} onInput={(e) => setP({ ...p, [k]: (e.target as HTMLInputElement).value })} />
    </label>
  );
  const check = (k: 'reduce' | 'group' | 'descending' | 'include_docs', label: string, disabled = false) => (
    <label class="check">
      <input type="checkbox" checked={p[k]} disabled={disabled} onChange={(e) => setP({ ...p, [k]: (e.target as HTMLInputElement).checked })} /> {label}
    </label>
  );
  const result = rows as { rows?: { id?: string; key: unknown; value: unknown; doc?: unknown }[]; total_rows?: number } | undefined;
  return (
    <section>
      <DbTabs db={db} current="views" />
      <h1>Views</h1>
      <Loading when={ddocs.loading} />
      <ErrorBox error={ddocs.error} />
      {ddocs.data && views.length === 0 && <p class="muted">No design document in {db} has a view.</p>}
      {view && (
        <form class="params" onSubmit={run}>
          <label>
            view
            <select value={`${view.ddoc}/${view.name}`} onChange={(e) => setPicked((e.target as HTMLSelectElement).value)}>
              {views.map((v) => (
                <option key={`${v.ddoc}/${v.name}`} value={`${v.ddoc}/${v.name}`}>
                  {v.ddoc.slice(8)} / {v.name}
                  {v.reduce ? ' (reduce)' : ''}
                </option>
              ))}
            </select>
          </label>
          {field('key', 'key', '"k" or [1,2]')}
          {field('startkey', 'start key')}
          {field('endkey', 'end key')}
          {field('limit', 'limit')}
          {field('skip', 'skip')}
          {view.reduce && field('group_level', 'group level')}
          <div class="checks">
            {view.reduce && check('reduce', 'reduce')}
            {view.reduce && check('group', 'group', !p.reduce)}
            {check('descending', 'descending')}
            {!view.reduce && check('include_docs', 'include docs')}
          </div>
          <button type="submit" class="primary" disabled={busy}>
            Query
          </button>
        </form>
      )}
      <ErrorBox error={error} />
      {result?.rows && (
        <>
          <p class="muted">
            {result.rows.length} rows{result.total_rows !== undefined ? ` of ${result.total_rows}` : ''}
          </p>
          <div class="scroll">
            <table class="grid" aria-label="view rows">
              <thead>
                <tr>
                  <th>key</th>
                  <th>value</th>
                  <th>id</th>
                  {p.include_docs && !view?.reduce && <th>doc</th>}
                </tr>
              </thead>
              <tbody>
                {result.rows.map((r, i) => (
                  <tr key={i}>
                    <td class="mono">{JSON.stringify(r.key)}</td>
                    <td class="mono">{JSON.stringify(r.value)}</td>
                    <td class="mono">{r.id ?? ''}</td>
                    {p.include_docs && !view?.reduce && <td class="mono small">{JSON.stringify(r.doc)}</td>}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

const DEFAULT_QUERY = JSON.stringify({ selector: { _id: { $gt: null } }, limit: 20 }, null, 2);

export function MangoPage({ db }: { db: string }) {
  const [text, setText] = useState(DEFAULT_QUERY);
  const [found, setFound] = useState<{ docs: unknown[]; warning?: string; execution_stats?: unknown; bookmark?: string }>();
  const [explained, setExplained] = useState<unknown>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const syntax = jsonError(text);
  const run = async () => {
    if (syntax) return;
    setBusy(true);
    setError(undefined);
    const q = JSON.parse(text) as Record<string, unknown>;
    try {
      const [f, x] = await Promise.all([post(path(db, '_find'), { ...q, execution_stats: true }), post(path(db, '_explain'), q)]);
      setFound(f);
      setExplained(x);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section>
      <DbTabs db={db} current="mango" />
      <h1>Mango query</h1>
      <JsonEditor label="query" value={text} onChange={setText} onSave={run} minLines={6} />
      {syntax && <p class="error">Not valid JSON: {syntax}</p>}
      <div class="buttons">
        <button class="primary" onClick={run} disabled={busy || syntax !== undefined}>
          Run with explain
        </button>
      </div>
      <ErrorBox error={error} />
      <div class="two">
        {found && (
          <div role="region" aria-label="find result">
            <h2>Documents ({found.docs.length})</h2>
            {found.warning && <p class="warning">{found.warning}</p>}
            <Json value={found.docs} />
            {found.execution_stats !== undefined && (
              <details>
                <summary>execution stats</summary>
                <Json value={found.execution_stats} />
              </details>
            )}
          </div>
        )}
        {explained !== undefined && (
          <div role="region" aria-label="explain result">
            <h2>Explain</h2>
            <Json value={explained} />
          </div>
        )}
      </div>
    </section>
  );
}
