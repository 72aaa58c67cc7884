// GET /db/doc answered as multipart/related, as chttpd_db:send_doc_efficiently answers a client
// that accepts it: the JSON with `"follows": true` stubs, then one part per attachment with its
// stored bytes (gzip ones as stored, with Content-Encoding); and `open_revs` as multipart/mixed
// with a nested multipart/related part per revision with attachments (send_docs_multipart).
// Ported from CouchDB's test/elixir/test/attachments_multipart_test.exs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import type { Test } from 'supertest';
import { boundaryOf, parseMultipart, type Part } from '../server/http/multipart.js';
import { nodeForFile, type TestNode } from './helpers/in-process-node.js';

let t: TestNode;
nodeForFile((node) => (t = node));

function raw(r: Test): Test {
  return r.buffer(true).parse((res, done) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => done(null, Buffer.concat(chunks)));
  });
}

function partsOf(contentType: string, body: Buffer): Part[] {
  const boundary = boundaryOf(contentType);
  assert.ok(boundary, `no boundary in ${contentType}`);
  return parseMultipart(body, boundary);
}

const json = (p: Part | undefined) => JSON.parse(p?.body.toString() ?? '') as { _rev: string; _attachments: Record<string, Record<string, unknown>> };

const FIRST = `{
  "body": "This is a body.",
  "_attachments": {
    "foo.txt": { "follows": true, "content_type": "application/test", "length": 21 },
    "bar.txt": { "follows": true, "content_type": "application/test", "length": 20 },
    "baz.txt": { "follows": true, "content_type": "text/plain", "length": 19 }
  }
}`;

