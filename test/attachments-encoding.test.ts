// Attachments stored as CouchDB 3.5 stores them: compressible types gzipped (level 8, stock zlib's
// bytes), the digest the md5 of the stored bytes, so the same bytes get CouchDB's digest however
// they arrive (inline base64, standalone PUT, multipart/related, replication). Expected digests
// are the ones CouchDB recorded (test/fixtures/api-couchdb-2.json steps 52-58). Also: GET by
// Accept-Encoding, ranges of compressed attachments, att_encoding_info, exact multipart parsing,
// and the attachment errors of chttpd_db (missing_stub, conflicts, _local docs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Test } from 'supertest';
import pako from 'pako';
import { nodeForFile, type TestNode } from './helpers/in-process-node.js';

let t: TestNode;
nodeForFile((node) => (t = node));

/** The bytes of fixture step 52, and the digest and gzip length CouchDB gave them (steps 53, 54). */
const TEXT = 'This is a base64 encoded text';
const TEXT_DIGEST = 'md5-qUUYqS41RhwF0TrCsTAxFg==';
const TEXT_GZIP_LENGTH = 47;
/** Step 57/58: "Hello World" PUT as text/plain. */
const HELLO_DIGEST = 'md5-cFQGnciJwhDvsyA6HUMn9w==';
/** Step 55/56: the same 29 bytes as application/octet-stream: stored as they are. */
const BINARY_DIGEST = 'md5-aEI7pOYCRBLTRQvvqYrrJQ==';

function raw(r: Test): Test {
  return r.buffer(true).parse((res, done) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => done(null, Buffer.concat(chunks)));
  });
}

/** A GET over a real socket, so nothing decodes `Content-Encoding: gzip` (superagent would). */
async function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const server = createServer(t.node.app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise((resolve, reject) => {
      get({ host: '127.0.0.1', port, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, body: Buffer.concat(chunks) }));
      }).on('error', reject);
    });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

