// Parsing a replication request as couch_replicator_parse does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReplicationRequest } from './replication-options.js';

test('doc_ids are percent-decoded, sorted by bytes and deduplicated (replication_test.exs "replication by doc ids")', () => {
  const req = parseReplicationRequest({ source: 'http://h/a', target: 'http://h/b', doc_ids: ['_design%2Ffoo', '8', '_design/foo', 'caf%C3%A9', 'b+c', '%zz'] });
  assert.deepEqual(req.filter, { kind: 'doc_ids', docIds: ['%zz', '8', '_design/foo', 'b+c', 'café'] });
});