test('attachments=true with Accept: multipart/related, atts_since, and the JSON without it', async () => {
  const req = t.request;
  await req.put('/mpget').expect(201);
  const body1 =
    '--abc123\r\ncontent-type: application/json\r\n\r\n' + FIRST +
    '\r\n--abc123\r\n\r\nthis is 21 chars long\r\n--abc123\r\n\r\nthis is 20 chars lon\r\n--abc123\r\n\r\nthis is 19 chars lo\r\n--abc123--epilogue';
  const r1 = await req.put('/mpget/multipart').set('content-type', 'multipart/related;boundary="abc123"').send(body1).expect(201);
  const firstRev = r1.body.rev as string;
  const second = JSON.stringify({
    _rev: firstRev,
    body: 'This is a body.',
    _attachments: { 'foo.txt': { stub: true, content_type: 'application/test' }, 'bar.txt': { follows: true, content_type: 'application/test', length: 18 } },
  });
  await req
    .put('/mpget/multipart')
    .set('content-type', 'multipart/related;boundary="abc123"')
    .send('--abc123\r\ncontent-type: application/json\r\n\r\n' + second + '\r\n--abc123\r\n\r\nthis is 18 chars l\r\n--abc123--')
    .expect(201);

  const all = await raw(req.get('/mpget/multipart?attachments=true').set('accept', 'multipart/related,*/*;')).expect(200);
  const ctype = String(all.headers['content-type']);
  assert.match(ctype, /^multipart\/related; boundary="[0-9a-f]{32}"$/);
  // The length CouchDB answers for this document (32-digit boundary, same JSON layout).
  assert.equal(all.headers['content-length'], '790');
  assert.equal((all.body as Buffer).length, 790);
  const sections = partsOf(ctype, all.body as Buffer);
  assert.equal(sections.length, 3);
  assert.equal(sections[0]?.headers['content-type'], 'application/json');
  assert.equal(sections[1]?.headers['content-type'], 'application/test');
  assert.equal(sections[2]?.headers['content-type'], 'application/test');
  assert.equal(sections[1]?.headers['content-length'], '21');
  assert.equal(sections[2]?.headers['content-length'], '18');
  assert.equal(sections[1]?.headers['content-disposition'], 'attachment; filename="foo.txt"');
  assert.equal(sections[2]?.headers['content-disposition'], 'attachment; filename="bar.txt"');
  assert.equal(sections[1]?.headers['content-encoding'], undefined);
  const doc = json(sections[0]);
  assert.deepEqual(Object.keys(doc._attachments['foo.txt'] ?? {}), ['content_type', 'revpos', 'digest', 'length', 'follows']);
  assert.equal(doc._attachments['bar.txt']?.follows, true);
  assert.equal(sections[1]?.body.toString(), 'this is 21 chars long');
  assert.equal(sections[2]?.body.toString(), 'this is 18 chars l');

  // Only the attachments changed since a revision; an unknown revision in the list is ignored.
  for (const since of [[firstRev], ['1-2897589', firstRev]]) {
    const inc = await raw(req.get('/mpget/multipart?atts_since=' + encodeURIComponent(JSON.stringify(since))).set('accept', 'multipart/related,*/*;')).expect(200);
    const s = partsOf(String(inc.headers['content-type']), inc.body as Buffer);
    assert.equal(s.length, 2);
    const d = json(s[0]);
    assert.equal(d._attachments['foo.txt']?.stub, true);
    assert.equal(d._attachments['bar.txt']?.follows, true);
    assert.equal(s[1]?.body.toString(), 'this is 18 chars l');
  }

  // Nothing to send (every attachment older than atts_since): the JSON, as CouchDB sends it.
  const none = await req.get('/mpget/multipart?atts_since=' + encodeURIComponent(JSON.stringify([doc._rev]))).set('accept', 'multipart/related').expect(200);
  assert.match(String(none.headers['content-type']), /^application\/json/);
  assert.equal(none.body._attachments['bar.txt'].stub, true);

  // A client that does not ask for multipart keeps the JSON with inline base64.
  const plain = await req.get('/mpget/multipart?attachments=true').set('accept', 'application/json').expect(200);
  assert.equal(Buffer.from(plain.body._attachments['foo.txt'].data, 'base64').toString(), 'this is 21 chars long');
  // Without attachments=true the multipart Accept changes nothing.
  const stubs = await req.get('/mpget/multipart').set('accept', 'multipart/related').expect(200);
  assert.equal(stubs.body._attachments['foo.txt'].stub, true);
  // A document without attachments is JSON.
  await req.put('/mpget/bare').send({ a: 1 }).expect(201);
  const bare = await req.get('/mpget/bare?attachments=true').set('accept', 'multipart/related').expect(200);
  assert.deepEqual(bare.body.a, 1);

  // open_revs with multipart/mixed: one part per revision, a multipart/related one when it has
  // attachments (every attachment's data: CouchDB applies no atts_since here).
  const mixed = await raw(
    req.get(`/mpget/multipart?open_revs=${encodeURIComponent(JSON.stringify([doc._rev]))}&atts_since=${encodeURIComponent(JSON.stringify([firstRev]))}`).set('accept', 'multipart/mixed'),
  ).expect(200);
  const outer = partsOf(String(mixed.headers['content-type']), mixed.body as Buffer);
  assert.equal(outer.length, 1);
  const innerType = outer[0]?.headers['content-type'] ?? '';
  assert.match(innerType, /^multipart\/related;/);
  const inner = partsOf(innerType, outer[0]?.body as Buffer);
  assert.equal(inner.length, 3);
  assert.equal(inner[0]?.headers['content-type'], 'application/json');
  const innerDoc = json(inner[0]);
  assert.equal(innerDoc._attachments['foo.txt']?.follows, true);
  assert.equal(innerDoc._attachments['bar.txt']?.follows, true);
  assert.equal(inner[1]?.body.toString(), 'this is 21 chars long');
  assert.equal(inner[2]?.body.toString(), 'this is 18 chars l');
});

