// Crash durability of a real node process. Eight concurrent writers hammer a node on disk with
// single-doc PUTs, DELETEs and small `_bulk_docs`; each records every write the node acknowledged
// (a 2xx answer, with its rev). The node is then SIGKILLed mid-stream (no shutdown code runs) and
// restarted on the same directory. CouchDB's promise, which Chaise makes too (DESIGN.md: a write is
// acknowledged only after its commit is durable), is then checked:
//   - every acknowledged write is there, at its rev or a descendant of it;
//   - a write that was in flight at the kill is either wholly there or wholly absent: every stored
//     body parses and equals what was sent for that rev, and nothing exists that was never sent;
//   - the database's counters agree with what it lists: `doc_count` = `_all_docs` rows,
//     `doc_del_count` = deleted rows in `_changes`, and `_changes` lists each doc exactly once.
//
// Payloads come from a seeded generator; set CHAISE_SEED to reuse one.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startChildNode, type ChildNode } from './helpers/child-node.js';
import { seeded } from './helpers/replication.js';

const WRITERS = 8;
/** How long the writers run before the node is killed. */
const WRITE_PHASE_MS = 1_500;
/** `_bulk_docs` requests carry 2–5 docs. */
const BULK_DOCS_MAX = 5;
/** `_bulk_get` requests when verifying, well under the node's `max_bulk_docs`. */
const VERIFY_BATCH = 1_000;
const DB = 'crash';

interface Attempt {
  /** The revision this write replaced, or null for a creation. */
  parent: string | null;
  body: Record<string, unknown>;
  deleted: boolean;
}

interface Acked {
  rev: string;
  body: Record<string, unknown>;
  deleted: boolean;
}

/** What the writers sent and what the node confirmed, per doc id. */
const attempts = new Map<string, Attempt[]>();
const acked = new Map<string, Acked>();
const unexpected: string[] = [];

let node: ChildNode | undefined;
after(async () => {
  await node?.stop();
});


function attempt(id: string, a: Attempt): void {
  let list = attempts.get(id);
  if (!list) attempts.set(id, (list = []));
  list.push(a);
}

