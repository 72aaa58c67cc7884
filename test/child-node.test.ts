// The `chaise serve` command as a process, through the child-node helper the crash tests rely on:
// it starts and answers, keeps its data across a graceful restart (SIGTERM exits 0, as the CLI
// promises), reuses its port, refuses a non-loopback host without an admin (DESIGN.md), and leaves
// no temp dir behind.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startChildNode, type ChildNode } from './helpers/child-node.js';

const started: ChildNode[] = [];
after(async () => {
  for (const n of started) await n.stop();
});

test('a child node starts, restarts on the same port with its data, and is cleaned up', async () => {
  const node = await startChildNode();
  started.push(node);
  const welcome = (await (await fetch(node.url + '/')).json()) as { couchdb: string; uuid: string };
  assert.equal(welcome.couchdb, 'Welcome');
  assert.equal((await fetch(node.url + '/kept', { method: 'PUT' })).status, 201);
  const put = await fetch(node.url + '/kept/doc', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"v":1}' });
  assert.equal(put.status, 201);

  const { port, url } = node;
  const exit = await node.kill('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, 'SIGTERM is a clean shutdown');
  assert.equal(node.running, false);
  await assert.rejects(fetch(url + '/'), 'nothing listens once it is stopped');

  await node.restart();
  assert.equal(node.port, port);
  const doc = (await (await fetch(node.url + '/kept/doc')).json()) as { v: number };
  assert.equal(doc.v, 1);
  const again = (await (await fetch(node.url + '/')).json()) as { uuid: string };
  assert.equal(again.uuid, welcome.uuid, 'the server uuid survives restarts (replication ids use it)');

  await node.stop();
  assert.equal(existsSync(node.dir), false, 'the temp dir is removed');
});

test('a non-loopback host without an admin is refused with a clear message', async () => {
  await assert.rejects(startChildNode({ args: ['--host', '0.0.0.0'] }), (e: Error) => {
    assert.match(e.message, /exited during start \(code 1/);
    assert.match(e.message, /admin/);
    return true;
  });
});

test('--name names the node in _membership and /_node/{name} (CouchDB\'s elixir suite expects node1@127.0.0.1)', async () => {
  const node = await startChildNode({ args: ['--name', 'node1@127.0.0.1'] });
  started.push(node);
  const membership = (await (await fetch(node.url + '/_membership')).json()) as { all_nodes: string[] };
  assert.deepEqual(membership.all_nodes, ['node1@127.0.0.1']);
  const cfg = await fetch(node.url + '/_node/node1@127.0.0.1/_config/a/b', { method: 'PUT', body: '11' });
  assert.equal(cfg.status, 400, 'only JSON strings are accepted (config_test)');
  assert.equal((await fetch(node.url + '/_node/node1@127.0.0.1/_config/_reload', { method: 'POST' })).status, 200);
  assert.equal((await fetch(node.url + '/_node/chaise@127.0.0.1/_config')).status, 412, 'another name is another node');
  await node.stop();
});
