// The console's shell: session check, the login form (also shown over the current page when a
// request gets 401 during use, so nothing typed is lost), the navigation and the pages.

import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, call, errorText, get, onUnauthorized } from './api';
import { href, useRoute, type Route } from './router';
import { isAdmin, SessionContext, type Session } from './session';
import { DatabasesPage } from './pages/databases';
import { DocumentsPage } from './pages/documents';
import { DocPage } from './pages/doc';
import { ConflictsPage } from './pages/conflicts';
import { MangoPage, ViewsPage } from './pages/views';
import { ReplicationPage } from './pages/replication';
import { NodePage } from './pages/node';
import { ShardsPage } from './pages/shards';
import './style.css';

interface Who {
  name: string | null;
  roles: string[];
}

async function whoAmI(): Promise<Who> {
  const s = await call<{ userCtx: Who }>('GET', '/_session', { noLoginRetry: true });
  return s.userCtx;
}

const loggedIn = (w: Who) => w.name !== null || w.roles.includes('_admin');

function App() {
  const [who, setWho] = useState<Who | undefined>();
  const [server, setServer] = useState<{ lounge: boolean; version: string }>({ lounge: false, version: '' });
  const [relogin, setRelogin] = useState(false);
  const waiters = useRef<(() => void)[]>([]);
  const route = useRoute();

  useEffect(() => {
    whoAmI().then(setWho, () => setWho({ name: null, roles: [] }));
    get('/').then((r) => setServer({ lounge: r?.vendor?.name === 'Chaise Lounge', version: String(r?.version ?? '') }), () => undefined);
    onUnauthorized(
      () =>
        new Promise<void>((resolve) => {
          waiters.current.push(resolve);
          setRelogin(true);
        }),
    );
  }, []);

  const loggedInAs = (w: Who) => {
    setWho(w);
    setRelogin(false);
    const ws = waiters.current;
    waiters.current = [];
    ws.forEach((r) => r());
  };

  if (who === undefined) return <p class="muted center">connecting…</p>;
  if (!loggedIn(who)) return <Login onLogin={loggedInAs} />;
  const session: Session = { ...who, ...server };
  const logout = async () => {
    await call('DELETE', '/_session', { noLoginRetry: true }).catch(() => undefined);
    setWho({ name: null, roles: [] });
  };
  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href()}>
          Chaise{server.lounge ? ' lounge' : ''}
        </a>
        <nav aria-label="main">
          <NavLink route={route} page="databases" to={href()} label="Databases" />
          {isAdmin(session) && !server.lounge && <NavLink route={route} page="replication" to={href('replication')} label="Replication" />}
          {isAdmin(session) && <NavLink route={route} page="node" to={href('node')} label={server.lounge ? 'Server' : 'Node'} />}
          {isAdmin(session) && server.lounge && <NavLink route={route} page="shards" to={href('shards')} label="Shards" />}
        </nav>
        <span class="who">
          {who.name ?? 'admin party'}
          {who.name !== null && (
            <button class="link" onClick={logout}>
              log out
            </button>
          )}
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
      {relogin && (
        <div class="backdrop">
          <div class="modal" role="dialog" aria-modal="true" aria-label="log in again">
            <p>Your session has ended. Log in again to carry on; nothing you typed is lost.</p>
            <Login onLogin={loggedInAs} embedded />
          </div>
        </div>
      )}
    </SessionContext.Provider>
  );
}

function NavLink(p: { route: Route; page: string; to: string; label: string }) {
  const active = p.route.page === p.page || (p.page === 'databases' && 'db' in p.route && p.route.page !== 'shards');
  return (
    <a href={p.to} class={active ? 'active' : ''} aria-current={active ? 'page' : undefined}>
      {p.label}
    </a>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'databases':
      return <DatabasesPage />;
    case 'documents':
      return <DocumentsPage db={route.db} />;
    case 'doc':
      return <DocPage key={`${route.db}/${route.id}`} db={route.db} id={route.id} />;
    case 'conflicts':
      return <ConflictsPage key={`${route.db}/${route.id}`} db={route.db} id={route.id} />;
    case 'views':
      return <ViewsPage db={route.db} />;
    case 'mango':
      return <MangoPage db={route.db} />;
    case 'replication':
      return <ReplicationPage />;
    case 'node':
      return <NodePage />;
    case 'shards':
      return <ShardsPage db={route.db} />;
  }
}

function Login({ onLogin, embedded }: { onLogin: (w: Who) => void; embedded?: boolean }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await call('POST', '/_session', { body: { name, password }, noLoginRetry: true });
      onLogin(await whoAmI());
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'Name or password is incorrect.' : errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class={embedded ? 'login' : 'login card'} onSubmit={submit} aria-label="log in">
      {!embedded && <h1>Chaise console</h1>}
      <label>
        Name
        <input name="name" autoComplete="username" autoFocus value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} required />
      </label>
      <label>
        Password
        <input name="password" type="password" autoComplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} required />
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" class="primary" disabled={busy}>
        Log in
      </button>
    </form>
  );
}

render(<App />, document.getElementById('app')!);
