// Property test: the persistent, incremental index answers every query exactly
// like a naive model that recomputes all rows from scratch with CouchDB's
// rules (collation order, docid tie-break, duplicate emits, inclusive_end,
// skip/limit/offset, reduce, group, group_level, keys). Random sequences of
// writes and deletes run against tiny tree nodes so that trees are several
// levels deep and updates split, rewrite and free nodes. A failing run prints
// its fast-check seed and replays with it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ViewEngine } from './view-engine.js';
import { MemorySource } from '../testing/memory-source.js';
import { tempLmdb, type TempLmdb } from '../testing/temp-lmdb.js';
import { collate } from '../collation/collate.js';
import { compareIds, rawCollate } from '../collation/raw-order.js';

const KEYS: unknown[] = [null, false, true, -2, 0, 1, 1.5, 'a', 'B', 'b', 'é', 'ab', ['a'], ['a', 1], ['a', 2], ['b'], [1, 2], {}, { x: 1 }];
const IDS = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7', 'd8', 'd9', 'D', 'é', 'z', 'a b'];

const ddoc = {
  _id: '_design/m',
  views: {
    sum: {
      map: 'function(doc){ if (doc.k !== undefined) emit(doc.k, doc.v); if (doc.k2 !== undefined) emit(doc.k2, doc.v * 2); }',
      reduce: '_sum',
    },
    js: {
      map: 'function(doc){ if (doc.k !== undefined) emit(doc.k, doc.v); }',
      reduce: 'function(keys, values, rereduce){ return sum(values); }',
    },
  },
};

interface Doc {
  _id: string;
  k?: unknown;
  k2?: unknown;
  v: number;
}
interface MRow {
  id: string;
  key: unknown;
  value: unknown;
}

function emitsOf(doc: Doc, view: 'sum' | 'js'): [unknown, unknown][] {
  const out: [unknown, unknown][] = [];
  if (doc.k !== undefined) out.push([doc.k, doc.v]);
  if (view === 'sum' && doc.k2 !== undefined) out.push([doc.k2, doc.v * 2]);
  return out;
}

/** All rows of a view, in CouchDB order, recomputed from scratch. */
function modelRows(docs: Map<string, Doc>, view: 'sum' | 'js'): MRow[] {
  const rows: { id: string; key: unknown; values: unknown[] }[] = [];
  for (const doc of docs.values()) {
    const byKey = new Map<string, { key: unknown; values: unknown[] }>();
    for (const [k, v] of emitsOf(doc, view)) {
      const j = JSON.stringify(k);
      const e = byKey.get(j) ?? { key: k, values: [] };
      e.values.push(v);
      byKey.set(j, e);
    }
    for (const e of byKey.values()) rows.push({ id: doc._id, key: e.key, values: e.values.sort(rawCollate) });
  }
  rows.sort((a, b) => collate(a.key, b.key) || compareIds(a.id, b.id));
  return rows.flatMap((r) => r.values.map((value) => ({ id: r.id, key: r.key, value })));
}

const MAXID = '\u{10FFFF}\u{10FFFF}';
function cmpTuple(k1: unknown, id1: string, k2: unknown, id2: string): number {
  return collate(k1, k2) || compareIds(id1, id2);
}

interface Q {
  startkey?: unknown;
  endkey?: unknown;
  descending: boolean;
  inclusive_end: boolean;
  skip: number;
  limit?: number | undefined;
}

