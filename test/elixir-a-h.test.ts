// Behaviour Apache CouchDB's own HTTP suite (test/elixir/test/*.exs, files a–h) asserts and the
// other black-box tests did not reach. Each test names the .exs test it stands for; expected
// values come from those tests and from chttpd/couch_mrview, not from Chaise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type supertest from 'supertest';
import { nodeForFile } from './helpers/in-process-node.js';

let request: ReturnType<typeof supertest>;
nodeForFile((t) => {
  request = t.request;
});

test('basics_test "Default headers are returned for doc with open_revs=all": X-CouchDB-Body-Time on every answer', async () => {
  assert.equal((await request.put('/basics')).status, 201);
  const id = (await request.post('/basics').send({ foo: 'bar' })).body.id as string;
  const head = await request.head(`/basics/${id}?open_revs=all`);
  assert.ok(head.headers['x-couch-request-id']);
  assert.equal(head.headers['x-couchdb-body-time'], '0');
  assert.equal((await request.get('/')).headers['x-couchdb-body-time'], '0');
});

test('changes_async_test "live changes": feed=live is continuous (chttpd_db:parse_changes_query)', async () => {
  assert.equal((await request.put('/livefeed')).status, 201);
  const rev = (await request.put('/livefeed/foo').send({ bar: 'baz' })).body.rev as string;
  const res = await request.get('/livefeed/_changes?feed=live&timeout=100').buffer(true).parse((r, done) => {
    let text = '';
    r.on('data', (c: Buffer) => (text += c.toString()));
    r.on('end', () => done(null, text));
  });
  assert.equal(res.status, 200);
  const lines = (res.body as string).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  assert.equal(lines[0].changes[0].rev, rev);
  assert.match(lines[1].last_seq, /^1-/);
});
