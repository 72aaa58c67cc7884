// HttpEndpoint against a scripted HTTP server on 127.0.0.1 (random port):
// what goes on the wire, retries, the `_bulk_get` fallback, live feeds, and
// credentials staying out of errors. No third-party peer needed.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpEndpoint } from './http-endpoint.js';
import { PeerError } from '../errors.js';
import type { ChangesEvent } from './endpoint.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: Seen, res: http.ServerResponse) => void;

let server: http.Server;
let base: string;
let handler: Handler = (_req, res) => res.end();
let seen: Seen[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(entry);
      handler(entry, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function endpoint(url = `${base}db`, options = {}): HttpEndpoint {
  // Retries without real waiting.
  return HttpEndpoint.from(url, 'source', undefined, { clock: { now: () => 0, sleep: async () => undefined }, ...options });
}

function reset(h: Handler): void {
  seen = [];
  handler = h;
}

test('filtered feeds: selector and doc_ids are POSTed, design filters pass query params, seqs go out verbatim', async () => {
  reset((_req, res) => json(res, 200, { results: [], last_seq: '9-x' }));
  const ep = endpoint();
  await ep.changes({ since: '5-g1AAAA', limit: 100, style: 'all_docs', filter: { kind: 'selector', selector: { type: 'a' } } });
  await ep.changes({ since: 7, style: 'all_docs', filter: { kind: 'doc_ids', docIds: ['a', 'b/c'] } });
  await ep.changes({ since: 0, style: 'main_only', includeDocs: true, filter: { kind: 'design', name: 'app/by_type', queryParams: { type: 'x y' } } });
  await ep.close();
  const [sel, ids, design] = seen;
  assert.equal(sel?.method, 'POST');
  const selUrl = new URL(sel?.url ?? '', base);
  assert.equal(selUrl.pathname, '/db/_changes');
  assert.deepEqual(Object.fromEntries(selUrl.searchParams), { feed: 'normal', style: 'all_docs', since: '5-g1AAAA', limit: '100', filter: '_selector' });
  assert.deepEqual(JSON.parse(sel?.body ?? ''), { selector: { type: 'a' } });
  assert.equal(sel?.headers['content-type'], 'application/json');
  assert.equal(ids?.method, 'POST');
  assert.equal(new URL(ids?.url ?? '', base).searchParams.get('filter'), '_doc_ids');
  assert.deepEqual(JSON.parse(ids?.body ?? ''), { doc_ids: ['a', 'b/c'] });
  assert.equal(design?.method, 'GET');
  assert.deepEqual(Object.fromEntries(new URL(design?.url ?? '', base).searchParams), { feed: 'normal', style: 'main_only', since: '0', include_docs: 'true', type: 'x y', filter: 'app/by_type' });
});

test('credentials travel as Basic auth and never appear in labels or errors', async () => {
  reset((_req, res) => json(res, 401, { error: 'unauthorized', reason: 'Name or password is incorrect.' }));
  const ep = endpoint(`http://adm:hunter2@127.0.0.1:${new URL(base).port}/db`);
  assert.equal(ep.label, `http://adm:*****@127.0.0.1:${new URL(base).port}/db/`);
  await assert.rejects(ep.dbInfo(), (err: unknown) => {
    assert.ok(err instanceof PeerError);
    assert.equal(err.status, 401);
    assert.equal(err.error, 'unauthorized');
    assert.ok(!err.message.includes('hunter2') && !err.url.includes('hunter2'));
    return true;
  });
  assert.equal(seen.length, 1, '401 is not retried');
  assert.equal(seen[0]?.headers['authorization'], 'Basic ' + Buffer.from('adm:hunter2').toString('base64'));
  assert.equal(seen[0]?.url, '/db/');
  await ep.close();
});

test('transient failures are retried; 409 is not', async () => {
  let calls = 0;
  reset((_req, res) => (++calls < 3 ? json(res, 503, { error: 'service_unavailable', reason: 'busy' }) : json(res, 200, { db_name: 'db', update_seq: 3 })));
  const ep = endpoint();
  assert.deepEqual(await ep.dbInfo(), { db_name: 'db', update_seq: 3 });
  assert.equal(seen.length, 3);

  reset((_req, res) => json(res, 409, { error: 'conflict', reason: 'Document update conflict.' }));
  await assert.rejects(ep.putLocal({ _id: '_local/x', _rev: '0-1' }), (err: unknown) => err instanceof PeerError && err.status === 409);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]?.url, '/db/_local/x');

  reset((_req, res) => json(res, 500, { error: 'unknown_error', reason: 'boom' }));
  const few = endpoint(`${base}db`, { retries: 2 });
  await assert.rejects(few.dbInfo(), (err: unknown) => err instanceof PeerError && err.status === 500);
  assert.equal(seen.length, 3, 'one attempt plus two retries');
  await Promise.all([ep.close(), few.close()]);

  // No answer at all: status 0, retried, then given up.
  const closed = HttpEndpoint.from('http://127.0.0.1:9/db', 'source', undefined, { retries: 1, clock: { now: () => 0, sleep: async () => undefined } });
  await assert.rejects(closed.dbInfo(), (err: unknown) => err instanceof PeerError && err.status === 0);
  await closed.close();
});