function multipart(boundary: string, doc: unknown, parts: { headers: string; body: Buffer }[]): Buffer {
  const chunks: Buffer[] = [Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(doc)}`)];
  for (const p of parts) chunks.push(Buffer.from(`\r\n--${boundary}\r\n${p.headers}\r\n`), p.body);
  chunks.push(Buffer.from(`\r\n--${boundary}--`));
  return Buffer.concat(chunks);
}

test('the same bytes get CouchDB digest however they arrive', async () => {
  const req = t.request;
  assert.equal((await req.put('/enc')).status, 201);
  // Inline base64.
  assert.equal((await req.put('/enc/inline').send({ _attachments: { 'a.txt': { content_type: 'text/plain', data: b64(TEXT) } } })).status, 201);
  // Standalone PUT.
  assert.equal((await req.put('/enc/standalone/a.txt').set('content-type', 'text/plain').send(TEXT)).status, 201);
  // multipart/related, identity part.
  const mp = multipart('xyz', { _attachments: { 'a.txt': { content_type: 'text/plain', follows: true, length: TEXT.length } } }, [
    { headers: 'Content-Type: text/plain\r\n', body: Buffer.from(TEXT) },
  ]);
  assert.equal((await req.put('/enc/multi').set('content-type', 'multipart/related; boundary="xyz"').send(mp)).status, 201);
  // multipart/related with the part already gzipped, as CouchDB's replicator pushes it.
  const gz = Buffer.from(pako.gzip(TEXT, { level: 8 }));
  const mpgz = multipart(
    'q1',
    {
      _id: 'pushed',
      _rev: '1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      _revisions: { start: 1, ids: ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'] },
      _attachments: { 'a.txt': { content_type: 'text/plain', follows: true, revpos: 1, digest: TEXT_DIGEST, length: TEXT.length, encoding: 'gzip', encoded_length: gz.length } },
    },
    [{ headers: '', body: gz }],
  );
  assert.equal((await req.put('/enc/pushed?new_edits=false').set('content-type', 'multipart/related; boundary=q1').send(mpgz)).status, 201);
  // _bulk_docs with new_edits=false, as PouchDB and Chaise's replicator push.
  const bulk = await req.post('/enc/_bulk_docs').send({
    new_edits: false,
    docs: [{ _id: 'replicated', _rev: '1-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', _attachments: { 'a.txt': { content_type: 'text/plain', revpos: 1, data: b64(TEXT) } } }],
  });
  assert.equal(bulk.status, 201);
  for (const id of ['inline', 'standalone', 'multi', 'pushed', 'replicated']) {
    const doc = await req.get(`/enc/${id}?att_encoding_info=true`);
    assert.deepEqual(
      doc.body._attachments['a.txt'],
      { content_type: 'text/plain', revpos: 1, digest: TEXT_DIGEST, length: TEXT.length, stub: true, encoding: 'gzip', encoded_length: TEXT_GZIP_LENGTH },
      id,
    );
    assert.equal((await req.get(`/enc/${id}/a.txt`).set('accept-encoding', 'identity')).text, TEXT, id);
  }
  // Without att_encoding_info the stub is CouchDB's plain one.
  assert.deepEqual((await req.get('/enc/inline')).body._attachments['a.txt'], { content_type: 'text/plain', revpos: 1, digest: TEXT_DIGEST, length: 29, stub: true });
  assert.equal((await req.put('/enc/hello/h.txt').set('content-type', 'text/plain').send('Hello World')).status, 201);
  assert.equal((await req.get('/enc/hello')).body._attachments['h.txt'].digest, HELLO_DIGEST);
  assert.equal((await req.put('/enc/bin').send({ _attachments: { 'x.bin': { content_type: 'application/octet-stream', data: b64(TEXT) } } })).status, 201);
  const bin = await req.get('/enc/bin?att_encoding_info=true');
  assert.deepEqual(bin.body._attachments['x.bin'], { content_type: 'application/octet-stream', revpos: 1, digest: BINARY_DIGEST, length: 29, stub: true });
});

test('GET serves gzip or identity as Accept-Encoding allows, and ranges of the identity bytes', async () => {
  const req = t.request;
  assert.equal((await req.put('/enc2')).status, 201);
  const body = 'line of text\n'.repeat(500);
  assert.equal((await req.put('/enc2/d/t.json').set('content-type', 'application/json').send(body)).status, 201);
  const gz = await rawGet('/enc2/d/t.json', { 'accept-encoding': 'gzip, deflate' });
  assert.equal(gz.status, 200);
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(gz.headers['content-type'], 'application/json');
  assert.ok(gz.body.length < body.length / 10);
  assert.equal(gunzipSync(gz.body).toString(), body);
  for (const accept of [undefined, 'identity', 'gzip;q=0', 'br']) {
    const plain = await rawGet('/enc2/d/t.json', accept === undefined ? {} : { 'accept-encoding': accept });
    assert.equal(plain.headers['content-encoding'], undefined, String(accept));
    assert.equal(plain.body.toString(), body, String(accept));
  }
  assert.equal((await rawGet('/enc2/d/t.json', { 'accept-encoding': '*' })).headers['content-encoding'], 'gzip');
  const part = await rawGet('/enc2/d/t.json', { 'accept-encoding': 'gzip', range: 'bytes=13-24' });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 13-24/${body.length}`);
  assert.equal(part.headers['content-encoding'], undefined);
  assert.equal(part.body.toString(), 'line of text');
  // attachments=true inlines the identity bytes; with att_encoding_info the encoding follows.
  const inline = await req.get('/enc2/d?attachments=true&att_encoding_info=true');
  const att = inline.body._attachments['t.json'];
  assert.equal(Buffer.from(att.data, 'base64').toString(), body);
  assert.equal(att.encoding, 'gzip');
  assert.equal(att.encoded_length, gz.body.length);
  assert.equal(att.length, undefined);
  const changes = await req.get('/enc2/_changes?include_docs=true&attachments=true');
  assert.equal(Buffer.from(changes.body.results[0].doc._attachments['t.json'].data, 'base64').toString(), body);
});

test('multipart/related parts keep every byte: CRLFs, blank lines, dashes, parts without headers', async () => {
  const req = t.request;
  assert.equal((await req.put('/mpx')).status, 201);
  const tricky = Buffer.from('\r\n\r\nstarts with blank lines\r\n--not-the-boundary\r\n\r\nends with CRLF\r\n');
  const bin = Buffer.from([13, 10, 0, 255, 13, 10, 13, 10, 45, 45]);
  const body = multipart('B0UND', { _attachments: { 't.txt': { content_type: 'text/plain', follows: true }, 'b.bin': { follows: true, content_type: 'application/octet-stream' } } }, [
    { headers: '', body: tricky },
    { headers: 'Content-Disposition: attachment; filename="b.bin"\r\n', body: bin },
  ]);
  const put = await req.put('/mpx/doc').set('content-type', 'multipart/related; boundary=B0UND').send(body);
  assert.equal(put.status, 201, JSON.stringify(put.body));
  assert.deepEqual((await raw(req.get('/mpx/doc/t.txt'))).body, tricky);
  assert.deepEqual((await raw(req.get('/mpx/doc/b.bin'))).body, bin);
  const doc = await req.get('/mpx/doc');
  assert.equal(doc.body._attachments['t.txt'].length, tricky.length);
  assert.equal(doc.body._attachments['b.bin'].length, bin.length);
});

