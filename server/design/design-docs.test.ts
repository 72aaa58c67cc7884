// The design-doc cache may never keep a design doc a committed write has deleted. A `_design/`
// write moves `designVersion` when it is applied, before its commit; a reader in between still
// sees the old docs and caches them, so the version moves again at the commit. (PouchDB's
// test.mapreduce "many simultaneous persisted views" deletes design docs while others are queried
// and expects each deleted one's view to be gone.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Environment } from '../storage/environment.js';
import { Catalog } from '../storage/catalog.js';
import { parseDoc } from '../docs/parse-doc.js';
import { designDoc } from './design-docs.js';

test('a design doc deleted while another request read the cache is gone once the delete commits', async () => {
  const env = Environment.open({ inMemory: true });
  try {
    const db = await new Catalog(env).create('ddocs');
    const ids = Array.from({ length: 20 }, (_, i) => `_design/v${i}`);
    const revs = await db.write(ids.map((id) => ({ id, doc: parseDoc({ views: { v: { map: 'function (doc) { emit(doc._id); }' } } }) })), true);
    for (const id of ids) assert.ok(designDoc(db, id));
    let inBetween = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const rev = (revs[i] as { rev: string }).rev;
      const before = db.designVersion;
      let committed = false;
      const deleting = db.write([{ id, doc: parseDoc({ _rev: rev, _deleted: true }) }], true).then(() => (committed = true));
      // Read (and so cache) the design docs while the delete is applied but not yet committed.
      while (!committed) {
        if (db.designVersion !== before) {
          designDoc(db, id);
          inBetween++;
          break;
        }
        await new Promise((r) => setImmediate(r));
      }
      await deleting;
      assert.equal(designDoc(db, id), undefined, `${id} is deleted`);
    }
    assert.ok(inBetween > 0, 'some reads happened between a delete and its commit');
  } finally {
    await env.close();
  }
});
