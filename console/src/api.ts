// Every request the console makes goes through here: same-origin fetch with the session cookie,
// JSON in and out, CouchDB's {"error","reason"} turned into an ApiError.
//
// A 401 in the middle of work does not throw the page away: the request waits while the app shows
// the login form over the current page (whose state, unsaved edits included, stays mounted), then
// is sent again once the user has logged in.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: string,
    readonly body: unknown,
  ) {
    super(`${status} ${error}: ${reason}`);
  }
}

type LoginWaiter = () => Promise<void>;
let waitForLogin: LoginWaiter | undefined;

/** The app installs the function that shows the login form and resolves once logged in again. */
export function onUnauthorized(fn: LoginWaiter): void {
  waitForLogin = fn;
}

export interface CallOptions {
  body?: unknown;
  /** Raw body (attachments); sent as is with `contentType`. */
  raw?: BodyInit;
  contentType?: string;
  /** Return the error instead of waiting for a login on 401 (the login request itself). */
  noLoginRetry?: boolean;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** `/db/doc` paths with each segment encoded; `_design/x` keeps its slash. */
export function path(...segs: string[]): string {
  return (
    '/' +
    segs
      .map((s) => (s.startsWith('_design/') ? '_design/' + encodeURIComponent(s.slice(8)) : s.startsWith('_local/') ? '_local/' + encodeURIComponent(s.slice(7)) : encodeURIComponent(s)))
      .join('/')
  );
}

/** A query string from an object; values that are not strings are JSON-encoded (CouchDB keys). */
export function qs(params: Record<string, unknown>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === '') continue;
    u.set(k, typeof v === 'string' && !['startkey', 'endkey', 'key', 'start_key', 'end_key', 'keys'].includes(k) ? v : JSON.stringify(v));
  }
  const s = u.toString();
  return s ? '?' + s : '';
}

export async function call<T = any>(method: string, url: string, opts: CallOptions = {}): Promise<T> {
  for (;;) {
    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
    let body: BodyInit | undefined;
    if (opts.raw !== undefined) {
      body = opts.raw;
      headers['content-type'] = opts.contentType ?? 'application/octet-stream';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(url, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      /* not JSON: keep the text */
    }
    if (res.ok) return parsed as T;
    if (res.status === 401 && !opts.noLoginRetry && waitForLogin) {
      await waitForLogin();
      continue;
    }
    const e = (parsed ?? {}) as { error?: string; reason?: string };
    throw new ApiError(res.status, e.error ?? String(res.status), e.reason ?? res.statusText, parsed);
  }
}

export const get = <T = any>(url: string, o?: CallOptions) => call<T>('GET', url, o);
export const put = <T = any>(url: string, body?: unknown, o?: CallOptions) => call<T>('PUT', url, { ...o, body });
export const post = <T = any>(url: string, body?: unknown, o?: CallOptions) => call<T>('POST', url, { ...o, body });
export const del = <T = any>(url: string, o?: CallOptions) => call<T>('DELETE', url, o);

/** A GET that answers undefined for endpoints this server does not have (404/400/405/501). */
export async function optional<T = any>(url: string): Promise<T | undefined> {
  try {
    return await get<T>(url);
  } catch (e) {
    if (e instanceof ApiError && [400, 404, 405, 501].includes(e.status)) return undefined;
    throw e;
  }
}

/** Uploads with progress (fetch has no upload progress), re-asking for a login on 401. */
export function upload(url: string, data: Blob, contentType: string, onProgress: (fraction: number) => void): Promise<any> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.setRequestHeader('content-type', contentType || 'application/octet-stream');
    xhr.setRequestHeader('accept', 'application/json');
    xhr.upload.onprogress = (ev) => ev.lengthComputable && onProgress(ev.loaded / ev.total);
    xhr.onerror = () => reject(new ApiError(0, 'network_error', 'The upload did not reach the server.', null));
    xhr.onload = () => {
      let body: any = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* keep null */
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
      if (xhr.status === 401 && waitForLogin) {
        waitForLogin().then(() => upload(url, data, contentType, onProgress).then(resolve, reject), reject);
        return;
      }
      reject(new ApiError(xhr.status, body?.error ?? String(xhr.status), body?.reason ?? xhr.statusText, body));
    };
    xhr.send(data);
  });
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return `${e.status} ${e.error}: ${e.reason}`;
  return e instanceof Error ? e.message : String(e);
}
