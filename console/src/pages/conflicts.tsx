// Conflicts: every document with `_conflicts`, found through a view the console keeps in the
// database (`_design/chaise-console`, view `conflicts`, built incrementally like any view, so a
// visit costs a view read, not a scan of every document). For one document: every leaf side by
// side with the fields that differ marked; pick a winner or merge field by field, edit the result,
// and resolve with one `_bulk_docs` (the merge written on the winning leaf, every other leaf
// deleted), then read the document again to show the conflict is gone.

import { useMemo, useState } from 'preact/hooks';
import { ApiError, get, path, post, put, qs } from '../api';
import { href } from '../router';
import { JsonEditor, jsonError } from '../json-editor';
import { fieldRows, initialChoice, merged, type Choice, type Doc } from '../merge';
import { MergeTable } from '../merge-view';
import { DbTabs, ErrorBox, Loading, useAsync } from '../ui';

export const CONFLICTS_DDOC = '_design/chaise-console';
/** Bumped when the view's code changes, so an older copy is replaced. */
const DDOC_VERSION = 1;
/** Rows of the conflicts list shown at once. */
const LIST_ROWS = 200;

const DDOC = {
  _id: CONFLICTS_DDOC,
  chaise_console_version: DDOC_VERSION,
  language: 'javascript',
  views: {
    conflicts: {
      map: 'function (doc) { if (doc._conflicts) emit(doc._id, doc._conflicts.length); }',
    },
  },
};

/** Makes sure the conflicts view exists (needs a db admin the first time). */
async function ensureIndex(db: string): Promise<void> {
  let current: (Doc & { _rev: string }) | undefined;
  try {
    current = await get(path(db, CONFLICTS_DDOC));
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
  }
  if (current && current.chaise_console_version === DDOC_VERSION) return;
  try {
    await put(path(db, CONFLICTS_DDOC), current ? { ...DDOC, _rev: current._rev } : DDOC);
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) {
      throw new Error(`The conflicts index (${CONFLICTS_DDOC}) is not in this database yet, and creating it needs a database admin. Ask one to open this page once.`);
    }
    if (!(e instanceof ApiError && e.status === 409)) throw e; // another console made it meanwhile
  }
}

export function ConflictsPage({ db, id }: { db: string; id: string | undefined }) {
  return (
    <section>
      <DbTabs db={db} current="conflicts" />
      {id === undefined ? <ConflictList db={db} /> : <Resolve db={db} id={id} />}
    </section>
  );
}

