// Parsing replication sources and targets; credentials never leak.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePeer, peerDbName } from './peer.js';
import { LineSplitter } from './json-lines.js';
import { ReplicationError } from '../errors.js';

const basic = (user: string, pass: string): string => 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');

test('credentials in the URL move to a Basic header; the label masks the password like CouchDB', () => {
  const p = parsePeer('http://adm:s%40cret@localhost:15984/cdyno-0000002', 'target');
  assert.equal(p.url.href, 'http://localhost:15984/cdyno-0000002/');
  assert.equal(p.headers['authorization'], basic('adm', 's@cret'));
  assert.equal(p.user, 'adm');
  assert.equal(p.label, 'http://adm:*****@localhost:15984/cdyno-0000002/');
  assert.ok(!p.label.includes('cret'));
});

test('the object form: url, headers, auth.basic', () => {
  const p = parsePeer({ url: 'https://example.com/db', headers: { 'X-Thing': 'v' }, auth: { basic: { username: 'u', password: 'p' } } }, 'source');
  assert.equal(p.url.href, 'https://example.com/db/');
  assert.deepEqual(p.headers, { 'x-thing': 'v', authorization: basic('u', 'p') });
  assert.equal(p.user, 'u');
  assert.equal(p.label, 'https://example.com/db/');
});

test('bare names are databases on the local node; escaped slashes stay escaped', () => {
  const local = { baseUrl: new URL('http://127.0.0.1:5984/'), headers: { authorization: basic('admin', 'x') } };
  const p = parsePeer('a/b', 'source', local);
  assert.equal(p.url.href, 'http://127.0.0.1:5984/a%2Fb/');
  assert.equal(peerDbName(p), 'a/b');
  assert.equal(p.headers['authorization'], basic('admin', 'x'));
  assert.throws(() => parsePeer('a', 'source'), (e: unknown) => e instanceof ReplicationError && e.status === 400);
});

test('bad peers are 400 bad_request, without echoing passwords', () => {
  for (const bad of [42, null, [], { url: 3 }, 'ftp://h/db', { url: 'http://h/db', auth: { basic: { username: 'u' } } }, { url: 'http://h/db', headers: { a: 1 } }]) {
    assert.throws(() => parsePeer(bad, 'source'), (e: unknown) => e instanceof ReplicationError && e.status === 400 && e.error === 'bad_request', JSON.stringify(bad));
  }
  assert.throws(() => parsePeer('http://u:topsecret@[bad', 'source'), (e: unknown) => e instanceof ReplicationError && !e.reason.includes('topsecret'));
});

test('continuous feeds are split on newlines, across chunks and inside multi-byte characters', () => {
  const s = new LineSplitter();
  const text = Buffer.from('{"id":"é"}\n\n{"last_seq":3}\n', 'utf8');
  const cut = text.indexOf(0xa9); // the second byte of é
  assert.deepEqual(s.push(text.subarray(0, cut)), []);
  assert.deepEqual(s.push(text.subarray(cut, cut + 5)), ['{"id":"é"}', '']);
  assert.deepEqual(s.push(text.subarray(cut + 5)), ['{"last_seq":3}']);
  assert.equal(s.end(), null);
  assert.deepEqual(s.push(Buffer.from('{"a":1}\r\n{"b"')), ['{"a":1}']);
  assert.equal(s.end(), '{"b"');
});