test('compressed attachments are sent as stored, gzip with Content-Encoding', async () => {
  const req = t.request;
  await req.put('/mpgz').expect(201);
  const lorem = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(40);
  const r1 = await req.put('/mpgz/foobar').send({}).expect(201);
  const r2 = await req.put(`/mpgz/foobar/data.bin?rev=${r1.body.rev}`).set('content-type', 'application/binary').send(Buffer.from('hello world')).expect(201);
  const r3 = await req.put(`/mpgz/foobar/lorem.txt?rev=${r2.body.rev}`).set('content-type', 'text/plain').send(lorem).expect(201);

  const check = (parts: Part[]) => {
    assert.equal(parts.length, 3);
    const d = json(parts[0]);
    assert.equal(d._attachments['lorem.txt']?.follows, true);
    assert.equal(d._attachments['lorem.txt']?.encoding, 'gzip');
    assert.equal(d._attachments['lorem.txt']?.length, lorem.length);
    assert.equal(d._attachments['data.bin']?.follows, true);
    assert.equal(d._attachments['data.bin']?.encoding, undefined);
    const byName = (n: string) => parts.find((p) => p.headers['content-disposition'] === `attachment; filename="${n}"`);
    assert.equal(byName('data.bin')?.body.toString(), 'hello world');
    assert.equal(byName('data.bin')?.headers['content-encoding'], undefined);
    const gz = byName('lorem.txt');
    assert.equal(gz?.headers['content-encoding'], 'gzip');
    assert.equal(gz?.headers['content-length'], String(d._attachments['lorem.txt']?.encoded_length));
    assert.notEqual(gz?.body.toString(), lorem);
    assert.equal(gunzipSync(gz?.body as Buffer).toString(), lorem);
  };

  for (const since of ['', `&atts_since=${encodeURIComponent(JSON.stringify([r2.body.rev]))}`]) {
    const mixed = await raw(req.get(`/mpgz/foobar?open_revs=${encodeURIComponent(JSON.stringify([r3.body.rev]))}${since}`).set('accept', 'multipart/mixed')).expect(200);
    const outer = partsOf(String(mixed.headers['content-type']), mixed.body as Buffer);
    assert.equal(outer.length, 1);
    check(partsOf(outer[0]?.headers['content-type'] ?? '', outer[0]?.body as Buffer));
  }
  const one = await raw(req.get('/mpgz/foobar?attachments=true').set('accept', 'multipart/related')).expect(200);
  check(partsOf(String(one.headers['content-type']), one.body as Buffer));
  assert.equal(one.headers.etag, `"${r3.body.rev}"`);
});

