// nano, CouchDB's official Node client, against a Chaise node in its own process, used as its
// README shows: log in with nano.auth() and keep working on the session cookie alone (nano keeps
// a cookie only while its Expires says it is valid), CRUD, a view, _changes, attachments, and
// multipart docs with attachments.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Nano from 'nano';
import { startChildNode, type ChildNode } from './helpers/child-node.js';

let node: ChildNode;
before(async () => {
  node = await startChildNode({ admin: 'boss:bosspw', args: [] });
});
after(() => node?.stop());

test('nano: a cookie session from nano.auth() stays logged in; CRUD, views, changes, attachments', async () => {
  // No credentials in the URL: everything below rides on the AuthSession cookie.
  const nano = Nano({ url: node.url });
  const auth = await nano.auth('boss', 'bosspw');
  assert.equal(auth.ok, true);
  const session = await nano.session();
  assert.deepEqual(session.userCtx, { name: 'boss', roles: ['_admin'] });

  await nano.db.create('nano_db');
  const db = nano.db.use<{ kind: string; n: number }>('nano_db');
  const created = await db.insert({ kind: 'note', n: 1 }, 'n1');
  assert.equal(created.ok, true);
  const read = await db.get('n1');
  assert.equal(read.n, 1);
  const updated = await db.insert({ ...read, n: 2 });
  assert.match(updated.rev, /^2-/);
  await assert.rejects(db.insert({ kind: 'note', n: 3 }, 'n1'), (e: { statusCode?: number; error?: string }) => e.statusCode === 409 && e.error === 'conflict');
  await db.bulk({ docs: [{ _id: 'n2', kind: 'note', n: 5 }, { _id: 't1', kind: 'todo', n: 7 }] });
  const all = await db.list();
  assert.deepEqual(all.rows.map((r) => r.id), ['n1', 'n2', 't1']);
  const gone = await db.destroy('n2', (await db.get('n2'))._rev);
  assert.equal(gone.ok, true);

  await db.insert({ views: { byKind: { map: 'function (doc) { if (doc.kind) emit(doc.kind, doc.n); }', reduce: '_sum' } } } as never, '_design/d');
  const reduced = await db.view('d', 'byKind', { group: true });
  assert.deepEqual(reduced.rows, [{ key: 'note', value: 2 }, { key: 'todo', value: 7 }]);
  const mapped = await db.view('d', 'byKind', { reduce: false, key: 'note', include_docs: true });
  assert.equal(mapped.rows[0]?.doc?.n, 2);

  const changes = await db.changes({ since: 0, include_docs: false });
  assert.deepEqual(new Set(changes.results.map((r) => r.id)), new Set(['n1', 'n2', 't1', '_design/d']));
  assert.equal(changes.results.find((r) => r.id === 'n2')?.deleted, true);

  const text = Buffer.from('hello from nano');
  const att = await db.attachment.insert('withatt', 'hello.txt', text, 'text/plain');
  assert.equal(att.ok, true);
  // nano hands text attachments back as a string.
  const back: unknown = await db.attachment.get('withatt', 'hello.txt');
  assert.equal(String(back), 'hello from nano');
  const multi = await db.multipart.insert({ kind: 'note', n: 9 } as never, [{ name: 'a.bin', data: Buffer.from([1, 2, 3]), content_type: 'application/octet-stream' }], 'mp');
  assert.equal(multi.ok, true);
  // nano asks for multipart/related and gets it: the JSON with a follows stub, then the bytes.
  // (nano hands a multipart/related body back as text.)
  const mpText = (await db.multipart.get('mp')) as unknown as string;
  assert.equal(typeof mpText, 'string');
  const boundary = /^--([0-9a-f]{32})\r\n/.exec(mpText)?.[1];
  assert.ok(boundary, 'a multipart/related body');
  const parts = mpText.split(`\r\n--${boundary}`);
  assert.equal(parts.length, 3); // the JSON part, the attachment part, then the closing "--"
  const docJson = JSON.parse((parts[0] ?? '').split('\r\n\r\n')[1] ?? '') as { n: number; _attachments: Record<string, { follows?: boolean; length?: number }> };
  assert.equal(docJson.n, 9);
  assert.deepEqual([docJson._attachments['a.bin']?.follows, docJson._attachments['a.bin']?.length], [true, 3]);
  assert.match(parts[1] ?? '', /^\r\nContent-Disposition: attachment; filename="a\.bin"\r\nContent-Type: application\/octet-stream\r\nContent-Length: 3\r\n\r\n/);
  assert.deepEqual(Buffer.from((parts[1] ?? '').split('\r\n\r\n')[1] ?? ''), Buffer.from([1, 2, 3]));
  assert.equal(parts[2], '--');

  // Still the same session: nothing above sent a password.
  assert.deepEqual((await nano.session()).userCtx, { name: 'boss', roles: ['_admin'] });
});

test('nano without a login is anonymous and refused', async () => {
  const nano = Nano({ url: node.url });
  assert.deepEqual((await nano.session()).userCtx, { name: null, roles: [] });
  await assert.rejects(nano.db.list(), (e: { statusCode?: number }) => e.statusCode === 401);
});
