// The web console at /_utils, driven in headless Debian Chromium (playwright-core) against a real
// node and a real `chaise cluster`: log in, create a database, add and edit a document (a lost
// session mid-edit returns to the login form and keeps the edit), resolve a three-way conflict by
// merging fields and check through the API that the merge won and no conflict is left, run a
// replication to completion, and see a lounge's shard map. Each page is saved as a screenshot in
// test-output/console/ (gitignored); two of them are in console/README.md.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startNode, type RunningNode } from '../../server/node.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const skip = haveChromium ? false : `${CHROMIUM} is not installed (.ci/run installs it)`;
const ADMIN = 'Basic ' + Buffer.from('adm:pw').toString('base64');
const SHOTS = join('test-output', 'console');
/** Generous: the machine is shared, and a view build or a replication takes a few turns. */
const UI_WAIT_MS = 20_000;
const DB = 'console-db';
/** A stuck step fails its test instead of hanging the run. */
const TEST_MS = 90_000;

let dir: string;
let node: RunningNode;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const foreignRequests: string[] = [];

async function api(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(base + path, {
    method,
    headers: { authorization: ADMIN, 'content-type': 'application/json', accept: 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: r.status, body: await r.json() };
}

async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}

/** Replaces the CodeMirror editor's text (labelled `label`) as a user would, by select-all and typing. */
async function setEditor(p: Page, label: string, text: string): Promise<void> {
  const ed = p.getByRole('textbox', { name: label });
  await ed.click();
  await p.keyboard.press('Control+A');
  await p.keyboard.press('Delete');
  await p.keyboard.insertText(text);
}

/** Opens a page of the console: a hash change when the console is already loaded, else a load. */
async function open(p: Page, base: string, hash: string): Promise<void> {
  if (p.url().startsWith(base + '/_utils/')) await p.evaluate((h) => (location.hash = h), hash);
  else await p.goto(base + '/_utils/' + hash);
}

async function login(p: Page, name: string, password: string): Promise<void> {
  await p.getByLabel('Name').fill(name);
  await p.getByLabel('Password').fill(password);
  await p.getByRole('button', { name: 'Log in' }).click();
}

/** A `chaise cluster` process, started first so that it boots while the node's tests run. */
let cluster: ChildProcess | undefined;
let clusterDir: string | undefined;
let clusterUrl: Promise<string>;

function startCluster(): Promise<string> {
  clusterDir = mkdtempSync(join(tmpdir(), 'chaise-console-cluster-'));
  const proc = spawn(process.execPath, ['dist/server/cli.js', 'cluster', '--nodes', '3', '--q', '4', '--n', '2', '--port', '0', '--dir', clusterDir, '--admin', 'adm:pw', '--in-memory'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cluster = proc;
  let out = '';
  return new Promise<string>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`cluster did not start: ${out}`)), 60_000);
    const on = (c: Buffer) => {
      out += c.toString('utf8');
      const m = /lounge listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ready(m[1] as string);
      }
    };
    proc.stdout?.on('data', on);
    proc.stderr?.on('data', on);
    proc.once('exit', (code) => fail(new Error(`cluster exited (${code}): ${out}`)));
  });
}

before(async () => {
  if (!haveChromium) return;
  clusterUrl = startCluster();
  clusterUrl.catch(() => undefined); // test 6 reports it
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'chaise-console-'));
  node = await startNode({ port: 0, dir, admins: [{ name: 'adm', password: 'pw' }], auth: { iterations: 1000 } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(UI_WAIT_MS);
  page = await context.newPage();
  if (process.env.CHAISE_CONSOLE_DEBUG) {
    page.on('console', (m) => console.error('browser:', m.text()));
    page.on('pageerror', (e) => console.error('page error:', e.message));
  }
  page.on('request', (r) => {
    if (!r.url().startsWith(node.url) && !r.url().startsWith('data:')) foreignRequests.push(r.url());
  });
});

