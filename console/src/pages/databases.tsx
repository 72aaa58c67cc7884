// Databases: the list with doc counts, sizes and update seqs (server admins, who may list them),
// create (optionally partitioned) and delete behind a confirmation that names the database.
// Other users open a database by name; the ones they opened are remembered in this browser.

import { useState } from 'preact/hooks';
import { ApiError, del, get, path, post, put } from '../api';
import { go, href } from '../router';
import { isAdmin, useSession } from '../session';
import { bytes, ConfirmByName, ErrorBox, Loading, seq, useAsync } from '../ui';

interface DbInfo {
  db_name: string;
  doc_count: number;
  doc_del_count: number;
  update_seq: unknown;
  sizes?: { file?: number; active?: number; external?: number };
  props?: { partitioned?: boolean };
}

const RECENT_KEY = 'chaise.recentDbs';
const RECENT_MAX = 10;

export function rememberDb(db: string): void {
  const list = recentDbs().filter((d) => d !== db);
  localStorage.setItem(RECENT_KEY, JSON.stringify([db, ...list].slice(0, RECENT_MAX)));
}

function recentDbs(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export function DatabasesPage() {
  const session = useSession();
  return isAdmin(session) ? <AdminDatabases /> : <OpenDatabase />;
}

function AdminDatabases() {
  const [filter, setFilter] = useState('');
  const [deleting, setDeleting] = useState<string>();
  const list = useAsync(async () => {
    const names = await get<string[]>('/_all_dbs');
    if (names.length === 0) return [];
    const infos = await post<{ key: string; info?: DbInfo; error?: string }[]>('/_dbs_info', { keys: names });
    return infos.map((i) => ({ name: i.key, info: i.info }));
  }, []);
  const shown = (list.data ?? []).filter((d) => d.name.includes(filter));
  return (
    <section>
      <h1>Databases</h1>
      <CreateDb onCreated={(db) => go('db', db)} />
      <div class="toolbar">
        <input type="search" placeholder="filter by name" aria-label="filter databases" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        <Loading when={list.loading} />
      </div>
      <ErrorBox error={list.error} />
      <div class="scroll">
        <table class="grid" aria-label="databases">
          <thead>
            <tr>
              <th>name</th>
              <th class="num">docs</th>
              <th class="num">deleted</th>
              <th class="num">file size</th>
              <th class="num">active</th>
              <th>update seq</th>
              <th>partitioned</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {shown.map(({ name, info }) => (
              <tr key={name} data-db={name}>
                <td>
                  <a href={href('db', name)}>{name}</a>
                </td>
                <td class="num">{info?.doc_count ?? '—'}</td>
                <td class="num">{info?.doc_del_count ?? '—'}</td>
                <td class="num">{bytes(info?.sizes?.file)}</td>
                <td class="num">{bytes(info?.sizes?.active)}</td>
                <td class="mono" title={JSON.stringify(info?.update_seq)}>
                  {info ? seq(info.update_seq) : '—'}
                </td>
                <td>{info?.props?.partitioned ? 'yes' : ''}</td>
                <td>
                  <button class="small danger" aria-label={`delete ${name}`} onClick={() => setDeleting(name)}>
                    delete
                  </button>
                </td>
              </tr>
            ))}
            {list.data && shown.length === 0 && (
              <tr>
                <td colSpan={8} class="muted">
                  no databases{filter ? ' match' : ''}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {deleting && (
        <ConfirmByName
          what="database"
          name={deleting}
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await del(path(deleting));
            list.reload();
          }}
        />
      )}
    </section>
  );
}

function CreateDb({ onCreated }: { onCreated: (db: string) => void }) {
  const [name, setName] = useState('');
  const [partitioned, setPartitioned] = useState(false);
  const [error, setError] = useState<unknown>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      await put(path(name) + (partitioned ? '?partitioned=true' : ''));
      onCreated(name);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="inline" onSubmit={submit} aria-label="create database">
      <input placeholder="new database name" aria-label="new database name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} required />
      <label class="check">
        <input type="checkbox" checked={partitioned} onChange={(e) => setPartitioned((e.target as HTMLInputElement).checked)} /> partitioned
      </label>
      <button type="submit" class="primary">
        Create
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

function OpenDatabase() {
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>();
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      await get(path(name));
      rememberDb(name);
      go('db', name);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 403 ? new Error(`You may not open ${name}.`) : err);
    }
  };
  const recent = recentDbs();
  return (
    <section>
      <h1>Databases</h1>
      <p class="muted">Only server admins may list every database. Open one you may read by its name.</p>
      <form class="inline" onSubmit={submit}>
        <input aria-label="database name" placeholder="database name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} required />
        <button type="submit" class="primary">
          Open
        </button>
      </form>
      <ErrorBox error={error} />
      {recent.length > 0 && (
        <>
          <h2>Opened before</h2>
          <ul>
            {recent.map((d) => (
              <li key={d}>
                <a href={href('db', d)}>{d}</a>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
