// Small request steps the black-box HTTP tests share: reading streamed feeds, sending a request
// before awaiting it, and the few writes every suite starts from (a database, a doc, a conflict).

import assert from 'node:assert/strict';
import type { Response, Test } from 'supertest';
import type { TestNode } from './in-process-node.js';

type Req = TestNode['request'];

/** A feed that should answer "at once" after an event must do so well within this. */
export const WAKE_BOUND_MS = 1_000;
/** A streaming request must end within this, or the test fails instead of hanging. */
export const FEED_BOUND_MS = 5_000;

/** Reads a streamed body as text (continuous and eventsource feeds are not one JSON value). */
export function text(r: Test): Test {
  return r.timeout(FEED_BOUND_MS).buffer(true).parse((res, done) => {
    let data = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (data += c));
    res.on('end', () => done(null, data));
  });
}

/** Sends the request now (a supertest request only starts when awaited), for feeds opened before an event. */
export function inFlight(r: Test): Promise<Response> {
  return new Promise((resolve, reject) => r.then(resolve, reject));
}

/**
 * The shared writes, bound to a suite's request (a getter, since suites make theirs in `before`);
 * each step also takes another node's request.
 */
export function steps(current: () => Req) {
  return {
    async createDb(name: string, r: Req = current()): Promise<void> {
      const res = await r.put('/' + encodeURIComponent(name));
      assert.equal(res.status, 201, JSON.stringify(res.body));
    },

    async put(db: string, id: string, body: Record<string, unknown>, r: Req = current()): Promise<string> {
      const res = await r.put(`/${db}/${id}`).send(body);
      assert.equal(res.status, 201, `PUT ${db}/${id}: ${JSON.stringify(res.body)}`);
      return res.body.rev as string;
    },

    /** Writes a conflict: two branches from generation 1, as a replicator would; 2-fff… wins over 2-bbb…. */
    async makeConflict(db: string, id: string, r: Req = current()): Promise<{ winner: string; loser: string; root: string }> {
      const root = '1-' + 'a'.repeat(32);
      const winner = '2-' + 'f'.repeat(32);
      const loser = '2-' + 'b'.repeat(32);
      const res = await r.post(`/${db}/_bulk_docs`).send({
        new_edits: false,
        docs: [
          { _id: id, _rev: winner, side: 'winner', _revisions: { start: 2, ids: ['f'.repeat(32), 'a'.repeat(32)] } },
          { _id: id, _rev: loser, side: 'loser', _revisions: { start: 2, ids: ['b'.repeat(32), 'a'.repeat(32)] } },
        ],
      });
      assert.equal(res.status, 201);
      return { winner, loser, root };
    },

    async dbInfo(db: string, r: Req = current()): Promise<{ doc_count: number; doc_del_count: number; update_seq: string; purge_seq: string }> {
      const res = await r.get(`/${db}`);
      assert.equal(res.status, 200);
      return res.body;
    },
  };
}
