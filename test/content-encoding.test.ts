// Request bodies sent compressed. couchbackup (through the Cloudant SDK) gzips every body it
// sends, so every endpoint that reads a body must decode `Content-Encoding: gzip` (and `deflate`),
// answer CouchDB's errors for an unknown coding or bytes that do not decode, and apply the size
// limit to the decoded bytes: a small gzip bomb gets 413 while memory stays bounded.
// Real sockets (a listening node), so a 413 sent before the body is read is seen as a client sees it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync, gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { openNode, type OpenedNode } from '../server/node.js';

/** The node's request limit here: small, so the bomb is quick. */
const MAX_REQUEST_BYTES = 1_000_000;
/** Decoded size of the bomb: 64× the limit, from a body of about 64 kB. */
const BOMB_BYTES = 64 * MAX_REQUEST_BYTES;

let node: OpenedNode;
let server: Server;
let base = '';

before(async () => {
  node = await openNode({ inMemory: true, limits: { maxRequestBytes: MAX_REQUEST_BYTES } });
  server = node.app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  assert.equal((await fetch(base + '/gz', { method: 'PUT' })).status, 201);
});
after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await node.shutdown();
});

async function send(method: string, path: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(base + path, { method, body: new Uint8Array(body), headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

test('a gzipped PUT, POST, _bulk_docs, _all_docs keys and _revs_diff are read as their JSON', async () => {
  const put = await send('PUT', '/gz/one', gzipSync(json({ n: 1 })), { 'content-encoding': 'gzip' });
  assert.equal(put.status, 201);
  const post = await send('POST', '/gz', gzipSync(json({ _id: 'two', n: 2 })), { 'content-encoding': 'gzip' });
  assert.equal(post.status, 201);
  const bulk = await send('POST', '/gz/_bulk_docs', gzipSync(json({ docs: [{ _id: 'three', n: 3 }, { _id: 'four', n: 4 }] })), { 'content-encoding': 'gzip' });
  assert.equal(bulk.status, 201);
  assert.deepEqual((bulk.body as unknown as { ok: boolean }[]).map((r) => r.ok), [true, true]);
  const all = await send('POST', '/gz/_all_docs', gzipSync(json({ keys: ['one', 'two', 'three', 'four'] })), { 'content-encoding': 'gzip' });
  assert.deepEqual((all.body.rows as { id: string }[]).map((r) => r.id), ['one', 'two', 'three', 'four']);
  const diff = await send('POST', '/gz/_revs_diff', gzipSync(json({ one: ['1-x'] })), { 'content-encoding': 'gzip' });
  assert.deepEqual(diff.body, { one: { missing: ['1-x'] } });
  const doc = (await (await fetch(base + '/gz/one')).json()) as { n: number };
  assert.equal(doc.n, 1);
});

test('deflate bodies, and an upper-case coding name, are decoded too', async () => {
  const put = await send('PUT', '/gz/deflated', deflateSync(json({ how: 'deflate' })), { 'content-encoding': 'deflate' });
  assert.equal(put.status, 201);
  const upper = await send('PUT', '/gz/upper', gzipSync(json({ how: 'GZIP' })), { 'content-encoding': 'GZIP' });
  assert.equal(upper.status, 201);
  assert.equal(((await (await fetch(base + '/gz/deflated')).json()) as { how: string }).how, 'deflate');
});

test('a gzipped attachment and a gzipped multipart/related upload store the decoded bytes', async () => {
  const text = 'Hello, compressed world\n'.repeat(50);
  const att = await fetch(base + '/gz/withatt/hello.txt', { method: 'PUT', body: new Uint8Array(gzipSync(Buffer.from(text))), headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip' } });
  assert.equal(att.status, 201);
  assert.equal(await (await fetch(base + '/gz/withatt/hello.txt')).text(), text);

  const boundary = 'b0undary';
  const multipart = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n`),
    json({ _attachments: { 'a.txt': { follows: true, content_type: 'text/plain', length: 5 } } }),
    Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: attachment; filename="a.txt"\r\n\r\nabcde\r\n--${boundary}--`),
  ]);
  const mp = await fetch(base + '/gz/mp', { method: 'PUT', body: new Uint8Array(gzipSync(multipart)), headers: { 'content-type': `multipart/related; boundary="${boundary}"`, 'content-encoding': 'gzip' } });
  assert.equal(mp.status, 201);
  assert.equal(await (await fetch(base + '/gz/mp/a.txt')).text(), 'abcde');
});

test('identity is no coding; an unknown coding is 415, bytes that do not decode are 400 (chttpd:maybe_decompress)', async () => {
  const identity = await send('PUT', '/gz/ident', json({ a: 1 }), { 'content-encoding': 'identity' });
  assert.equal(identity.status, 201);
  const br = await send('PUT', '/gz/br', json({ a: 1 }), { 'content-encoding': 'br' });
  assert.deepEqual(br, { status: 415, body: { error: 'bad_content_type', reason: 'br is not a supported content encoding.' } });
  const corrupt = await send('PUT', '/gz/corrupt', json({ not: 'gzip' }), { 'content-encoding': 'gzip' });
  assert.deepEqual(corrupt, { status: 400, body: { error: 'bad_request', reason: 'Request body is not properly gzipped.' } });
  const truncated = gzipSync(json({ long: 'x'.repeat(1000) }));
  const cut = await send('PUT', '/gz/cut', truncated.subarray(0, truncated.length - 10), { 'content-encoding': 'gzip' });
  assert.equal(cut.status, 400);
  assert.equal((await fetch(base + '/gz/corrupt')).status, 404, 'nothing was written');
});

test('a gzip bomb is refused with 413 once its decoded size passes the limit, without inflating it all', async () => {
  // A JSON document of 64 MB of spaces compresses to about 64 kB.
  const bomb = gzipSync(Buffer.concat([Buffer.from('{"pad":"'), Buffer.alloc(BOMB_BYTES, 0x20), Buffer.from('"}')]), { level: 9 });
  assert.ok(bomb.length < MAX_REQUEST_BYTES, 'the compressed body itself is within the limit');
  const heapBefore = process.memoryUsage().rss;
  for (const path of ['/gz/bomb', '/gz/_bulk_docs']) {
    const res = await send(path === '/gz/bomb' ? 'PUT' : 'POST', path, bomb, { 'content-encoding': 'gzip' });
    assert.deepEqual(res, { status: 413, body: { error: 'too_large', reason: 'the request entity is too large' } });
  }
  const grown = process.memoryUsage().rss - heapBefore;
  assert.ok(grown < BOMB_BYTES / 4, `memory grew by ${grown} bytes, far less than the decoded ${BOMB_BYTES}`);
  // The connection and the node are fine afterwards.
  assert.equal((await send('PUT', '/gz/after-bomb', gzipSync(json({ ok: 1 })), { 'content-encoding': 'gzip' })).status, 201);
});