/** One writer: its own documents, edited one request at a time until the node goes away. */
async function writer(url: string, w: number, random: () => number, stop: { now: boolean }): Promise<{ ops: number; interrupted: boolean }> {
  const live = new Map<string, string>(); // id → current rev, for this writer's live docs
  let made = 0;
  let ops = 0;
  const payload = () => 'x'.repeat(Math.floor(random() * 300)) + random().toString(36);
  const newBody = (id: string) => ({ writer: w, op: ops, id, payload: payload(), nested: { n: ops, list: [w, ops] } });
  const pickLive = () => {
    const ids = [...live.keys()];
    return ids.length === 0 ? undefined : (ids[Math.floor(random() * ids.length)] as string);
  };

  while (!stop.now) {
    ops++;
    const roll = random();
    try {
      if (roll < 0.35 || live.size === 0) {
        const id = `w${w}-${made++}`;
        const body = newBody(id);
        attempt(id, { parent: null, body, deleted: false });
        const res = await fetch(`${url}/${DB}/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        const json = (await res.json()) as { rev?: string };
        if (res.status !== 201 || !json.rev) unexpected.push(`PUT ${id}: ${res.status} ${JSON.stringify(json)}`);
        else {
          acked.set(id, { rev: json.rev, body, deleted: false });
          live.set(id, json.rev);
        }
      } else if (roll < 0.6) {
        const id = pickLive() as string;
        const parent = live.get(id) as string;
        const body = newBody(id);
        attempt(id, { parent, body, deleted: false });
        const res = await fetch(`${url}/${DB}/${id}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...body, _rev: parent }),
        });
        const json = (await res.json()) as { rev?: string };
        if (res.status !== 201 || !json.rev) unexpected.push(`PUT ${id} (update): ${res.status} ${JSON.stringify(json)}`);
        else {
          acked.set(id, { rev: json.rev, body, deleted: false });
          live.set(id, json.rev);
        }
      } else if (roll < 0.7) {
        const id = pickLive() as string;
        const parent = live.get(id) as string;
        attempt(id, { parent, body: {}, deleted: true });
        live.delete(id); // never touched again, whatever the outcome
        const res = await fetch(`${url}/${DB}/${id}?rev=${parent}`, { method: 'DELETE' });
        const json = (await res.json()) as { rev?: string };
        if (res.status !== 200 || !json.rev) unexpected.push(`DELETE ${id}: ${res.status} ${JSON.stringify(json)}`);
        else acked.set(id, { rev: json.rev, body: {}, deleted: true });
      } else {
        // A small _bulk_docs mixing creations and updates, each doc at most once.
        const n = 2 + Math.floor(random() * (BULK_DOCS_MAX - 1));
        const docs: Record<string, unknown>[] = [];
        const sent: { id: string; body: Record<string, unknown> }[] = [];
        const touched = new Set<string>();
        for (let i = 0; i < n; i++) {
          const existing = random() < 0.5 ? pickLive() : undefined;
          if (existing !== undefined && !touched.has(existing)) {
            touched.add(existing);
            const body = newBody(existing);
            const parent = live.get(existing) as string;
            attempt(existing, { parent, body, deleted: false });
            docs.push({ _id: existing, _rev: parent, ...body });
            sent.push({ id: existing, body });
          } else {
            const id = `w${w}-${made++}`;
            const body = newBody(id);
            attempt(id, { parent: null, body, deleted: false });
            docs.push({ _id: id, ...body });
            sent.push({ id, body });
          }
        }
        // Until the answer says otherwise, these docs' revs are unknown: stop editing them.
        for (const { id } of sent) live.delete(id);
        const res = await fetch(`${url}/${DB}/_bulk_docs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ docs }) });
        const json = (await res.json()) as { ok?: boolean; id: string; rev?: string; error?: string }[];
        if (res.status !== 201 || !Array.isArray(json)) unexpected.push(`_bulk_docs: ${res.status} ${JSON.stringify(json)}`);
        else {
          json.forEach((r, i) => {
            const s = sent[i] as { id: string; body: Record<string, unknown> };
            if (r.ok && r.rev && r.id === s.id) {
              acked.set(s.id, { rev: r.rev, body: s.body, deleted: false });
              live.set(s.id, r.rev);
            } else unexpected.push(`_bulk_docs row ${i}: ${JSON.stringify(r)}`);
          });
        }
      }
    } catch {
      // The node died under this request: its outcome is unknown, which is what the check allows.
      return { ops, interrupted: true };
    }
  }
  return { ops, interrupted: false };
}

function userFields(doc: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('_')));
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return (await res.json()) as Record<string, unknown>;
}

test('acknowledged writes survive SIGKILL and the database stays consistent', async (t) => {
  const seed = Number(process.env.CHAISE_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`CHAISE_SEED=${seed}`);
  node = await startChildNode();
  const created = await fetch(`${node.url}/${DB}`, { method: 'PUT' });
  assert.equal(created.status, 201);

  const stop = { now: false };
  const random = seeded(seed);
  const writers = Array.from({ length: WRITERS }, (_, w) => writer((node as ChildNode).url, w, seeded(Math.floor(random() * 2 ** 32)), stop));
  await new Promise((r) => setTimeout(r, WRITE_PHASE_MS));
  const killed = await node.kill('SIGKILL');
  stop.now = true;
  const outcomes = await Promise.all(writers);
  assert.equal(killed.signal, 'SIGKILL');
  t.diagnostic(`ops per writer: ${outcomes.map((o) => o.ops).join(', ')}; acknowledged docs: ${acked.size}; attempted docs: ${attempts.size}`);
  assert.deepEqual(unexpected, [], 'every write the node answered before the kill succeeded');
  assert.ok(acked.size >= WRITERS * 3, `the writers got real work done (${acked.size} docs acknowledged)`);
  assert.ok(outcomes.some((o) => o.interrupted), 'the kill landed while writes were in flight');

  await node.restart();
  const base = `${node.url}/${DB}`;

  // Every doc ever attempted, with all its leaves and their histories.
  const ids = [...attempts.keys()];
  const leavesById = new Map<string, Record<string, unknown>[]>();
  for (let i = 0; i < ids.length; i += VERIFY_BATCH) {
    const res = await fetch(`${base}/_bulk_get?revs=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ docs: ids.slice(i, i + VERIFY_BATCH).map((id) => ({ id })) }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { results: { id: string; docs: ({ ok: Record<string, unknown> } | { error: { error: string } })[] }[] };
    for (const r of body.results) {
      const ok = r.docs.filter((d): d is { ok: Record<string, unknown> } => 'ok' in d).map((d) => d.ok);
      for (const d of r.docs) if ('error' in d) assert.equal(d.error.error, 'not_found', `${r.id}: ${JSON.stringify(d)}`);
      leavesById.set(r.id, ok);
    }
  }

  let live = 0;
  let deleted = 0;
  for (const id of ids) {
    const leaves = leavesById.get(id) ?? [];
    const mine = acked.get(id);
    if (leaves.length === 0) {
      assert.equal(mine, undefined, `${id}: acknowledged at ${mine?.rev} but missing after the crash`);
      continue;
    }
    // The writers never create conflicts, so one leaf, and it is a write that was really sent.
    assert.equal(leaves.length, 1, `${id}: one leaf, got ${leaves.map((l) => l._rev).join(', ')}`);
    const leaf = leaves[0] as Record<string, unknown>;
    const rev = leaf._rev as string;
    const revisions = leaf._revisions as { start: number; ids: string[] };
    const history = revisions.ids.map((h, i) => `${revisions.start - i}-${h}`);
    assert.equal(history[0], rev);
    const isDeleted = leaf._deleted === true;
    const body = userFields(leaf);
    const parent = history[1] ?? null;
    const matches = (attempts.get(id) ?? []).filter((a) => a.parent === parent && a.deleted === isDeleted && JSON.stringify(a.body) === JSON.stringify(body));
    assert.ok(matches.length > 0, `${id} at ${rev}: stored body ${JSON.stringify(body)} (parent ${parent}) was never sent`);
    assert.deepEqual(body, (matches[0] as Attempt).body);
    if (mine) {
      assert.ok(history.includes(mine.rev), `${id}: acknowledged rev ${mine.rev} is not ${rev} or one of its ancestors`);
      if (rev === mine.rev) {
        assert.deepEqual(body, mine.body, `${id}: body at the acknowledged rev`);
        assert.equal(isDeleted, mine.deleted);
      }
    }
    if (isDeleted) deleted++;
    else live++;
  }

  const info = await getJson(base);
  const all = await getJson(`${base}/_all_docs?include_docs=true`);
  const rows = all.rows as { id: string; value: { rev: string }; doc: Record<string, unknown> }[];
  assert.equal(info.doc_count, live, 'doc_count = live docs found');
  assert.equal(info.doc_del_count, deleted, 'doc_del_count = deleted docs found');
  assert.equal(all.total_rows, info.doc_count, '_all_docs total_rows = doc_count');
  assert.equal(rows.length, info.doc_count, '_all_docs rows = doc_count');
  for (const row of rows) {
    assert.ok(attempts.has(row.id), `${row.id}: listed but never written`);
    const leaf = (leavesById.get(row.id) ?? [])[0];
    assert.equal(row.value.rev, leaf?._rev, `${row.id}: _all_docs rev`);
    assert.deepEqual(userFields(row.doc), userFields(leaf ?? {}), `${row.id}: _all_docs doc`);
  }

  const changes = await getJson(`${base}/_changes`);
  const results = changes.results as { id: string; seq: string; deleted?: boolean; changes: { rev: string }[] }[];
  const seen = new Set<string>();
  for (const c of results) {
    assert.ok(!seen.has(c.id), `${c.id} listed twice in _changes`);
    seen.add(c.id);
    assert.equal(c.changes[0]?.rev, (leavesById.get(c.id) ?? [])[0]?._rev, `${c.id}: _changes rev`);
  }
  assert.equal(results.length, live + deleted, '_changes lists every doc once');
  assert.equal(results.filter((c) => c.deleted).length, deleted);
  assert.equal(changes.last_seq, info.update_seq, 'last_seq = update_seq');

  // The restarted node keeps going from where it stopped.
  const resumed = await fetch(`${base}/after-restart`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"ok":1}' });
  assert.equal(resumed.status, 201);
  const info2 = await getJson(base);
  assert.equal(info2.doc_count, live + 1);
  const seqN = (seq: unknown): number => Number(/^(\d+)-/.exec(String(seq))?.[1]);
  assert.equal(seqN(info2.update_seq), seqN(info.update_seq) + 1);
});
