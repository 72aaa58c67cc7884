// Every case of the CouchDB 3.5 golden file test/fixtures/views-couchdb.json,
// answered by the view engine over an in-memory database holding the fixture's
// docs and design doc. Status and body must be CouchDB's, with two documented
// exceptions: `update_seq` is our integer seq (CouchDB's is an opaque string
// whose numeric prefix is compared), and error bodies' `ref` (a hash of an
// Erlang stack trace) is not reproduced.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { ViewEngine } from './view-engine.js';
import { MemorySource } from '../testing/memory-source.js';
import { tempLmdb, type TempLmdb } from '../testing/temp-lmdb.js';
import type { DesignDoc } from '../sandbox/design-sandbox.js';

interface Case {
  method?: string;
  path: string;
  request?: unknown;
  status: number;
  body: Record<string, unknown>;
}
const fixture = JSON.parse(readFileSync('test/fixtures/views-couchdb.json', 'utf8')) as {
  docs: Record<string, unknown>[];
  design: DesignDoc;
  cases: Case[];
};

// Revisions CouchDB gave the docs, as seen in include_docs answers.
const revs = new Map<string, string>();
for (const c of fixture.cases) {
  for (const row of (c.body['rows'] as { doc?: { _id: string; _rev: string } }[] | undefined) ?? []) {
    if (row.doc) revs.set(row.doc._id, row.doc._rev);
  }
}

let lmdb: TempLmdb;
let engine: ViewEngine;
const source = new MemorySource('fixture-db');
before(() => {
  lmdb = tempLmdb();
  engine = new ViewEngine({ db: lmdb.db });
  for (const d of fixture.docs) {
    const id = d['_id'] as string;
    const rev = revs.get(id) ?? `1-${createHash('md5').update(JSON.stringify(d)).digest('hex')}`;
    source.put({ _id: id, _rev: rev, ...d });
  }
  source.put({ ...fixture.design, _rev: '1-design' });
});
after(async () => {
  await engine.close();
  await lmdb.close();
});

function parsePath(path: string): { view: string; query: Record<string, string> } {
  const [p, qs] = path.split('?') as [string, string | undefined];
  const view = decodeURIComponent(p.split('/').pop() as string);
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(qs ?? '')) query[k] = v;
  return { view, query };
}

for (const c of fixture.cases) {
  test(`${c.method ?? 'GET'} ${c.path} → ${c.status}`, async () => {
    const { view, query } = parsePath(c.path);
    let status = 200;
    let body: Record<string, unknown>;
    try {
      body = (await engine.queryView(source, fixture.design, view, query, c.request)) as unknown as Record<string, unknown>;
    } catch (e) {
      const err = e as { status?: number; error?: string; reason?: string };
      if (typeof err.status !== 'number') throw e;
      status = err.status;
      body = { error: err.error, reason: err.reason };
    }
    const expected = { ...c.body };
    delete expected['ref'];
    if (typeof expected['update_seq'] === 'string') {
      expected['update_seq'] = Number.parseInt(expected['update_seq'], 10);
    }
    assert.equal(status, c.status);
    assert.deepEqual(body, expected);
  });
}

test('a second query is answered from the persisted index without re-reading changes', async () => {
  const before = source.updateSeq();
  const res = await engine.queryView(source, fixture.design, 'by_key_sum', {});
  assert.deepEqual(res.rows, [{ key: null, value: 3100 }]);
  assert.equal(source.updateSeq(), before);
});