test('attachment errors as chttpd_db answers them', async () => {
  const req = t.request;
  assert.equal((await req.put('/aerr')).status, 201);
  // A stub naming an attachment the doc lacks.
  const stub = await req.put('/aerr/s').send({ _attachments: { 'nope.txt': { stub: true } } });
  assert.equal(stub.status, 412);
  assert.deepEqual(stub.body, { error: 'missing_stub', reason: 'Invalid attachment stub in s for nope.txt' });
  const first = await req.put('/aerr/d/a.txt').set('content-type', 'text/plain').send('one');
  assert.equal(first.status, 201);
  // No rev on an existing doc: a conflict, the doc unchanged.
  const norev = await req.put('/aerr/d/b.txt').set('content-type', 'text/plain').send('two');
  assert.equal(norev.status, 409);
  assert.deepEqual(norev.body, { error: 'conflict', reason: 'Document update conflict.' });
  assert.equal((await req.get('/aerr/d')).body._rev, first.body.rev);
  // A rev the doc does not have.
  for (const method of ['delete', 'put'] as const) {
    const bad = await req[method]('/aerr/d/a.txt?rev=1-bad').set('content-type', 'text/plain').send('x');
    assert.equal(bad.status, 409, method);
    assert.deepEqual(bad.body, { error: 'not_found', reason: 'missing_rev' }, method);
  }
  // A rev that is no longer the leaf.
  const second = await req.put(`/aerr/d/b.txt?rev=${first.body.rev}`).set('content-type', 'text/plain').send('two');
  assert.equal(second.status, 201);
  assert.equal((await req.delete(`/aerr/d/a.txt?rev=${first.body.rev}`)).status, 409);
  // A deleted doc takes a new attachment without a rev.
  assert.equal((await req.delete(`/aerr/d?rev=${second.body.rev}`)).status, 200);
  assert.equal((await req.put('/aerr/d/c.txt').set('content-type', 'text/plain').send('three')).status, 201);
  // `_local` docs have no attachments.
  for (const method of ['get', 'put', 'delete'] as const) {
    const local = await req[method]('/aerr/_local/x/a.txt');
    assert.equal(local.status, 400, method);
    assert.deepEqual(local.body, { error: 'bad_request', reason: '_local documents do not accept attachments.' });
  }
});

test('re-creating _users brings back its _design/_auth', async () => {
  const req = t.request;
  const before = await req.get('/_users/_design/_auth');
  assert.equal(before.status, 200);
  assert.match(before.body.validate_doc_update, /Only admins may delete other user docs/);
  assert.equal((await req.delete('/_users')).status, 200);
  assert.equal((await req.put('/_users')).status, 201);
  const after = await req.get('/_users/_design/_auth');
  assert.equal(after.status, 200);
  assert.equal(after.body.validate_doc_update, before.body.validate_doc_update);
  // CouchDB's validate function runs: a user doc without roles is refused with its message.
  const bad = await req.put('/_users/org.couchdb.user:amy').send({ _id: 'org.couchdb.user:amy', type: 'user', name: 'amy', password: 'pw' });
  assert.equal(bad.status, 403);
  assert.deepEqual(bad.body, { error: 'forbidden', reason: 'doc.roles must exist' });
  const ok = await req.put('/_users/org.couchdb.user:amy').send({ type: 'user', name: 'amy', roles: [], password: 'pw' });
  assert.equal(ok.status, 201);
});

test('a standalone PUT with Content-Encoding: gzip is stored as it came', async () => {
  const req = t.request;
  assert.equal((await req.put('/encput')).status, 201);
  const gz = gzipSync(Buffer.from(TEXT)); // node's own gzip: other bytes than CouchDB's, kept as they are
  const put = await req.put('/encput/d/a.txt').set('content-type', 'text/plain').set('content-encoding', 'gzip').send(gz);
  assert.equal(put.status, 201, JSON.stringify(put.body));
  const stub = (await req.get('/encput/d?att_encoding_info=true')).body._attachments['a.txt'];
  assert.equal(stub.digest, 'md5-' + createHash('md5').update(gz).digest('base64'));
  assert.equal(stub.encoding, 'gzip');
  assert.equal(stub.encoded_length, gz.length);
  assert.equal(stub.length, TEXT.length);
  assert.equal((await rawGet('/encput/d/a.txt', {})).body.toString(), TEXT);
  assert.deepEqual((await rawGet('/encput/d/a.txt', { 'accept-encoding': 'gzip' })).body, gz);
  // Not gzip at all, and a gzip bomb: refused, nothing stored.
  const rev = put.body.rev as string;
  const notGzip = await req.put(`/encput/d/b.txt?rev=${rev}`).set('content-type', 'text/plain').set('content-encoding', 'gzip').send('plain');
  assert.equal(notGzip.status, 400);
  const bomb = gzipSync(Buffer.alloc(70 * 1024 * 1024));
  const big = await req.put(`/encput/d/c.txt?rev=${rev}`).set('content-type', 'text/plain').set('content-encoding', 'gzip').send(bomb);
  assert.equal(big.status, 413);
  assert.equal((await req.get('/encput/d')).body._rev, rev);
});
