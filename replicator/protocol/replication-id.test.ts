// Replication ids: the properties CouchDB's couch_replicator_ids guarantees.
// Endpoint identity cases are CouchDB's own `http_v4_endpoint_test_` table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePeer, peerIdentity } from '../endpoint/peer.js';
import { canonicalJson, replicationId, splitReplicationId, REPLICATION_ID_VERSION, type ReplicationIdInput } from './replication-id.js';

const basic = (user: string, pass: string): string => 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');

function identity(url: string, headers: Record<string, string> = {}) {
  return peerIdentity(parsePeer({ url, headers }, 'source'));
}

test('endpoint identity follows CouchDB v4: user, host, non-default port, path, headers without credentials', () => {
  const cases: [string, Record<string, string>, { user: string | null; host: string; port: number | null; path: string; headers: [string, string][] }][] = [
    ['http://host', {}, { user: null, host: 'host', port: null, path: '/', headers: [] }],
    ['https://host', {}, { user: null, host: 'host', port: null, path: '/', headers: [] }],
    ['http://host:5984', {}, { user: null, host: 'host', port: null, path: '/', headers: [] }],
    ['http://host:1', {}, { user: null, host: 'host', port: 1, path: '/', headers: [] }],
    ['https://host:2', {}, { user: null, host: 'host', port: 2, path: '/', headers: [] }],
    ['http://host', { h: 'v' }, { user: null, host: 'host', port: null, path: '/', headers: [['h', 'v']] }],
    ['http://host/a/b', {}, { user: null, host: 'host', port: null, path: '/a/b/', headers: [] }],
    ['http://user:pass@host', {}, { user: 'user', host: 'host', port: null, path: '/', headers: [] }],
    ['http://user:pass@host:3', {}, { user: 'user', host: 'host', port: 3, path: '/', headers: [] }],
    ['http://host', { Authorization: basic('user', 'pass') }, { user: 'user', host: 'host', port: null, path: '/', headers: [] }],
    ['http://user1:pass1@host', { Authorization: basic('user2', 'pass2') }, { user: 'user1', host: 'host', port: null, path: '/', headers: [] }],
    ['http://host', { h: 'v', Authorization: basic('user', 'pass') }, { user: 'user', host: 'host', port: null, path: '/', headers: [['h', 'v']] }],
    ['http://host', { Authorization: 'Basic bad' }, { user: null, host: 'host', port: null, path: '/', headers: [] }],
  ];
  for (const [url, headers, expected] of cases) {
    assert.deepEqual(identity(url, headers), { kind: 'remote', ...expected }, `${url} ${JSON.stringify(headers)}`);
  }
});

function input(overrides: Partial<ReplicationIdInput> = {}): ReplicationIdInput {
  return {
    serverUuid: '85fb71bf700c17267fef77535820e371',
    source: identity('http://adm:pass@127.0.0.1:5984/db_a'),
    target: identity('http://adm:pass@127.0.0.1:5984/db_b'),
    continuous: false,
    createTarget: false,
    ...overrides,
  };
}

test('ids are 32 hex, stable, and checkpoints live in _local/<base id>', () => {
  const a = replicationId(input());
  assert.match(a.baseId, /^[0-9a-f]{32}$/);
  assert.equal(a.id, a.baseId);
  assert.equal(a.checkpointDocId, `_local/${a.baseId}`);
  assert.deepEqual(replicationId(input()), a);
  assert.equal(REPLICATION_ID_VERSION, 4);
});

test('passwords never change the id; users, hosts, ports, paths and the server uuid do', () => {
  const base = replicationId(input()).baseId;
  assert.equal(replicationId(input({ source: identity('http://adm:other@127.0.0.1:5984/db_a') })).baseId, base);
  assert.equal(replicationId(input({ source: identity('http://127.0.0.1/db_a', { Authorization: basic('adm', 'x') }) })).baseId, base);
  assert.notEqual(replicationId(input({ source: identity('http://bob:pass@127.0.0.1:5984/db_a') })).baseId, base);
  assert.notEqual(replicationId(input({ source: identity('http://adm:pass@127.0.0.1:5985/db_a') })).baseId, base);
  assert.notEqual(replicationId(input({ source: identity('http://adm:pass@localhost:5984/db_a') })).baseId, base);
  assert.notEqual(replicationId(input({ target: identity('http://adm:pass@127.0.0.1:5984/db_c') })).baseId, base);
  assert.notEqual(replicationId(input({ serverUuid: 'another' })).baseId, base);
  // Swapping source and target is another replication.
  assert.notEqual(replicationId(input({ source: input().target, target: input().source })).baseId, base);
});

test('continuous and create_target only add suffixes; the checkpoint doc is shared', () => {
  const plain = replicationId(input());
  const both = replicationId(input({ continuous: true, createTarget: true }));
  assert.equal(both.baseId, plain.baseId);
  assert.equal(both.id, `${plain.baseId}+continuous+create_target`);
  assert.equal(replicationId(input({ continuous: true })).extension, '+continuous');
  assert.equal(both.checkpointDocId, plain.checkpointDocId);
  assert.deepEqual(splitReplicationId(both.id), { baseId: plain.baseId, extension: '+continuous+create_target' });
  assert.deepEqual(splitReplicationId(`${plain.baseId} continuous`), { baseId: plain.baseId, extension: '+continuous' });
});

test('filters: code and params matter, spelling order does not', () => {
  const base = replicationId(input()).baseId;
  const design = (code: string, queryParams: Record<string, string>) =>
    replicationId(input({ filter: { kind: 'design', name: 'd/f', code, queryParams } })).baseId;
  const f1 = design('function(doc, req) { return true; }', { a: '1', b: '2' });
  assert.notEqual(f1, base);
  assert.equal(design('  function(doc, req) { return true; }\n', { b: '2', a: '1' }), f1, 'trimmed code, key order ignored');
  assert.notEqual(design('function(doc, req) { return false; }', { a: '1', b: '2' }), f1, 'edited code restarts');
  assert.notEqual(design('function(doc, req) { return true; }', { a: '1', b: '3' }), f1);

  const ids = (docIds: string[]) => replicationId(input({ filter: { kind: 'doc_ids', docIds } })).baseId;
  assert.equal(ids(['b', 'a', 'a']), ids(['a', 'b']));
  assert.notEqual(ids(['a']), ids(['a', 'b']));

  const sel = (selector: Record<string, unknown>) => replicationId(input({ filter: { kind: 'selector', selector } })).baseId;
  assert.equal(sel({ x: 1, y: { $gt: 2, $lt: 5 } }), sel({ y: { $lt: 5, $gt: 2 }, x: 1 }));
  assert.notEqual(sel({ x: 1 }), sel({ x: 2 }));
  assert.notEqual(sel({ x: 1 }), base);
});

test('since_seq and winning_revs_only are part of the id', () => {
  const base = replicationId(input()).baseId;
  assert.notEqual(replicationId(input({ sinceSeq: 3 })).baseId, base);
  assert.notEqual(replicationId(input({ sinceSeq: 3 })).baseId, replicationId(input({ sinceSeq: '3' })).baseId);
  assert.notEqual(replicationId(input({ winningRevsOnly: true })).baseId, base);
});

test('canonical JSON sorts keys at every depth and keeps array order', () => {
  assert.equal(canonicalJson({ b: [2, { d: 1, c: 0 }], a: null }), '{"a":null,"b":[2,{"c":0,"d":1}]}');
  assert.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
});