test('a peer without _bulk_get is read with open_revs, and is not probed again', async () => {
  reset((req, res) => {
    const url = new URL(req.url, base);
    if (url.pathname === '/db/_bulk_get') return json(res, 404, { error: 'not_found', reason: 'missing' });
    if (url.pathname === '/db/a%2Fb') {
      assert.equal(url.searchParams.get('revs'), 'true');
      assert.equal(url.searchParams.get('latest'), 'true');
      assert.equal(req.headers['accept'], 'application/json');
      const revs = JSON.parse(url.searchParams.get('open_revs') ?? '[]') as string[];
      return json(res, 200, revs.map((rev) => (rev === '1-gone' ? { missing: rev } : { ok: { _id: 'a/b', _rev: rev, _revisions: { start: 1, ids: [rev.slice(2)] } } })));
    }
    return json(res, 404, { error: 'not_found', reason: 'missing' });
  });
  const ep = endpoint();
  const first = await ep.bulkGet([{ id: 'a/b', rev: '1-x' }, { id: 'a/b', rev: '1-gone' }], { attachments: false });
  assert.deepEqual(first, [
    { ok: { _id: 'a/b', _rev: '1-x', _revisions: { start: 1, ids: ['x'] } } },
    { error: { id: 'a/b', rev: '1-gone', error: 'not_found', reason: 'missing' } },
  ]);
  assert.deepEqual(seen.map((s) => new URL(s.url, base).pathname), ['/db/_bulk_get', '/db/a%2Fb']);
  seen = [];
  await ep.bulkGet([{ id: 'a/b', rev: '1-y' }], { attachments: false });
  assert.deepEqual(seen.map((s) => new URL(s.url, base).pathname), ['/db/a%2Fb']);
  await ep.close();
});

test('_bulk_get answers are flattened per revision; writes are new_edits=false and return only failures', async () => {
  reset((req, res) => {
    const url = new URL(req.url, base);
    if (url.pathname === '/db/_bulk_get') {
      assert.deepEqual(Object.fromEntries(url.searchParams), { revs: 'true', latest: 'true', attachments: 'true' });
      assert.deepEqual(JSON.parse(req.body), { docs: [{ id: 'a', rev: '2-b', atts_since: ['1-a'] }] });
      return json(res, 200, { results: [{ id: 'a', docs: [{ ok: { _id: 'a', _rev: '2-b' } }] }] });
    }
    if (url.pathname === '/db/_bulk_docs') {
      assert.deepEqual(JSON.parse(req.body), { new_edits: false, docs: [{ _id: 'a', _rev: '2-b' }, { _id: 'c', _rev: '1-c' }] });
      return json(res, 201, [{ id: 'c', rev: '1-c', error: 'forbidden', reason: 'no' }]);
    }
    return json(res, 404, {});
  });
  const ep = endpoint();
  const got = await ep.bulkGet([{ id: 'a', rev: '2-b', atts_since: ['1-a'] }], { attachments: true });
  assert.deepEqual(got, [{ ok: { _id: 'a', _rev: '2-b' } }]);
  assert.deepEqual(await ep.bulkDocs([{ _id: 'a', _rev: '2-b' }, { _id: 'c', _rev: '1-c' }]), [{ id: 'c', rev: '1-c', error: 'forbidden', reason: 'no' }]);
  await ep.close();
});

test('a continuous feed yields rows as lines complete, skips heartbeats, and ends with last_seq', async () => {
  reset((req, res) => {
    const url = new URL(req.url, base);
    assert.equal(url.searchParams.get('feed'), 'continuous');
    assert.equal(url.searchParams.get('heartbeat'), '500');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"seq":1,"id":"a","chan');
    setTimeout(() => res.write('ges":[{"rev":"1-a"}]}\n\n{"seq":2,"id":"b","changes":[{"rev":"1-b"}],"deleted":true}\n'), 20);
    setTimeout(() => res.end('\n{"last_seq":2,"pending":0}\n'), 40);
  });
  const ep = endpoint();
  const events: ChangesEvent[] = [];
  for await (const event of ep.changesFeed({ since: 0, style: 'all_docs', heartbeatMs: 500, feed: 'continuous' })) events.push(event);
  const rows = events.flatMap((e) => (e.kind === 'rows' ? e.rows : []));
  assert.deepEqual(rows.map((r) => [r.id, r.seq, r.deleted ?? false]), [['a', 1, false], ['b', 2, true]]);
  assert.deepEqual(events[events.length - 1], { kind: 'last_seq', lastSeq: 2 });
  await ep.close();
});

test('a feed that goes silent past its heartbeat fails as a dead connection', async () => {
  reset((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('\n'); // one heartbeat, then silence
  });
  const ep = endpoint();
  const started = Date.now();
  await assert.rejects(
    (async () => {
      for await (const _event of ep.changesFeed({ since: 0, style: 'all_docs', heartbeatMs: 100, feed: 'continuous' })) {
        // no rows expected
      }
    })(),
    (err: unknown) => err instanceof PeerError && err.status === 0,
  );
  assert.ok(Date.now() - started < 2000);
  await ep.close();
});
