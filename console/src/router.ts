// Hash routes (`#/db/notes/doc/n1`), so the server serves one index.html for every page and a
// reload or a shared link opens the same page.

import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'databases' }
  | { page: 'documents'; db: string }
  | { page: 'doc'; db: string; id: string | undefined }
  | { page: 'conflicts'; db: string; id: string | undefined }
  | { page: 'views'; db: string }
  | { page: 'mango'; db: string }
  | { page: 'replication' }
  | { page: 'node' }
  | { page: 'shards'; db: string | undefined };

export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  const [a, b, c, d] = parts;
  if (a === 'db' && b !== undefined) {
    if (c === 'doc') return { page: 'doc', db: b, id: d };
    if (c === 'new') return { page: 'doc', db: b, id: undefined };
    if (c === 'conflicts') return { page: 'conflicts', db: b, id: d };
    if (c === 'views') return { page: 'views', db: b };
    if (c === 'mango') return { page: 'mango', db: b };
    return { page: 'documents', db: b };
  }
  if (a === 'replication') return { page: 'replication' };
  if (a === 'node') return { page: 'node' };
  if (a === 'shards') return { page: 'shards', db: b };
  return { page: 'databases' };
}

/** The hash of a route's page; ids keep their slashes encoded, so `_design/x` is one segment. */
export function href(...segs: string[]): string {
  return '#/' + segs.map(encodeURIComponent).join('/');
}

export function go(...segs: string[]): void {
  location.hash = href(...segs);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