/** Rows in a key range, CouchDB semantics (couch_mrview_util:key_opts), or 'range_error'. */
function modelRange(all: MRow[], q: Q): MRow[] | 'range_error' {
  const has = (v: unknown): boolean => v !== undefined;
  const skd = q.descending ? MAXID : '';
  const ekd = q.descending ? '' : MAXID;
  if (has(q.startkey) && has(q.endkey) && JSON.stringify(q.startkey) !== JSON.stringify(q.endkey)) {
    const c = cmpTuple(q.startkey, skd, q.endkey, ekd);
    if (!q.descending && c >= 0) return 'range_error';
    if (q.descending && c < 0) return 'range_error';
  }
  const rows = q.descending ? [...all].reverse() : all;
  return rows.filter((r) => {
    if (has(q.startkey)) {
      const c = cmpTuple(r.key, r.id, q.startkey, skd);
      if (q.descending ? c > 0 : c < 0) return false;
    }
    if (has(q.endkey)) {
      if (q.inclusive_end) {
        const c = cmpTuple(r.key, r.id, q.endkey, ekd);
        if (q.descending ? c < 0 : c > 0) return false;
      } else if (collate(r.key, q.endkey) === 0 || (q.descending ? collate(r.key, q.endkey) < 0 : collate(r.key, q.endkey) > 0)) {
        return false;
      }
    }
    return true;
  });
}

function params(q: Q): Record<string, string> {
  const p: Record<string, string> = {};
  if (q.startkey !== undefined) p['startkey'] = JSON.stringify(q.startkey);
  if (q.endkey !== undefined) p['endkey'] = JSON.stringify(q.endkey);
  if (q.descending) p['descending'] = 'true';
  if (!q.inclusive_end) p['inclusive_end'] = 'false';
  if (q.skip > 0) p['skip'] = String(q.skip);
  if (q.limit !== undefined) p['limit'] = String(q.limit);
  return p;
}

function groupRows(rows: MRow[], level: 'exact' | number): { key: unknown; value: number }[] {
  const out: { key: unknown; value: number }[] = [];
  let last: string | undefined;
  for (const r of rows) {
    const gk = level === 'exact' ? r.key : Array.isArray(r.key) && r.key.length > 0 ? r.key.slice(0, level) : r.key;
    const j = JSON.stringify(gk);
    if (j !== last) {
      out.push({ key: gk, value: 0 });
      last = j;
    }
    (out[out.length - 1] as { value: number }).value += r.value as number;
  }
  return out;
}

let lmdb: TempLmdb;
let engine: ViewEngine;
before(() => {
  lmdb = tempLmdb();
  engine = new ViewEngine({
    db: lmdb.db,
    treeShape: { leafBytes: 40, leafEntriesMax: 3, innerBytes: 120, innerChildrenMax: 3 },
  });
});
after(async () => {
  await engine.close();
  await lmdb.close();
});

const keyArb = fc.constantFrom(...KEYS);
const opArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('put' as const), id: fc.constantFrom(...IDS), k: fc.option(keyArb, { nil: undefined }), k2: fc.option(keyArb, { nil: undefined }), v: fc.integer({ min: -5, max: 20 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('del' as const), id: fc.constantFrom(...IDS) }) },
);
const queryArb = fc.record({
  startkey: fc.option(keyArb, { nil: undefined }),
  endkey: fc.option(keyArb, { nil: undefined }),
  descending: fc.boolean(),
  inclusive_end: fc.boolean(),
  skip: fc.nat({ max: 4 }),
  limit: fc.option(fc.nat({ max: 8 }), { nil: undefined }),
});

async function expectQuery(source: MemorySource, view: string, p: Record<string, string>, expected: unknown): Promise<void> {
  let got: unknown;
  try {
    got = await engine.queryView(source, ddoc, view, p);
  } catch (e) {
    const err = e as { status?: number; reason?: string };
    if (err.status === undefined) throw e;
    got = `${err.status} ${err.reason}`;
  }
  assert.deepEqual(got, expected, `${view} ${JSON.stringify(p)}`);
}

