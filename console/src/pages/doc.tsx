// One document: the JSON editor (syntax errors shown as you type, Save disabled until it parses),
// 409s explained with a way to merge your edit with the newer revision, attachments (upload with
// progress, download, delete) and the revision history.
//
// An unsaved edit survives a lost session (the login form opens over this page) and a reload of
// the page (it is kept in sessionStorage until saved or discarded).

import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, del, get, path, post, put, qs, upload } from '../api';
import { go, href } from '../router';
import { JsonEditor, jsonError } from '../json-editor';
import { fieldRows, initialChoice, merged, type Choice, type Doc } from '../merge';
import { MergeTable } from '../merge-view';
import { bytes, ConfirmByName, DbTabs, ErrorBox, Json, Loading } from '../ui';

interface Stub {
  content_type: string;
  length: number;
  digest: string;
  revpos: number;
}
interface Loaded extends Doc {
  _id: string;
  _rev: string;
  _attachments?: Record<string, Stub>;
  _conflicts?: string[];
  _revs_info?: { rev: string; status: string }[];
}

/** What the editor shows: everything but the revision bookkeeping and the attachment stubs. */
function editable(d: Doc): string {
  const { _attachments, _conflicts, _revs_info, _deleted_conflicts, ...rest } = d;
  return JSON.stringify(rest, null, 2);
}

const draftKey = (db: string, id: string | undefined) => `chaise.draft:${db}/${id ?? ''}`;

/** A new document's text: a random id made here, so there is nothing to wait for before typing. */
function newDocText(): string {
  const id = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
  return JSON.stringify({ _id: id }, null, 2);
}

