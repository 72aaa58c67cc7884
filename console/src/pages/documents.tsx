// Documents of one database: `_all_docs` a page at a time (paged by key, not by skip, so a page
// costs the same deep into a large database), with a search by id prefix.

import { useState } from 'preact/hooks';
import { get, path, qs } from '../api';
import { href } from '../router';
import { DbTabs, ErrorBox, Loading, seq, useAsync } from '../ui';
import { rememberDb } from './databases';

/** Rows per page. */
const PAGE_ROWS = 20;

interface Row {
  id: string;
  key: string;
  value: { rev: string };
}

export function DocumentsPage({ db }: { db: string }) {
  const [search, setSearch] = useState('');
  const [applied, setApplied] = useState('');
  /** Start keys of the pages before this one (the first page starts at the search prefix). */
  const [starts, setStarts] = useState<(string | undefined)[]>([]);
  const [start, setStart] = useState<string | undefined>();
  const info = useAsync(() => get(path(db)), [db]);
  const page = useAsync(async () => {
    const params: Record<string, unknown> = { limit: PAGE_ROWS + 1 };
    const from = start ?? (applied || undefined);
    if (from !== undefined) params.startkey = from;
    if (applied) params.endkey = applied + '\ufff0';
    const r = await get<{ rows: Row[]; total_rows: number }>(path(db, '_all_docs') + qs(params));
    rememberDb(db);
    return r;
  }, [db, applied, start]);
  const rows = page.data?.rows ?? [];
  const next = rows.length > PAGE_ROWS ? rows[PAGE_ROWS]?.id : undefined;
  const onSearch = (e: Event) => {
    e.preventDefault();
    setStarts([]);
    setStart(undefined);
    setApplied(search);
  };
  return (
    <section>
      <DbTabs db={db} current="documents" />
      <ErrorBox error={info.error} />
      {info.data && (
        <p class="muted summary">
          {info.data.doc_count} docs · {info.data.doc_del_count} deleted · update seq <span class="mono">{seq(info.data.update_seq)}</span>
        </p>
      )}
      <div class="toolbar">
        <form class="inline" onSubmit={onSearch} role="search">
          <input type="search" placeholder="id starts with…" aria-label="search by id" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
          <button type="submit">Search</button>
        </form>
        <a class="button primary" href={href('db', db, 'new')}>
          New document
        </a>
        <Loading when={page.loading} />
      </div>
      <ErrorBox error={page.error} />
      <table class="grid" aria-label="documents">
        <thead>
          <tr>
            <th>id</th>
            <th>rev</th>
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, PAGE_ROWS).map((r) => (
            <tr key={r.id}>
              <td>
                <a href={href('db', db, 'doc', r.id)}>{r.id}</a>
              </td>
              <td class="mono">{r.value.rev}</td>
            </tr>
          ))}
          {page.data && rows.length === 0 && (
            <tr>
              <td colSpan={2} class="muted">
                no documents{applied ? ` with an id starting “${applied}”` : ''}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <div class="pager">
        <button
          disabled={starts.length === 0}
          onClick={() => {
            const prev = [...starts];
            const s = prev.pop();
            setStarts(prev);
            setStart(s);
          }}
        >
          ← Previous
        </button>
        <span class="muted">{page.data ? `${page.data.total_rows} rows in all` : ''}</span>
        <button
          disabled={next === undefined}
          onClick={() => {
            setStarts([...starts, start]);
            setStart(next);
          }}
        >
          Next →
        </button>
      </div>
    </section>
  );
}