// chttpd_db's _bulk_get for a client that accepts multipart/mixed and not application/json:
// boundaries are "--" + a uuid; a revision with attachments is a multipart/related part headed
// X-Doc-Id/X-Rev-Id with every attachment's data (CouchDB renders with attachments and follows
// whatever the query says; only atts_since leaves stubs), one without is application/json, and
// errors are application/json; error="true" parts (a missing revision's without its id).
test('_bulk_get with Accept: multipart/mixed', async () => {
  const req = t.request;
  await req.put('/mpbulk').expect(201);
  const lorem = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(40);
  const a1 = await req.put('/mpbulk/a').send({ n: 1 }).expect(201);
  const a2 = await req.put(`/mpbulk/a/lorem.txt?rev=${a1.body.rev}`).set('content-type', 'text/plain').send(lorem).expect(201);
  const a3 = await req.put(`/mpbulk/a/data.bin?rev=${a2.body.rev}`).set('content-type', 'application/octet-stream').send(Buffer.from([0, 13, 10, 45, 45, 255])).expect(201);
  const b = await req.put('/mpbulk/b').send({ plain: true }).expect(201);
  // Two leaves for c.
  await req.post('/mpbulk/_bulk_docs').send({ new_edits: false, docs: [{ _id: 'c', _rev: '1-aaa', v: 'a' }, { _id: 'c', _rev: '1-bbb', v: 'b' }] }).expect(201);

  const body = {
    docs: [
      { id: 'a' },
      { id: 'b', rev: b.body.rev },
      { id: 'c' },
      { id: 'a', rev: a3.body.rev, atts_since: [a2.body.rev] },
      { id: 'nope', rev: '1-abc' },
      { id: 'nope2' },
      { rev: '1-abc' },
    ],
  };
  const res = await raw(req.post('/mpbulk/_bulk_get').set('accept', 'multipart/mixed').send(body)).expect(200);
  const ctype = String(res.headers['content-type']);
  assert.match(ctype, /^multipart\/mixed; boundary="--[0-9a-f]{32}"$/);
  const outer = partsOf(ctype, res.body as Buffer);
  assert.equal((res.body as Buffer).subarray(-2).toString(), '\r\n', 'the close delimiter ends with CRLF');
  assert.equal(outer.length, 8, 'a, b, c twice, a again, and three errors');

  // a: a multipart/related part with both attachments' data, the text one gzipped as stored.
  assert.equal(outer[0]?.headers['x-doc-id'], 'a');
  assert.equal(outer[0]?.headers['x-rev-id'], a3.body.rev);
  const innerType = outer[0]?.headers['content-type'] ?? '';
  assert.match(innerType, /^multipart\/related; boundary=--[0-9a-f]{32}$/);
  const inner = partsOf(innerType, outer[0]?.body as Buffer);
  assert.equal(inner.length, 3);
  const doc = json(inner[0]);
  assert.equal(doc._rev, a3.body.rev);
  assert.deepEqual(doc._attachments['lorem.txt'], { ...doc._attachments['lorem.txt'], content_type: 'text/plain', length: lorem.length, follows: true, encoding: 'gzip' });
  assert.equal(doc._attachments['data.bin']?.follows, true);
  const byName = (n: string) => inner.find((p) => p.headers['content-disposition'] === `attachment; filename="${n}"`);
  assert.equal(byName('lorem.txt')?.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(byName('lorem.txt')?.body as Buffer).toString(), lorem);
  assert.deepEqual([...(byName('data.bin')?.body ?? [])], [0, 13, 10, 45, 45, 255]);

  // b: plain JSON.
  assert.equal(outer[1]?.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(outer[1]?.body.toString() ?? ''), { _id: 'b', _rev: b.body.rev, plain: true });
  // c: one part per leaf.
  assert.deepEqual([outer[2], outer[3]].map((p) => (JSON.parse(p?.body.toString() ?? '') as { v: string }).v).sort(), ['a', 'b']);
  // a with atts_since: only data.bin (added after a2) follows; lorem.txt is a stub.
  const since = partsOf(outer[4]?.headers['content-type'] ?? '', outer[4]?.body as Buffer);
  assert.equal(since.length, 2);
  assert.equal(json(since[0])._attachments['lorem.txt']?.stub, true);
  assert.equal(since[1]?.headers['content-disposition'], 'attachment; filename="data.bin"');

  const errors = outer.slice(5).map((p) => [p.headers['content-type'], JSON.parse(p.body.toString()) as unknown]);
  assert.deepEqual(errors, [
    ['application/json; error="true"', { rev: '1-abc', error: 'not_found', reason: 'missing' }],
    ['application/json; error="true"', { id: 'nope2', rev: 'undefined', error: 'not_found', reason: 'missing' }],
    ['application/json; error="true"', { id: null, rev: null, error: 'bad_request', reason: 'document id missed' }],
  ]);

  // Accepting application/json too, or nothing in particular, keeps the JSON answer.
  const both = await req.post('/mpbulk/_bulk_get').set('accept', 'multipart/mixed, application/json').send({ docs: [{ id: 'b' }] }).expect(200);
  assert.deepEqual(both.body, { results: [{ id: 'b', docs: [{ ok: { _id: 'b', _rev: b.body.rev, plain: true } }] }] });
  const missingId = await req.post('/mpbulk/_bulk_get').send({ docs: [{}] }).expect(200);
  assert.deepEqual(missingId.body, { results: [{ id: null, docs: [{ error: { id: null, rev: null, error: 'bad_request', reason: 'document id missed' } }] }] });
  // multipart/related alone (old Couchbase Lite) gets the same parts under that type.
  const related = await raw(req.post('/mpbulk/_bulk_get').set('accept', 'multipart/related').send({ docs: [{ id: 'b' }] })).expect(200);
  assert.match(String(related.headers['content-type']), /^multipart\/related; boundary="--[0-9a-f]{32}"$/);
  assert.equal(partsOf(String(related.headers['content-type']), related.body as Buffer).length, 1);
});