export function DocPage({ db, id }: { db: string; id: string | undefined }) {
  const isNew = id === undefined;
  const [doc, setDoc] = useState<Loaded>();
  const [baseline, setBaseline] = useState(() => (isNew ? newDocText() : ''));
  const [text, setTextState] = useState(baseline);
  /** Bumped whenever the text is set here rather than typed (see JsonEditor's `revision`). */
  const [revision, setRevision] = useState(0);
  const setText = (t: string | ((cur: string) => string)) => {
    setTextState(t);
    setRevision((r) => r + 1);
  };
  const [error, setError] = useState<unknown>();
  const [conflict, setConflict] = useState<{ theirs: Loaded } | undefined>();
  const [saved, setSaved] = useState('');
  const [loading, setLoading] = useState(!isNew);
  const [draft, setDraft] = useState<string | undefined>();
  const [deleting, setDeleting] = useState(false);

  const load = async (keepText: boolean) => {
    if (isNew) return;
    setLoading(true);
    try {
      {
        const d = await get<Loaded>(path(db, id) + qs({ revs_info: 'true', conflicts: 'true' }));
        setDoc(d);
        const t = editable(d);
        setBaseline(t);
        if (keepText) setText((cur) => withRev(cur, d._rev));
        else setText(t);
      }
      setError(undefined);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    void load(false);
    const d = sessionStorage.getItem(draftKey(db, id));
    if (d !== null) setDraft(d);
  }, [db, id]);

  const dirty = text !== baseline && !loading;
  useEffect(() => {
    if (dirty) sessionStorage.setItem(draftKey(db, id), text);
  }, [dirty, text, db, id]);
  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => {
      if (dirty) e.preventDefault();
    };
    addEventListener('beforeunload', warn);
    return () => removeEventListener('beforeunload', warn);
  }, [dirty]);

  const syntax = useMemo(() => jsonError(text), [text]);

  const save = async () => {
    if (syntax !== undefined) return;
    setError(undefined);
    setSaved('');
    const body = JSON.parse(text) as Doc;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      setError(new Error('A document is a JSON object.'));
      return;
    }
    if (doc?._attachments && !('_attachments' in body)) body._attachments = doc._attachments;
    try {
      const target = typeof body._id === 'string' ? body._id : undefined;
      const r = target !== undefined ? await put<{ id: string; rev: string }>(path(db, target), body) : await post<{ id: string; rev: string }>(path(db), body);
      sessionStorage.removeItem(draftKey(db, id));
      setDraft(undefined);
      setConflict(undefined);
      setSaved(`Saved as ${r.rev}.`);
      if (isNew || r.id !== id) go('db', db, 'doc', r.id);
      else await load(false);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && !isNew) {
        try {
          const theirs = await get<Loaded>(path(db, id));
          setConflict({ theirs });
        } catch {
          setError(e);
        }
      } else setError(e);
    }
  };

  const discardDraft = () => {
    sessionStorage.removeItem(draftKey(db, id));
    setDraft(undefined);
  };

  return (
    <section>
      <DbTabs db={db} current="documents" />
      <div class="doc-head">
        <h1 class="mono">{isNew ? 'New document' : id}</h1>
        {doc && <span class="mono muted">{doc._rev}</span>}
        <Loading when={loading} />
      </div>
      {doc?._conflicts && doc._conflicts.length > 0 && (
        <p class="warning">
          This document has {doc._conflicts.length} conflicting revision{doc._conflicts.length > 1 ? 's' : ''}.{' '}
          <a href={href('db', db, 'conflicts', id as string)}>Compare and resolve them</a>.
        </p>
      )}
      {draft !== undefined && draft !== text && (
        <p class="warning">
          You have an unsaved edit of this document from earlier.{' '}
          <button class="small" onClick={() => (setText(draft), setDraft(undefined))}>
            Restore it
          </button>{' '}
          <button class="small" onClick={discardDraft}>
            Discard it
          </button>
        </p>
      )}
      <div class="doc-layout">
        <div class="doc-main">
          <JsonEditor label="document JSON" value={text} revision={revision} onChange={setTextState} onSave={save} minLines={14} />
          <p class={syntax ? 'error syntax' : 'muted syntax'} aria-live="polite" data-testid="syntax">
            {syntax ? `Not valid JSON: ${syntax}` : dirty ? 'Valid JSON, not saved yet (Ctrl-S saves).' : 'Valid JSON.'}
          </p>
          {conflict && (
            <ConflictOnSave
              mine={JSON.parse(text) as Doc}
              theirs={conflict.theirs}
              onMerged={(t) => {
                setText(t);
                setDoc({ ...(doc as Loaded), _rev: conflict.theirs._rev, ...(conflict.theirs._attachments ? { _attachments: conflict.theirs._attachments } : {}) });
                setConflict(undefined);
              }}
              onReload={() => {
                setConflict(undefined);
                discardDraft();
                void load(false);
              }}
            />
          )}
          <ErrorBox error={error} />
          {saved && (
            <p class="ok" role="status">
              {saved}
            </p>
          )}
          <div class="buttons">
            <button class="primary" onClick={save} disabled={syntax !== undefined || (!dirty && !isNew)}>
              Save
            </button>
            {dirty && (
              <button onClick={() => (setText(baseline), discardDraft())}>
                Undo changes
              </button>
            )}
            {!isNew && doc && (
              <button class="danger" onClick={() => setDeleting(true)}>
                Delete document
              </button>
            )}
          </div>
        </div>
        {!isNew && doc && (
          <aside class="doc-side">
            <Attachments
              db={db}
              doc={doc}
              onChanged={async () => {
                await load(true);
              }}
            />
            <History db={db} doc={doc} />
          </aside>
        )}
      </div>
      {deleting && doc && (
        <ConfirmByName
          what="document"
          name={doc._id}
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            await del(path(db, doc._id) + qs({ rev: doc._rev }));
            discardDraft();
            go('db', db);
          }}
        />
      )}
    </section>
  );
}

/** Puts `rev` into the JSON text's `_rev` (after an attachment changed the revision under an edit). */
function withRev(text: string, rev: string): string {
  try {
    const d = JSON.parse(text) as Doc;
    return JSON.stringify({ ...d, _rev: rev }, null, 2);
  } catch {
    return text;
  }
}

