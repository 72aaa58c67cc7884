// `Database.updateSeq` is what readers may rely on: whenever it says N, the by-sequence index
// already holds every change up to N. (The seq counter itself moves inside a write transaction,
// before the commit; a view update or a feed that trusted it could step over a change in flight.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Environment } from './environment.js';
import { Catalog } from './catalog.js';
import { parseDoc } from '../docs/parse-doc.js';

test('updateSeq never runs ahead of what a reader can see, while writes are in flight', async () => {
  const env = Environment.open({ inMemory: true });
  try {
    const db = await new Catalog(env).create('seqs');
    let writing = true;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < 40; i++) await db.write([{ id: `w${w}-${i}`, doc: parseDoc({ i }) }], true);
    });
    const done = Promise.all(writers).then(() => (writing = false));
    let checks = 0;
    while (writing) {
      const claimed = db.updateSeq;
      let visible = 0;
      for (const row of db.changes(0)) visible = Math.max(visible, row.seq);
      assert.ok(visible >= claimed, `updateSeq ${claimed} but the index holds changes only up to ${visible}`);
      checks++;
      await new Promise((r) => setImmediate(r));
    }
    await done;
    assert.ok(checks > 10, 'the check ran while writes were in flight');
    assert.equal(db.updateSeq, 8 * 40);
  } finally {
    await env.close();
  }
});
