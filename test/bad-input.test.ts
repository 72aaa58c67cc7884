// A corpus of hostile or broken requests. Each must get a CouchDB-shaped {error, reason} with the
// right status, store nothing, and leave the node serving (checked after every case).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { startNode, type RunningNode } from '../server/node.js';

let node: RunningNode;
let host: string;
let port: number;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, method, path, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function dbState(): Promise<{ update_seq: string; doc_count: number }> {
  const r = await send('GET', '/victim');
  const info = JSON.parse(r.body) as { update_seq: string; doc_count: number };
  return { update_seq: info.update_seq, doc_count: info.doc_count };
}

before(async () => {
  node = await startNode({ port: 0, inMemory: true, limits: { maxRequestBytes: 1_000_000, maxDocumentBytes: 100_000, requestTimeoutMs: 800 } });
  host = '127.0.0.1';
  port = node.port;
  await send('PUT', '/victim');
  await send('PUT', '/victim/existing', '{"a":1}');
});

after(() => node.close());

interface Case {
  name: string;
  method: string;
  path: string;
  body?: Buffer | string;
  headers?: Record<string, string>;
  status: number;
  error: string;
  reason?: string | RegExp;
}

const CASES: Case[] = [
  { name: 'malformed JSON', method: 'PUT', path: '/victim/d', body: '{"a":', status: 400, error: 'bad_request', reason: 'invalid UTF-8 JSON' },
  { name: 'invalid UTF-8', method: 'PUT', path: '/victim/d', body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), status: 400, error: 'bad_request', reason: 'invalid UTF-8 JSON' },
  { name: 'number beyond a double', method: 'PUT', path: '/victim/d', body: '{"n":1e400}', status: 400, error: 'bad_request' },
  { name: 'a 400-digit integer', method: 'PUT', path: '/victim/d', body: `{"n":${'9'.repeat(400)}}`, status: 400, error: 'bad_request' },
  { name: 'JSON nested 100,000 deep', method: 'PUT', path: '/victim/d', body: '{"a":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}', status: 400, error: 'bad_request' },
  { name: 'nesting inside _bulk_docs', method: 'POST', path: '/victim/_bulk_docs', body: '{"docs":[' + '['.repeat(5000) + ']'.repeat(5000) + ']}', status: 400, error: 'bad_request' },
  { name: 'body over the request limit', method: 'PUT', path: '/victim/d', body: JSON.stringify({ pad: 'x'.repeat(1_100_000) }), status: 413, error: 'too_large' },
  { name: 'document over the document limit', method: 'PUT', path: '/victim/d', body: JSON.stringify({ pad: 'x'.repeat(200_000) }), status: 413, error: 'document_too_large', reason: 'd' },
  { name: 'document over the limit in _bulk_docs', method: 'POST', path: '/victim/_bulk_docs', body: JSON.stringify({ docs: [{ _id: 'ok1' }, { _id: 'big', pad: 'x'.repeat(200_000) }] }), status: 413, error: 'document_too_large' },
  { name: 'a document that is not an object', method: 'PUT', path: '/victim/d', body: '"just a string"', status: 400, error: 'bad_request', reason: 'Document must be a JSON object' },
  { name: 'wrong content type on _bulk_docs', method: 'POST', path: '/victim/_bulk_docs', body: '{"docs":[]}', headers: { 'content-type': 'text/plain' }, status: 415, error: 'bad_content_type' },
  { name: 'illegal doc id', method: 'PUT', path: '/victim/_nope', body: '{}', status: 400, error: 'illegal_docid' },
  { name: 'CR LF in an attachment name', method: 'PUT', path: '/victim/d/a%0D%0ASet-Cookie:%20x=1', body: 'bytes', headers: { 'content-type': 'text/plain' }, status: 400, error: 'bad_request' },
  { name: 'CR LF in an inline content_type', method: 'PUT', path: '/victim/d', body: JSON.stringify({ _attachments: { 'a.txt': { content_type: 'text/plain\r\nSet-Cookie: x=1', data: 'aGk=' } } }), status: 400, error: 'bad_request' },
  { name: 'invalid base64 attachment data', method: 'PUT', path: '/victim/d', body: JSON.stringify({ _attachments: { 'a.txt': { content_type: 'text/plain', data: '@@@not base64@@@' } } }), status: 400, error: 'bad_request' },
  { name: 'attachment name starting with _', method: 'PUT', path: '/victim/d', body: JSON.stringify({ _attachments: { _x: { content_type: 'text/plain', data: 'aGk=' } } }), status: 400, error: 'bad_request' },
  { name: '.. as a database name', method: 'GET', path: '/%2E%2E', status: 400, error: 'illegal_database_name' },
  { name: '../ inside a database name', method: 'PUT', path: '/..%2F..%2Fetc', status: 400, error: 'illegal_database_name' },
  { name: 'unknown special member', method: 'PUT', path: '/victim/d', body: '{"_evil":1}', status: 400, error: 'doc_validation' },
  { name: 'malformed _revisions', method: 'PUT', path: '/victim/d?new_edits=false', body: '{"_rev":"1-a","_revisions":{"start":1,"ids":[]}}', status: 400, error: 'doc_validation' },
  { name: 'malformed rev', method: 'PUT', path: '/victim/existing?rev=banana', body: '{}', status: 400, error: 'bad_request', reason: 'Invalid rev format' },
  { name: 'bad open_revs', method: 'GET', path: '/victim/existing?open_revs=%5Bbroken', status: 400, error: 'bad_request' },
  { name: 'bad since', method: 'GET', path: '/victim/_changes?since=yesterday', status: 400, error: 'bad_request' },
  { name: 'bad limit', method: 'GET', path: '/victim/_all_docs?limit=-3', status: 400, error: 'query_parse_error' },
  { name: 'bad boolean', method: 'GET', path: '/victim/_all_docs?descending=maybe', status: 400, error: 'query_parse_error' },
];

