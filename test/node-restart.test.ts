// `POST /_node/{node}/_restart` against a real `chaise serve` process: CouchDB answers 200
// {"ok":true} and restarts in its own OS process (chttpd_node.erl calls init:restart()), so the
// node must come back in the same process, on the same port, with its data, its persisted config
// and its `--config` file read again, and without the changes made with X-Couch-Persist: false.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChildNode, type ChildNode } from './helpers/child-node.js';

let node: ChildNode | undefined;
const configDir = mkdtempSync(join(tmpdir(), 'chaise-restart-cfg-'));
after(async () => {
  await node?.stop();
  rmSync(configDir, { recursive: true, force: true });
});

const AUTH = { authorization: 'Basic ' + Buffer.from('boss:bosspw').toString('base64') };

async function call(path: string, init: RequestInit = {}, anonymous = false): Promise<{ status: number; body: unknown }> {
  const headers = { ...(anonymous ? {} : AUTH), 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) };
  const res = await fetch(node!.url + path, { ...init, headers });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** Waits until the node printed its restart line `count` times and answers again. */
async function restarted(count: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (node!.output.split('chaise: restarted, listening on').length - 1 < count) {
    if (Date.now() > deadline) throw new Error(`the node did not restart:\n${node!.output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal((await call('/')).status, 200);
}

test('_restart: admins only, POST only; the node restarts in its process with its data and config read again', async () => {
  const configFile = join(configDir, 'chaise.json');
  writeFileSync(configFile, JSON.stringify({ auth: { timeout: 600 } }));
  node = await startChildNode({ admin: 'boss:bosspw', args: ['--config', configFile] });
  const pid = node.pid;
  const url = node.url;

  assert.deepEqual(await call('/_node/_local/_restart', { method: 'POST' }, true), { status: 401, body: { error: 'unauthorized', reason: 'You are not a server admin.' } });
  assert.deepEqual(await call('/_node/_local/_restart'), { status: 405, body: { error: 'method_not_allowed', reason: 'Only POST allowed' } });

  assert.equal((await call('/keep', { method: 'PUT' })).status, 201);
  assert.equal((await call('/keep/a', { method: 'PUT', body: JSON.stringify({ n: 1 }) })).status, 201);
  assert.equal((await call('/keep/_design/d', { method: 'PUT', body: JSON.stringify({ views: { v: { map: 'function (doc) { if (doc.n) emit(doc.n, null); }' } } }) })).status, 201);
  assert.equal((await call('/_node/_local/_config/restart_test/kept', { method: 'PUT', body: '"yes"' })).status, 200);
  assert.equal((await call('/_node/_local/_config/restart_test/transient', { method: 'PUT', body: '"no"', headers: { 'x-couch-persist': 'false' } })).status, 200);
  assert.deepEqual((await call('/_node/_local/_config/chttpd_auth/timeout')).body, '600');
  // The config file changes while the node runs; a restart reads it again.
  writeFileSync(configFile, JSON.stringify({ auth: { timeout: 1200 } }));

  assert.deepEqual(await call(`/_node/_local/_restart`, { method: 'POST' }), { status: 200, body: { ok: true } });
  await restarted(1);
  assert.equal(node.pid, pid, 'the same process serves again');
  assert.equal(node.url, url);
  assert.deepEqual((await call('/keep/a')).body, { _id: 'a', _rev: ((await call('/keep/a')).body as { _rev: string })._rev, n: 1 });
  const view = (await call('/keep/_design/d/_view/v')).body as { rows: { id: string; key: number }[] };
  assert.deepEqual(view.rows.map((r) => [r.id, r.key]), [['a', 1]]);
  assert.deepEqual((await call('/_node/_local/_config/restart_test')).body, { kept: 'yes' }, 'persisted config stays, transient goes');
  assert.deepEqual((await call('/_node/_local/_config/chttpd_auth/timeout')).body, '1200', 'the --config file was read again');
  assert.equal((await call('/keep/b', { method: 'PUT', body: JSON.stringify({ n: 2 }) })).status, 201, 'writes work after the restart');
  // The restarted node opened `keep` from its catalog again: couchdb.db_open_time has seen it.
  const openTime = (await call('/_node/_local/_stats/couchdb/db_open_time')).body as { value: { n: number }; type: string; desc: string };
  assert.deepEqual([openTime.type, openTime.desc], ['histogram', 'milliseconds required to open a database']);
  assert.ok(openTime.value.n >= 1);

  // By the node's own name too, and more than once.
  const name = ((await call('/_node/_local')).body as { name: string }).name;
  assert.deepEqual(await call(`/_node/${encodeURIComponent(name)}/_restart`, { method: 'POST' }), { status: 200, body: { ok: true } });
  await restarted(2);
  assert.equal(node.pid, pid);
  assert.equal(((await call('/keep')).body as { doc_count: number }).doc_count, 3);
});
