import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRoute } from './route-path.js';

test('paths are classified the way CouchDB reads them', () => {
  assert.deepEqual(parseRoute('/'), { kind: 'root' });
  assert.deepEqual(parseRoute('/_all_dbs'), { kind: 'server', name: '_all_dbs', rest: [] });
  assert.deepEqual(parseRoute('/_lounge/map'), { kind: 'server', name: '_lounge', rest: ['map'] });
  assert.deepEqual(parseRoute('/a%2Fb'), { kind: 'db', db: 'a/b' });
  assert.deepEqual(parseRoute('/db/'), { kind: 'db', db: 'db' });
  assert.deepEqual(parseRoute('/_users'), { kind: 'db', db: '_users' });
  assert.deepEqual(parseRoute('/db/doc%2Fwith%20slash'), { kind: 'doc', db: 'db', docId: 'doc/with slash' });
  assert.deepEqual(parseRoute('/db/_design/d'), { kind: 'doc', db: 'db', docId: '_design/d' });
  assert.deepEqual(parseRoute('/db/_design%2Fd'), { kind: 'doc', db: 'db', docId: '_design/d' });
  assert.deepEqual(parseRoute('/db/_design/d/_view/v'), { kind: 'view', db: 'db', ddoc: 'd', view: 'v', rest: [] });
  assert.deepEqual(parseRoute('/db/_design/d/_info'), { kind: 'designInfo', db: 'db', ddoc: 'd' });
  assert.deepEqual(parseRoute('/db/_design/d/_show/s/x'), { kind: 'designFunction', db: 'db', ddoc: 'd', fn: '_show', rest: ['s', 'x'] });
  assert.deepEqual(parseRoute('/db/_design/d/img/a.png'), { kind: 'attachment', db: 'db', docId: '_design/d', name: 'img/a.png' });
  assert.deepEqual(parseRoute('/db/_local/chk'), { kind: 'local', db: 'db', id: 'chk' });
  assert.deepEqual(parseRoute('/db/_local%2Fchk'), { kind: 'local', db: 'db', id: 'chk' });
  assert.deepEqual(parseRoute('/db/_shards'), { kind: 'shards', db: 'db', docId: undefined });
  assert.deepEqual(parseRoute('/db/_shards/joan'), { kind: 'shards', db: 'db', docId: 'joan' });
  assert.deepEqual(parseRoute('/db/_all_docs'), { kind: 'dbSpecial', db: 'db', name: '_all_docs', rest: [] });
  assert.deepEqual(parseRoute('/db/_index/_design/x/json/y'), { kind: 'dbSpecial', db: 'db', name: '_index', rest: ['_design', 'x', 'json', 'y'] });
  assert.deepEqual(parseRoute('/db/doc/a/b.txt'), { kind: 'attachment', db: 'db', docId: 'doc', name: 'a/b.txt' });
  assert.deepEqual(parseRoute('/db/_illegal'), { kind: 'doc', db: 'db', docId: '_illegal' });
});