for (const c of CASES) {
  test(`bad input: ${c.name}`, async () => {
    const before = await dbState();
    const r = await send(c.method, c.path, c.body, c.headers);
    assert.equal(r.status, c.status, r.body);
    const body = JSON.parse(r.body) as { error: string; reason: string };
    assert.equal(body.error, c.error);
    assert.equal(typeof body.reason, 'string');
    if (typeof c.reason === 'string') assert.equal(body.reason, c.reason);
    assert.equal(r.headers['set-cookie'], undefined, 'no injected header');
    assert.deepEqual(await dbState(), before, 'nothing was stored');
    assert.equal((await send('GET', '/')).status, 200, 'the node keeps serving');
  });
}

test('ids and attachment names with dots and slashes are data, never paths', async () => {
  let r = await send('PUT', '/victim/..%2F..%2Fetc%2Fpasswd', '{"x":1}');
  assert.equal(r.status, 201);
  r = await send('GET', '/victim/..%2F..%2Fetc%2Fpasswd');
  assert.equal(JSON.parse(r.body)._id, '../../etc/passwd');
  const rev = JSON.parse(r.body)._rev as string;
  r = await send('PUT', `/victim/..%2F..%2Fetc%2Fpasswd/../../x.txt?rev=${rev}`, 'hello', { 'content-type': 'text/plain' });
  assert.equal(r.status, 201, r.body);
  r = await send('GET', '/victim/..%2F..%2Fetc%2Fpasswd/../../x.txt');
  assert.equal(r.body, 'hello');
});

test('a slow-loris body is cut off at the request timeout while others are served', async () => {
  const socket = connect(port, host);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write('PUT /victim/slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
  const drip = setInterval(() => socket.write(' '), 100);
  const closedAt = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  socket.on('error', () => undefined);
  const started = Date.now();
  // Meanwhile the node answers everyone else.
  for (let i = 0; i < 5; i++) assert.equal((await send('GET', '/')).status, 200);
  const end = await Promise.race([closedAt, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 5000))]);
  clearInterval(drip);
  socket.destroy();
  assert.ok(end > 0, 'the slow connection was closed by the node');
  assert.ok(end - started < 4000, `closed after ${end - started} ms`);
  assert.equal((await send('GET', '/victim/slow')).status, 404, 'nothing was stored');
});