/** A 409 on save: explain it, and offer to merge field by field or to take the newer revision. */
function ConflictOnSave(props: { mine: Doc; theirs: Loaded; onMerged: (text: string) => void; onReload: () => void }) {
  const versions = [props.mine, props.theirs];
  const rows = useMemo(() => fieldRows(versions), [props.mine, props.theirs]);
  const [merging, setMerging] = useState(false);
  const [choice, setChoice] = useState<Choice>(() => initialChoice(rows, 0));
  return (
    <div class="conflict-box" role="alert">
      <p>
        <strong>Someone saved a newer revision</strong> ({props.theirs._rev}) since you opened this document (you edited {String(props.mine._rev ?? 'no revision')}). Your edit is
        still here. Reload to take theirs, or merge the two.
      </p>
      {!merging ? (
        <div class="buttons">
          <button class="primary" onClick={() => setMerging(true)}>
            Merge with theirs
          </button>
          <button onClick={props.onReload}>Reload theirs (drop my edit)</button>
        </div>
      ) : (
        <>
          <MergeTable versions={[{ label: 'your edit', rev: String(props.mine._rev ?? '') }, { label: 'saved meanwhile', rev: props.theirs._rev }]} rows={rows} choice={choice} onChoice={setChoice} />
          <div class="buttons">
            <button class="primary" onClick={() => props.onMerged(JSON.stringify({ _id: props.theirs._id, _rev: props.theirs._rev, ...merged(rows, choice) }, null, 2))}>
              Put the merge in the editor
            </button>
            <button onClick={() => setMerging(false)}>Cancel</button>
          </div>
        </>
      )}
    </div>
  );
}

function Attachments({ db, doc, onChanged }: { db: string; doc: Loaded; onChanged: () => Promise<void> }) {
  const [file, setFile] = useState<File>();
  const [progress, setProgress] = useState<number>();
  const [error, setError] = useState<unknown>();
  const atts = Object.entries(doc._attachments ?? {});
  const send = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setError(undefined);
    setProgress(0);
    try {
      await upload(path(db, doc._id, file.name) + qs({ rev: doc._rev }), file, file.type, setProgress);
      setFile(undefined);
      (e.target as HTMLFormElement).reset();
      await onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setProgress(undefined);
    }
  };
  const remove = async (name: string) => {
    if (!confirm(`Delete the attachment ${name}?`)) return;
    try {
      await del(path(db, doc._id, name) + qs({ rev: doc._rev }));
      await onChanged();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section aria-label="attachments">
      <h2>Attachments</h2>
      {atts.length === 0 && <p class="muted">none</p>}
      <ul class="atts">
        {atts.map(([name, a]) => (
          <li key={name}>
            <a href={path(db, doc._id, name)} download={name}>
              {name}
            </a>{' '}
            <span class="muted small">
              {a.content_type} · {bytes(a.length)}
            </span>{' '}
            <button class="small danger" aria-label={`delete attachment ${name}`} onClick={() => remove(name)}>
              delete
            </button>
          </li>
        ))}
      </ul>
      <form class="inline" onSubmit={send}>
        <input type="file" aria-label="file to attach" onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0])} />
        <button type="submit" disabled={!file || progress !== undefined}>
          Upload
        </button>
      </form>
      {progress !== undefined && <progress max={1} value={progress} aria-label="upload progress" />}
      <ErrorBox error={error} />
    </section>
  );
}

function History({ db, doc }: { db: string; doc: Loaded }) {
  const [open, setOpen] = useState<string>();
  const [body, setBody] = useState<unknown>();
  const [error, setError] = useState<unknown>();
  const show = async (rev: string) => {
    if (open === rev) return setOpen(undefined);
    setOpen(rev);
    setBody(undefined);
    setError(undefined);
    try {
      setBody(await get(path(db, doc._id) + qs({ rev })));
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section aria-label="revision history">
      <h2>Revisions</h2>
      <ol class="revs">
        {(doc._revs_info ?? []).map((r) => (
          <li key={r.rev}>
            {r.status === 'available' ? (
              <button class="link mono" aria-expanded={open === r.rev} onClick={() => show(r.rev)}>
                {r.rev}
              </button>
            ) : (
              <span class="mono muted" title="the body of this revision is no longer kept">
                {r.rev}
              </span>
            )}{' '}
            <span class="muted small">{r.rev === doc._rev ? 'current' : r.status}</span>
            {open === r.rev && (body !== undefined ? <Json value={body} /> : <ErrorBox error={error} />)}
          </li>
        ))}
      </ol>
    </section>
  );
}
