// Small pieces every page uses: loading and error states, a polling hook, the database tabs and
// the delete confirmation that makes the user type the name of what goes away.

import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from './api';
import { href } from './router';

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs `fn` when `deps` change (and on reload()); keeps the last data while reloading. */
export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    fn().then(
      (data) => live && setState({ data, error: undefined, loading: false }),
      (error) => live && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** Calls `fn` every `ms` while mounted (and once at once); skips a tick while one is running. */
export function usePoll(fn: () => Promise<void>, ms: number, deps: unknown[] = []): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    let busy = false;
    let live = true;
    const tick = async () => {
      if (busy || !live) return;
      busy = true;
      try {
        await ref.current();
      } catch {
        /* the page shows its own errors */
      } finally {
        busy = false;
      }
    };
    void tick();
    const t = setInterval(tick, ms);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [ms, ...deps]);
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {errorText(error)}
    </p>
  );
}

export function Loading({ when }: { when: boolean }) {
  return when ? <span class="muted" aria-live="polite">loading…</span> : null;
}

export function DbTabs({ db, current }: { db: string; current: string }) {
  const tabs: [string, string][] = [
    ['documents', href('db', db)],
    ['conflicts', href('db', db, 'conflicts')],
    ['views', href('db', db, 'views')],
    ['mango', href('db', db, 'mango')],
  ];
  return (
    <nav class="tabs" aria-label={`database ${db}`}>
      <a href={href()} class="crumb">
        databases
      </a>
      <span class="crumb-sep">/</span>
      <strong class="dbname">{db}</strong>
      {tabs.map(([name, link]) => (
        <a key={name} href={link} class={current === name ? 'tab active' : 'tab'} aria-current={current === name ? 'page' : undefined}>
          {name}
        </a>
      ))}
    </nav>
  );
}

/** A modal that only confirms once the user has typed `name`. */
export function ConfirmByName(props: { what: string; name: string; onConfirm: () => Promise<void>; onClose: () => void }) {
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const ok = typed === props.name;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!ok || busy) return;
    setBusy(true);
    try {
      await props.onConfirm();
      props.onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Modal title={`Delete ${props.what} ${props.name}?`} onClose={props.onClose}>
      <form onSubmit={submit}>
        <p>
          This deletes the {props.what} <strong>{props.name}</strong> and everything in it. Type its name to confirm.
        </p>
        <input ref={input} aria-label={`type ${props.name} to confirm`} value={typed} onInput={(e) => setTyped((e.target as HTMLInputElement).value)} />
        <ErrorBox error={error} />
        <div class="buttons">
          <button type="submit" class="danger" disabled={!ok || busy}>
            Delete {props.name}
          </button>
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function Modal(props: { title: string; onClose: () => void; children: ComponentChildren }) {
  useEffect(() => {
    const key = (e: KeyboardEvent) => e.key === 'Escape' && props.onClose();
    addEventListener('keydown', key);
    return () => removeEventListener('keydown', key);
  }, [props.onClose]);
  return (
    <div class="backdrop" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class="modal" role="dialog" aria-modal="true" aria-label={props.title}>
        <h2>{props.title}</h2>
        {props.children}
      </div>
    </div>
  );
}

export function bytes(n: number | undefined): string {
  if (n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Update seqs are opaque: show a plain number whole, a long token by its start. */
export function seq(s: unknown): string {
  const t = typeof s === 'string' || typeof s === 'number' ? String(s) : JSON.stringify(s);
  return t.length > 16 ? t.slice(0, 12) + '…' : t;
}

export function Json({ value }: { value: unknown }) {
  return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
}
