// The multipart forms CouchDB's replicator uses: PUT multipart/related with `follows` attachments,
// and open_revs answered as multipart/mixed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inProcessNode } from '../../test/helpers/in-process-node.js';
import { parseMultipart, boundaryOf } from './multipart.js';

test('PUT ?new_edits=false with multipart/related stores follows attachments byte for byte', async () => {
  const { request, close } = await inProcessNode();
  try {
    await request.put('/mp').expect(201);
    const bytes = Buffer.from([0, 1, 2, 250, 251, 13, 10, 45, 45]);
    const doc = {
      _id: 'doc',
      _rev: '2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
      _revisions: { start: 2, ids: ['bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'] },
      title: 'with a binary attachment',
      _attachments: { 'bin.dat': { content_type: 'application/octet-stream', revpos: 2, follows: true, length: bytes.length } },
    };
    const body = Buffer.concat([
      Buffer.from('--abc\r\nContent-Type: application/json\r\n\r\n' + JSON.stringify(doc) + '\r\n--abc\r\nContent-Disposition: attachment; filename="bin.dat"\r\nContent-Type: application/octet-stream\r\n\r\n'),
      bytes,
      Buffer.from('\r\n--abc--'),
    ]);
    const put = await request.put('/mp/doc?new_edits=false').set('content-type', 'multipart/related; boundary="abc"').send(body);
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const att = await request.get('/mp/doc/bin.dat').buffer(true).parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    assert.deepEqual(att.body, bytes);
    const got = await request.get('/mp/doc?revs=true').expect(200);
    assert.equal(got.body._rev, '2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
    assert.equal(got.body._attachments['bin.dat'].length, bytes.length);

    const mixed = await request
      .get('/mp/doc?open_revs=' + encodeURIComponent(JSON.stringify(['2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', '3-cccccccccccccccccccccccccccccccc'])) + '&attachments=true')
      .set('accept', 'multipart/mixed')
      .buffer(true)
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    assert.match(String(mixed.headers['content-type']), /^multipart\/mixed; boundary=/);
    const parts = parseMultipart(mixed.body as Buffer, boundaryOf(String(mixed.headers['content-type'])) as string);
    assert.equal(parts.length, 2);
    // The revision with an attachment is a multipart/related part: its JSON, then the bytes.
    const inner = parseMultipart(parts[0]?.body as Buffer, boundaryOf(parts[0]?.headers['content-type'] ?? '') as string);
    const okDoc = JSON.parse(inner[0]?.body.toString() ?? '') as { _attachments: Record<string, { follows: boolean }> };
    assert.equal(okDoc._attachments['bin.dat']?.follows, true);
    assert.deepEqual(inner[1]?.body, bytes);
    assert.equal(parts[1]?.headers['content-type'], 'application/json; error="true"');
    assert.deepEqual(JSON.parse(parts[1]?.body.toString() ?? ''), { missing: '3-cccccccccccccccccccccccccccccccc' });
  } finally {
    await close();
  }
});
