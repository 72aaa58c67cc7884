// add-cors-to-couchdb (npm), run as a user runs it — its command-line tool pointed at a node with
// an admin's credentials — sets up CORS through `/_node/{node}//_config/...` (note the double
// slash it sends); a browser preflight then passes, and the settings survive a restart.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { startChildNode, type ChildNode } from './helpers/child-node.js';

const require = createRequire(import.meta.url);
const BIN = join(dirname(require.resolve('add-cors-to-couchdb/package.json')), 'bin.js');
/** How long the tool may take (it makes six requests). */
const TOOL_TIMEOUT_MS = 20_000;

let node: ChildNode | undefined;
after(() => node?.stop());

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`add-cors-to-couchdb did not finish:\n${out}`));
    }, TOOL_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const preflight = (url: string) =>
  fetch(url + '/_all_dbs', { method: 'OPTIONS', headers: { origin: 'http://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization, content-type' } });

test('add-cors-to-couchdb configures CORS; a browser preflight then passes', async () => {
  node = await startChildNode({ admin: 'boss:bosspw' });
  const before = await preflight(node.url);
  assert.equal(before.headers.get('access-control-allow-origin'), null, 'no CORS before');

  const { code, out } = await run([node.url, '-u', 'boss', '-p', 'bosspw']);
  assert.equal(code, 0, out);
  assert.match(out, /success/);

  const after1 = await preflight(node.url);
  assert.equal(after1.status, 204);
  // origins "*" with credentials: the origin is echoed (a browser refuses "*" with credentials).
  assert.equal(after1.headers.get('access-control-allow-origin'), 'http://app.example');
  assert.equal(after1.headers.get('access-control-allow-credentials'), 'true');
  assert.equal(after1.headers.get('access-control-allow-methods'), 'GET, PUT, POST, HEAD, DELETE');
  assert.equal(after1.headers.get('access-control-allow-headers'), 'authorization, content-type');
  const auth = { authorization: 'Basic ' + Buffer.from('boss:bosspw').toString('base64') };
  const simple = await fetch(node.url + '/', { headers: { origin: 'http://app.example', ...auth } });
  assert.equal(simple.headers.get('access-control-allow-origin'), 'http://app.example');

  // The tool persisted its settings, so they hold after a restart.
  await node.restart();
  assert.equal((await preflight(node.url)).headers.get('access-control-allow-origin'), 'http://app.example');
  const cors = (await (await fetch(node.url + '/_node/_local/_config/cors', { headers: auth })).json()) as Record<string, string>;
  assert.deepEqual(cors, { credentials: 'true', headers: 'accept, authorization, content-type, origin, referer, x-csrf-token', methods: 'GET, PUT, POST, HEAD, DELETE', origins: '*' });
});

test('add-cors-to-couchdb with wrong credentials fails and changes nothing', async () => {
  node ??= await startChildNode({ admin: 'boss:bosspw' });
  const { code } = await run([node.url, '-u', 'boss', '-p', 'wrong']);
  assert.notEqual(code, 0);
});