test('incremental index = naive model, over random writes and queries', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(opArb, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }), fc.array(queryArb, { minLength: 3, maxLength: 3 }), async (batches, queries) => {
      const source = new MemorySource();
      const docs = new Map<string, Doc>();
      for (const batch of batches) {
        for (const op of batch) {
          if (op.op === 'del') {
            source.delete(op.id);
            docs.delete(op.id);
          } else {
            const d: Doc = { _id: op.id, v: op.v };
            if (op.k !== undefined) d.k = op.k;
            if (op.k2 !== undefined) d.k2 = op.k2;
            source.put({ ...d });
            docs.set(op.id, d);
          }
        }
        const all = modelRows(docs, 'sum');
        await expectQuery(source, 'sum', { reduce: 'false' }, { total_rows: all.length, offset: 0, rows: all });
        for (const q of queries) {
          const range = modelRange(all, q);
          if (range === 'range_error') {
            const which = q.descending ? 'false' : 'true';
            const msg = `400 No rows can match your key range, reverse your start_key and end_key or set descending=${which}`;
            await expectQuery(source, 'sum', { ...params(q), reduce: 'false' }, msg);
            continue;
          }
          const page = range.slice(q.skip, q.limit === undefined ? undefined : q.skip + q.limit);
          // offset: rows before the first returned one, in walking order.
          const firstIdx = page.length > 0 ? (q.descending ? [...all].reverse() : all).indexOf(page[0] as MRow) : undefined;
          const res = (await engine.queryView(source, ddoc, 'sum', { ...params(q), reduce: 'false' })) as { rows: unknown; offset: number };
          assert.deepEqual(res.rows, page, `map ${JSON.stringify(params(q))}`);
          if (firstIdx !== undefined) assert.equal(res.offset, firstIdx, `offset ${JSON.stringify(params(q))}`);
          // Reduce over the same range (no skip/limit: they apply to reduce rows).
          const rq = { ...q, skip: 0, limit: undefined };
          const rrange = modelRange(all, rq) as MRow[];
          const total = rrange.reduce((s, r) => s + (r.value as number), 0);
          await expectQuery(source, 'sum', params(rq), { rows: rrange.length > 0 ? [{ key: null, value: total }] : [] });
          const groups = groupRows(rrange, 'exact');
          await expectQuery(source, 'sum', { ...params(q), group: 'true' }, {
            rows: groups.slice(q.skip, q.limit === undefined ? undefined : q.skip + q.limit),
          });
          await expectQuery(source, 'sum', { ...params(rq), group_level: '1' }, { rows: groupRows(rrange, 1) });
          const jsRange = modelRange(modelRows(docs, 'js'), rq) as MRow[];
          await expectQuery(source, 'js', { ...params(rq), group: 'true' }, { rows: groupRows(jsRange, 'exact') });
        }
        // Multi-key: results ordered by each key's last position in `keys`
        // (fabric_view_map's keydict), duplicates interleaved by docid.
        const keys = [KEYS[7], KEYS[0], KEYS[12], 'missing', KEYS[7]];
        const lastPos = (k: unknown): number => keys.map((x) => JSON.stringify(x)).lastIndexOf(JSON.stringify(k));
        const perOccurrence = keys.flatMap((k) => all.filter((r) => collate(r.key, k) === 0).map((r) => ({ r, pos: lastPos(k) })));
        const byKeys = [...perOccurrence].sort((a, b) => a.pos - b.pos || compareIds(a.r.id, b.r.id)).map((x) => x.r);
        const firstWithRows = keys.find((k) => all.some((r) => collate(r.key, k) === 0));
        const firstPos = (k: unknown): number => {
          const i = all.findIndex((r) => collate(r.key, k) >= 0);
          return i === -1 ? all.length : i;
        };
        await expectQuery(source, 'sum', { reduce: 'false', keys: JSON.stringify(keys) }, {
          total_rows: all.length,
          // offset: where the first key that has rows starts (else where the first key would be).
          offset: firstPos(firstWithRows !== undefined ? firstWithRows : keys[0]),
          rows: byKeys,
        });
      }
    }),
    { numRuns: 40 },
  );
});