after(async () => {
  if (cluster && cluster.exitCode === null) {
    const exited = new Promise((r) => cluster?.once('exit', r));
    cluster.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (cluster.exitCode === null) cluster.kill('SIGKILL');
  }
  if (clusterDir) rmSync(clusterDir, { recursive: true, force: true });
  await browser?.close();
  await node?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the console is served at /_utils/ with cache headers; /_utils redirects', { skip, timeout: TEST_MS }, async () => {
  const bare = await fetch(node.url + '/_utils', { redirect: 'manual' });
  assert.equal(bare.status, 301);
  assert.equal(bare.headers.get('location'), '/_utils/');
  const index = await fetch(node.url + '/_utils/');
  assert.equal(index.status, 200);
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  const html = await index.text();
  const asset = /src="(\/_utils\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(asset, html);
  const js = await fetch(node.url + asset);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('cache-control') ?? '', /max-age=31536000, immutable/);
  assert.equal(js.headers.get('content-encoding'), 'gzip', 'fetch asks for gzip; the bundle is sent compressed');
  assert.match(await js.text(), /\S/);
  const again = await fetch(node.url + '/_utils/', { headers: { 'if-none-match': index.headers.get('etag') ?? '' } });
  assert.equal(again.status, 304);
  // A path climbing out of the build is refused (sent raw: fetch would normalize the dots away).
  const climb = await new Promise<number>((done, fail) =>
    request({ host: '127.0.0.1', port: node.port, path: '/_utils/%2e%2e/%2e%2e/package.json' }, (res) => (res.resume(), done(res.statusCode ?? 0))).on('error', fail).end(),
  );
  assert.equal(climb, 404);
});