function ConflictList({ db }: { db: string }) {
  const list = useAsync(async () => {
    await ensureIndex(db);
    return get<{ rows: { id: string; value: number }[] }>(path(db, CONFLICTS_DDOC, '_view', 'conflicts') + qs({ limit: LIST_ROWS + 1 }));
  }, [db]);
  const rows = list.data?.rows ?? [];
  return (
    <>
      <h1>Conflicts</h1>
      <p class="muted">
        Documents with more than one leaf revision, from the view <span class="mono">{CONFLICTS_DDOC}/_view/conflicts</span>.
      </p>
      <Loading when={list.loading} />
      <ErrorBox error={list.error} />
      {list.data && rows.length === 0 && <p class="ok">No document in {db} has conflicts.</p>}
      {rows.length > 0 && (
        <table class="grid" aria-label="documents with conflicts">
          <thead>
            <tr>
              <th>document</th>
              <th class="num">leaves</th>
            </tr>
          </thead>
          <tbody>
            {rows.slice(0, LIST_ROWS).map((r) => (
              <tr key={r.id}>
                <td>
                  <a href={href('db', db, 'conflicts', r.id)}>{r.id}</a>
                </td>
                <td class="num">{r.value + 1}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {rows.length > LIST_ROWS && <p class="muted">Showing the first {LIST_ROWS}; resolve some to see the rest.</p>}
    </>
  );
}

interface Leaf extends Doc {
  _id: string;
  _rev: string;
  _attachments?: Record<string, unknown>;
}

interface Loaded {
  winner: Leaf;
  leaves: Leaf[];
}

async function loadLeaves(db: string, id: string): Promise<Loaded> {
  const winner = await get<Leaf & { _conflicts?: string[] }>(path(db, id) + qs({ conflicts: 'true' }));
  const losers = winner._conflicts ?? [];
  if (losers.length === 0) return { winner, leaves: [winner] };
  const open = await get<{ ok?: Leaf; missing?: string }[]>(path(db, id) + qs({ open_revs: JSON.stringify(losers) }));
  const bodies = open.flatMap((o) => (o.ok ? [o.ok] : []));
  const { _conflicts, ...w } = winner;
  return { winner: w as Leaf, leaves: [w as Leaf, ...losers.map((r) => bodies.find((b) => b._rev === r)).filter((b): b is Leaf => b !== undefined)] };
}

function Resolve({ db, id }: { db: string; id: string }) {
  const data = useAsync(() => loadLeaves(db, id), [db, id]);
  const [result, setResult] = useState<{ rev: string; conflicts: string[] }>();
  return (
    <>
      <p>
        <a href={href('db', db, 'conflicts')}>← all conflicts</a> · <a href={href('db', db, 'doc', id)}>open in the editor</a>
      </p>
      <h1 class="mono">{id}</h1>
      <Loading when={data.loading} />
      <ErrorBox error={data.error} />
      {result && (
        <p class={result.conflicts.length === 0 ? 'ok resolved' : 'warning'} role="status" data-testid="resolution">
          {result.conflicts.length === 0
            ? `Resolved: read back, ${id} is at ${result.rev} with no conflicts.`
            : `Written, but read back ${id} still has conflicts: ${result.conflicts.join(', ')} (someone wrote meanwhile).`}
        </p>
      )}
      {data.data && data.data.leaves.length < 2 && !result && <p class="ok">This document has no conflicts.</p>}
      {data.data && data.data.leaves.length >= 2 && (
        <Merger
          key={data.data.leaves.map((l) => l._rev).join()}
          db={db}
          id={id}
          loaded={data.data}
          onResolved={(r) => {
            setResult(r);
            data.reload();
          }}
        />
      )}
    </>
  );
}

function Merger(props: { db: string; id: string; loaded: Loaded; onResolved: (r: { rev: string; conflicts: string[] }) => void }) {
  const { winner, leaves } = props.loaded;
  const rows = useMemo(() => fieldRows(leaves), [leaves]);
  const [choice, setChoice] = useState<Choice>(() => initialChoice(rows, 0));
  const [onlyDiffering, setOnlyDiffering] = useState(false);
  const [text, setText] = useState(() => JSON.stringify(merged(rows, choice), null, 2));
  const [revision, setRevision] = useState(0);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  /** A new choice rewrites the result at once (hand edits to the result are replaced). */
  const choose = (c: Choice) => {
    setChoice(c);
    setText(JSON.stringify(merged(rows, c), null, 2));
    setRevision((r) => r + 1);
  };
  const syntax = jsonError(text);

  const resolve = async () => {
    if (syntax) return;
    setBusy(true);
    setError(undefined);
    try {
      const content = JSON.parse(text) as Doc;
      const docs = [
        { ...content, _id: props.id, _rev: winner._rev, ...(winner._attachments ? { _attachments: winner._attachments } : {}) },
        ...leaves.filter((l) => l._rev !== winner._rev).map((l) => ({ _id: props.id, _rev: l._rev, _deleted: true })),
      ];
      const answer = await post<{ id: string; rev?: string; error?: string; reason?: string }[]>(path(props.db, '_bulk_docs'), { docs });
      const failed = answer.filter((a) => a.error);
      if (failed.length > 0) throw new Error(`Not every leaf was written: ${failed.map((f) => `${f.error} (${f.reason})`).join('; ')}. Reload and try again.`);
      const after = await get<{ _rev: string; _conflicts?: string[] }>(path(props.db, props.id) + qs({ conflicts: 'true' }));
      props.onResolved({ rev: after._rev, conflicts: after._conflicts ?? [] });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const differing = rows.filter((r) => r.differs).length;
  return (
    <>
      <p>
        {leaves.length} leaf revisions; {differing} of {rows.length} fields differ. CouchDB picked <span class="mono">{winner._rev}</span> as the winner. Choose each field's value (or
        “take all” to keep one revision as it is), adjust the result, then resolve.
      </p>
      <label class="check">
        <input type="checkbox" checked={onlyDiffering} onChange={(e) => setOnlyDiffering((e.target as HTMLInputElement).checked)} /> only fields that differ
      </label>
      <MergeTable versions={leaves.map((l, i) => ({ label: i === 0 ? 'winner' : `leaf ${i + 1}`, rev: l._rev }))} rows={rows} choice={choice} onChoice={choose} onlyDiffering={onlyDiffering} />
      <h2>Result</h2>
      <p class="muted small">Written on {winner._rev}; the other {leaves.length - 1} leaves are deleted in the same _bulk_docs. Attachments of the winner are kept.</p>
      <JsonEditor label="merged document" value={text} revision={revision} onChange={setText} onSave={resolve} />
      {syntax && <p class="error">Not valid JSON: {syntax}</p>}
      <ErrorBox error={error} />
      <div class="buttons">
        <button class="primary" onClick={resolve} disabled={busy || syntax !== undefined}>
          Resolve conflict
        </button>
      </div>
    </>
  );
}
