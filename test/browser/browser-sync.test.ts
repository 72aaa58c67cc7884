// Browser sync, proved in a real headless Chromium (Debian's, driven by playwright-core): a page
// on another origin logs in through `_session` with a cookie, live-syncs the user's database with
// PouchDB, edits while the node is stopped, reconnects, shows the conflict a second client made
// meanwhile, resolves it, and both sides agree. A second user is refused the first user's
// database from the browser too.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startNode, type NodeOptions, type RunningNode } from '../../server/node.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const ADMIN = 'Basic ' + Buffer.from('adm:pw').toString('base64');

let dir: string;
let node: RunningNode;
let nodeOpts: NodeOptions;
let pageServer: Server;
let pageOrigin: string;
let browser: Browser;
let page: Page;

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(node.url + path, {
    method,
    headers: { authorization: ADMIN, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: r.status, body: await r.json() };
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  if (!haveChromium) return;
  pageServer = createServer((req, res) => {
    if (req.url === '/pouchdb.js') {
      res.writeHead(200, { 'content-type': 'application/javascript' });
      res.end(readFileSync('node_modules/pouchdb/dist/pouchdb.js'));
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(readFileSync('test/browser/page.html'));
    }
  });
  await new Promise<void>((r) => pageServer.listen(0, '127.0.0.1', () => r()));
  pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'chaise-browser-'));
  nodeOpts = {
    port: 0,
    dir,
    admins: [{ name: 'adm', password: 'pw' }],
    auth: { iterations: 1000 },
    cors: { origins: [pageOrigin], credentials: true, headers: ['accept', 'authorization', 'content-type', 'origin'], methods: ['GET', 'PUT', 'POST', 'HEAD', 'DELETE'], maxAgeSeconds: 600 },
  };
  node = await startNode(nodeOpts);
  nodeOpts.port = node.port;
  for (const [name, password] of [['alice', 'pw-a'], ['bob', 'pw-b']]) {
    assert.equal((await admin('PUT', `/_users/org.couchdb.user:${name}`, { name, password, type: 'user', roles: [] })).status, 201);
  }
  assert.equal((await admin('PUT', '/alice-db')).status, 201);
  assert.equal((await admin('PUT', '/alice-db/_security', { admins: { names: [], roles: [] }, members: { names: ['alice'], roles: [] } })).status, 200);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  page = await (await browser.newContext()).newPage();
  await page.goto(pageOrigin + '/');
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
});

after(async () => {
  await browser?.close();
  await node?.close();
  pageServer?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a browser logs in with a cookie, syncs live, survives an offline edit and resolves the conflict', { skip: haveChromium ? false : `${CHROMIUM} is not installed (.ci/run installs it)` }, async () => {
  const login = await page.evaluate(([n]) => (window as any).app.login(n, 'alice', 'pw-a'), [node.url]);
  assert.deepEqual(login, { status: 200, body: { ok: true, name: 'alice', roles: [] } });

  await page.evaluate(([n]) => (window as any).app.startSync(n, 'alice-db'), [node.url]);
  await page.evaluate(() => (window as any).app.local.put({ _id: 'shared', v: 'start' }));
  const first = await eventually('the first edit on the node', async () => {
    const r = await admin('GET', '/alice-db/shared');
    return r.status === 200 ? r.body : undefined;
  });
  assert.equal(first.v, 'start');

  // Offline: the node stops; the browser edits on.
  await node.close();
  await page.context().setOffline(true);
  await page.evaluate(async () => {
    const app = (window as any).app;
    const doc = await app.local.get('shared');
    await app.local.put({ ...doc, v: 'edited offline in the browser' });
  });
  // The node comes back; a second client edits the same doc before the browser reconnects.
  node = await startNode(nodeOpts);
  const second = await admin('PUT', '/alice-db/shared', { _rev: first._rev, v: 'edited by a second client' });
  assert.equal(second.status, 201);
  await page.context().setOffline(false);

  const shown = await eventually('the conflict shown in the page', async () => {
    const n = await page.locator('#conflicts li').count();
    return n > 0 ? page.locator('#conflicts li').allTextContents() : undefined;
  }, 20_000);
  assert.equal(shown.length, 1);
  const onNode = await eventually('the conflict on the node', async () => {
    const r = await admin('GET', '/alice-db/shared?conflicts=true');
    return r.body._conflicts ? r.body : undefined;
  });
  const inPage = await page.evaluate(() => (window as any).app.local.get('shared', { conflicts: true }));
  assert.equal(inPage._rev, onNode._rev, 'both sides pick the same winner');
  assert.deepEqual(inPage._conflicts, onNode._conflicts);

  // Resolve in the page: keep the winner, delete the loser.
  await page.evaluate(async () => {
    const app = (window as any).app;
    const doc = await app.local.get('shared', { conflicts: true });
    for (const rev of doc._conflicts) await app.local.remove('shared', rev);
    await app.render();
  });
  const resolved = await eventually('the resolution on the node', async () => {
    const r = await admin('GET', '/alice-db/shared?conflicts=true');
    return r.body._conflicts === undefined ? r.body : undefined;
  });
  const pageDoc = await page.evaluate(() => (window as any).app.local.get('shared', { conflicts: true }));
  assert.equal(pageDoc._rev, resolved._rev);
  assert.equal(pageDoc._conflicts, undefined);
  assert.equal(await page.locator('#conflicts li').count(), 0);
  await page.evaluate(() => (window as any).app.sync.cancel());
});

test('a second user is refused the first user\'s database from the browser', { skip: haveChromium ? false : `${CHROMIUM} is not installed` }, async () => {
  const login = await page.evaluate(([n]) => (window as any).app.login(n, 'bob', 'pw-b'), [node.url]);
  assert.equal(login.status, 200);
  const r = await page.evaluate(([n]) => (window as any).app.fetchStatus(n + '/alice-db/shared'), [node.url]);
  assert.deepEqual(r, { status: 403, body: { error: 'forbidden', reason: 'You are not allowed to access this db.' } });
  // An origin that is not allowed gets no CORS headers at all.
  const evil = await fetch(node.url + '/', { headers: { origin: 'http://evil.example' } });
  assert.equal(evil.headers.get('access-control-allow-origin'), null);
});