test('1: log in, create a database, add a document, edit it (a lost session keeps the edit)', { skip, timeout: TEST_MS }, async () => {
  await page.goto(node.url + '/_utils');
  await login(page, 'adm', 'wrong');
  await page.getByText('Name or password is incorrect.').waitFor();
  await login(page, 'adm', 'pw');
  await page.getByRole('heading', { name: 'Databases' }).waitFor();

  await page.getByLabel('new database name').fill(DB);
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/#\/db\/console-db$/);
  await page.getByText('0 docs').waitFor();

  await page.getByRole('link', { name: 'New document' }).click();
  await page.getByRole('textbox', { name: 'document JSON' }).waitFor();
  await setEditor(page, 'document JSON', '{"_id": "doc1", "name": "first",}');
  await page.getByText(/^Not valid JSON/).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Save' }).isDisabled(), true, 'Save stays disabled while the JSON does not parse');
  await setEditor(page, 'document JSON', '{"_id": "doc1", "name": "first"}');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(/#\/db\/console-db\/doc\/doc1$/);
  const first = await api(node.url, 'GET', `/${DB}/doc1`);
  assert.equal(first.body.name, 'first');

  // Edit: the session cookie is lost before Save; the login form opens over the page, and once
  // logged in again the save goes through with the edit intact.
  await page.getByText(first.body._rev).first().waitFor();
  await setEditor(page, 'document JSON', JSON.stringify({ _id: 'doc1', _rev: first.body._rev, name: 'edited', tags: ['a', 'b'] }, null, 2));
  await context.clearCookies();
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('dialog', { name: 'log in again' }).waitFor();
  await login(page, 'adm', 'pw');
  await page.getByRole('status').filter({ hasText: /Saved as 2-/ }).waitFor();
  const edited = await api(node.url, 'GET', `/${DB}/doc1`);
  assert.equal(edited.body.name, 'edited');
  assert.deepEqual(edited.body.tags, ['a', 'b']);
  assert.match(edited.body._rev, /^2-/);

  // A 409 is explained: the doc changes underneath an edit.
  await setEditor(page, 'document JSON', JSON.stringify({ _id: 'doc1', _rev: edited.body._rev, name: 'mine' }, null, 2));
  assert.equal((await api(node.url, 'PUT', `/${DB}/doc1`, { ...edited.body, name: 'theirs' })).status, 201);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Someone saved a newer revision').waitFor();
  await shot(page, 'document');
  await page.getByRole('button', { name: 'Reload theirs (drop my edit)' }).click();
  await page.getByText(/^3-/).first().waitFor();

  // Attachments: upload with a progress bar, then list, download and delete.
  const bytes = 'hello from the console\n'.repeat(2000);
  await page.getByLabel('file to attach').setInputFiles({ name: 'note.txt', mimeType: 'text/plain', buffer: Buffer.from(bytes) });
  await page.getByRole('button', { name: 'Upload' }).click();
  await page.getByRole('link', { name: 'note.txt' }).waitFor();
  const withAtt = await api(node.url, 'GET', `/${DB}/doc1`);
  assert.equal(withAtt.body._attachments['note.txt'].length, bytes.length);
  const href = await page.getByRole('link', { name: 'note.txt' }).getAttribute('href');
  assert.equal(await page.evaluate(async (u) => (await fetch(u as string)).text(), href), bytes, 'the download link serves the bytes');
  await shot(page, 'document-attachments');
  page.once('dialog', (d) => void d.accept());
  await page.getByRole('button', { name: 'delete attachment note.txt' }).click();
  await page.getByText('none').first().waitFor();
  assert.equal((await api(node.url, 'GET', `/${DB}/doc1`)).body._attachments, undefined);

  await open(page, node.url, `#/db/${DB}`);
  await page.getByRole('link', { name: 'doc1' }).waitFor();
  await shot(page, 'documents');
  await open(page, node.url, '#/');
  await page.locator(`tr[data-db="${DB}"]`).waitFor();
  await shot(page, 'databases');
});

test('2-4: a three-way conflict made through the API is merged field by field on the conflicts page', { skip, timeout: TEST_MS }, async () => {
  const leaves = [
    { _id: 'c1', _rev: '1-' + 'a'.repeat(32), name: 'Ada', city: 'Paris', phone: '111', n: 1 },
    { _id: 'c1', _rev: '1-' + 'b'.repeat(32), name: 'Ada Lovelace', city: 'Paris', phone: '222', n: 2 },
    { _id: 'c1', _rev: '1-' + 'c'.repeat(32), name: 'Ada', city: 'London', n: 3, email: 'ada@example.org' },
  ];
  for (const l of leaves) assert.equal((await api(node.url, 'PUT', `/${DB}/c1?new_edits=false`, l)).status, 201);
  const before = await api(node.url, 'GET', `/${DB}/c1?conflicts=true`);
  assert.equal(before.body._rev, leaves[2]!._rev, 'CouchDB picks the highest rev id as the winner');
  assert.equal(before.body._conflicts.length, 2);

  await open(page, node.url, `#/db/${DB}/conflicts`);
  await page.getByRole('link', { name: 'c1' }).click();
  await page.getByRole('table', { name: 'versions side by side' }).waitFor();
  assert.equal(await page.locator('table.merge thead th[data-rev]').count(), 3, 'every leaf side by side');
  assert.equal(await page.locator('table.merge tr.differs').count(), 5, 'name, city, phone, n and email differ');
  // Merge: the long name from b, the city from the winner (London), the phone from a, n from b.
  await page.getByRole('radio', { name: `name from ${leaves[1]!._rev}` }).check();
  await page.getByRole('radio', { name: `phone from ${leaves[0]!._rev}` }).check();
  await page.getByRole('radio', { name: `n from ${leaves[1]!._rev}` }).check();
  await shot(page, 'conflicts');
  await page.getByRole('button', { name: 'Resolve conflict' }).click();
  await page.getByTestId('resolution').filter({ hasText: 'no conflicts' }).waitFor();
  await shot(page, 'conflicts-resolved');

  const after = await api(node.url, 'GET', `/${DB}/c1?conflicts=true&deleted_conflicts=true`);
  assert.equal(after.body._conflicts, undefined, 'no conflicts left');
  assert.match(after.body._rev, /^2-/, 'the merge is written on the winning leaf');
  const { _id, _rev, _deleted_conflicts, ...content } = after.body;
  assert.deepEqual(content, { name: 'Ada Lovelace', city: 'London', n: 2, email: 'ada@example.org', phone: '111' });
  assert.equal(_deleted_conflicts.length, 2, 'both losing leaves deleted');
  const leafRevs = await api(node.url, "GET", `/${DB}/c1?open_revs=all`);
  assert.equal(leafRevs.body.filter((r: any) => r.ok && !r.ok._deleted).length, 1, 'one live leaf left');
  // The conflicts list no longer names it.
  await open(page, node.url, `#/db/${DB}/conflicts`);
  await page.getByText(`No document in ${DB} has conflicts.`).waitFor();
});

test('5: a replication started from the console runs to completion', { skip, timeout: TEST_MS }, async () => {
  for (let i = 0; i < 20; i++) assert.equal((await api(node.url, 'PUT', `/${DB}/r${i}`, { i })).status, 201);
  await open(page, node.url, '#/replication');
  const form = page.getByRole('form', { name: 'start a replication' });
  await form.getByRole('textbox', { name: 'source' }).fill(DB);
  await form.getByRole('textbox', { name: 'target' }).fill('console-copy');
  await form.getByLabel('your password').fill('pw');
  await form.getByRole('button', { name: 'Start replication' }).click();
  await page.locator('tr[data-state="completed"]').waitFor({ timeout: 30_000 });
  await shot(page, 'replication');
  const src = await api(node.url, 'GET', `/${DB}`);
  const dst = await api(node.url, 'GET', '/console-copy');
  assert.equal(dst.status, 200);
  assert.equal(dst.body.doc_count, src.body.doc_count);

  // The node page plots _stats when the node answers it, and says so when it does not.
  await open(page, node.url, '#/node');
  await page.getByRole('heading', { name: 'Active tasks' }).waitFor();
  if ((await api(node.url, 'GET', '/_node/_local/_stats')).status === 200) {
    await page.waitForFunction(() => document.querySelectorAll('figure.chart canvas').length === 3);
    await page.getByRole('table', { name: 'configuration' }).waitFor();
    await page.waitForTimeout(4500); // a few samples, so the plots have lines
  } else {
    await page.getByText('This server does not answer /_node/_local/_stats.').waitFor();
  }
  await shot(page, 'node');
  // Phone-sized: the document page still works.
  const phone = await context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(node.url + `/_utils/#/db/${DB}/doc/doc1`);
  await phone.getByRole('textbox', { name: 'document JSON' }).waitFor();
  await shot(phone, 'document-phone');
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page fits a phone's width (overflow ${overflow}px)`);
  await phone.close();
  assert.deepEqual(foreignRequests, [], 'nothing is fetched from another origin');
});

test('views with reduce and group, Mango with _explain', { skip, timeout: TEST_MS }, async () => {
  const ddoc = { views: { by_rest: { map: 'function (doc) { if (typeof doc.i === "number") emit(doc.i % 3, doc.i); }', reduce: '_count' } } };
  assert.equal((await api(node.url, 'PUT', `/${DB}/_design/stats`, ddoc)).status, 201);
  await open(page, node.url, `#/db/${DB}/views`);
  await page.getByRole('combobox', { name: 'view' }).selectOption('_design/stats/by_rest');
  await page.getByRole('checkbox', { name: 'group' }).check();
  await page.getByRole('button', { name: 'Query' }).click();
  const rows = page.getByRole('table', { name: 'view rows' }).locator('tbody tr');
  await rows.nth(2).waitFor();
  assert.deepEqual(await rows.allTextContents(), ['07', '17', '26'], 'r0..r19 grouped by i % 3, counted');
  await shot(page, 'views');

  await open(page, node.url, `#/db/${DB}/mango`);
  await setEditor(page, 'query', JSON.stringify({ selector: { i: { $gte: 15 } }, fields: ['_id', 'i'] }));
  await page.getByRole('button', { name: 'Run with explain' }).click();
  await page.getByRole('heading', { name: 'Documents (5)' }).waitFor();
  await page.getByRole('heading', { name: 'Explain' }).waitFor();
  const explained = JSON.parse((await page.getByRole('region', { name: 'explain result' }).locator('pre').textContent()) ?? '{}');
  assert.equal(explained.dbname, DB);
  assert.deepEqual(explained.selector, { i: { $gte: 15 } });
  assert.ok(explained.index, 'the index _find would use');
  await shot(page, 'mango');
});

test('a member who is not an admin sees only what they may use', { skip, timeout: TEST_MS }, async () => {
  assert.equal((await api(node.url, 'PUT', '/_users/org.couchdb.user:mia', { name: 'mia', password: 'pw-m', type: 'user', roles: [] })).status, 201);
  assert.equal((await api(node.url, 'PUT', `/${DB}/_security`, { admins: { names: [], roles: [] }, members: { names: ['mia'], roles: [] } })).status, 200);
  const mine = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  mine.setDefaultTimeout(UI_WAIT_MS);
  const p = await mine.newPage();
  try {
    await p.goto(node.url + '/_utils/');
    await login(p, 'mia', 'pw-m');
    await p.getByText('Only server admins may list every database.').waitFor();
    for (const hidden of ['Replication', 'Node', 'Shards']) assert.equal(await p.getByRole('link', { name: hidden }).count(), 0, `${hidden} is not shown`);
    await p.getByLabel('database name').fill('console-copy');
    await p.getByRole('button', { name: 'Open' }).click();
    await p.getByText('You may not open console-copy.').waitFor();
    await p.getByLabel('database name').fill(DB);
    await p.getByRole('button', { name: 'Open' }).click();
    await p.getByRole('link', { name: 'doc1' }).waitFor();
  } finally {
    await mine.close();
  }
});

test('6: on a chaise cluster, the shard map', { skip, timeout: TEST_MS }, async () => {
  {
    const url = await clusterUrl;
    assert.equal((await api(url, 'PUT', '/sharded')).status, 201);
    const docs = Array.from({ length: 40 }, (_, i) => ({ _id: `d${i}`, i }));
    assert.equal((await api(url, 'POST', '/sharded/_bulk_docs', { docs })).status, 201);

    const p = await context.newPage();
    await p.goto(url + '/_utils/');
    await login(p, 'adm', 'pw');
    await p.getByRole('link', { name: 'Shards' }).click();
    await p.getByRole('table', { name: 'shard map' }).waitFor();
    await p.getByLabel('database').selectOption('sharded');
    await p.waitForURL(/#\/shards\/sharded$/);
    // 4 ranges × 2 copies, each with its doc count; the counts of one copy of each range add up.
    await p.waitForFunction(() => document.querySelectorAll('td.replica .small').length === 8 && [...document.querySelectorAll('td.replica .small')].every((e) => /docs/.test(e.textContent ?? '')));
    assert.equal(await p.locator('td.replica').count(), 8);
    assert.equal(await p.locator('td.no-replica').count(), 4);
    const leaders = await p.locator('td.replica').filter({ hasText: 'leader' }).allTextContents();
    assert.equal(leaders.length, 4);
    assert.equal(
      leaders.reduce((a, t) => a + Number(/(\d+) docs/.exec(t)?.[1] ?? 0), 0),
      40,
      'the leaders of the four ranges hold the 40 docs between them',
    );
    await shot(p, 'shards');
    await p.close();
  }
});
