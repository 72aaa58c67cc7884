// Purging (CouchDB's `_purge`): taking leaf revisions out of a document's tree as if they had never
// been written. A deletion adds a tombstone that replicates; a purge leaves nothing in the tree, so
// a document whose every leaf is purged is gone from `_all_docs`, `_changes` and GET alike.
//
// The rules are couch_db_updater:purge_docs/2 and couch_key_tree:remove_leafs/2:
//   - only leaves can be purged; inner or unknown revisions are ignored (and not reported);
//   - a purged leaf takes with it every ancestor no surviving leaf still needs;
//   - a document that keeps some leaves moves to a new update sequence (CouchDB relabels each
//     surviving leaf, so the database's update_seq grows by their number) and may get a new winner;
//   - every purge request bumps update_seq at least once (so indexers notice), and `purge_seq` by one
//     per document named, whether or not anything was purged;
//   - the last `purged_infos_limit` requests are kept as purge infos ({id, revs}), as CouchDB does.
// Guarantees: one request is one LMDB transaction (all of it or nothing), acknowledged after the flush,
// and change feeds are woken after that.
//
// This file lives beside Database rather than inside it so the document write path stays untouched;
// it works on the same stores under the same key prefix and keeps the same invariants (the winner's
// body inline in `docs`, other stored bodies in `bodies`, one `seqs` row per document).

import { CouchError } from '../errors/catalog.js';
import { foldUp, formatRev, leaves, winningRev } from '../revtree/index.js';
import type { RevNode, RevTree } from '../revtree/index.js';
import type { Database } from './database.js';
import type { Key } from './environment.js';
import type { DocInfo, StoredBody } from './records.js';

/** CouchDB's default `purged_infos_limit`: how many purge requests a database remembers. */
export const DEFAULT_PURGED_INFOS_LIMIT = 1000;

export interface PurgeRequest {
  id: string;
  /** Revisions to purge, as the client gave them (already checked to be well-formed revs). */
  revs: string[];
}

export interface PurgeResult {
  id: string;
  /** The leaves actually purged, sorted by generation then hash (fabric_doc_purge's usort). */
  purged: string[];
  /** Every leaf went: the document no longer exists. */
  removed: boolean;
}

/** One remembered purge request (CouchDB's purge info, without the uuid nobody can ask for). */
export interface PurgeInfo {
  purgeSeq: number;
  id: string;
  revs: string[];
}

const metaKey = (db: Database, field: string): Key => [db.record.id, field];
const infoKey = (db: Database, purgeSeq: number): Key => [db.record.id, 'purge_info', purgeSeq];

/** The database's purge sequence: how many purge requests (one per document named) it has seen. */
export function purgeSeq(db: Database): number {
  return (db.env.stores.meta.get(metaKey(db, 'purge_seq')) as number | undefined) ?? 0;
}

export function purgedInfosLimit(db: Database): number {
  return (db.env.stores.meta.get(metaKey(db, 'purged_infos_limit')) as number | undefined) ?? DEFAULT_PURGED_INFOS_LIMIT;
}

export async function setPurgedInfosLimit(db: Database, limit: number): Promise<void> {
  if (db.dropped) throw new CouchError('db_not_found');
  await db.env.root.transaction(() => db.env.stores.meta.put(metaKey(db, 'purged_infos_limit'), limit));
  await db.env.durable();
}

/** The remembered purge requests after `since`, oldest first (at most `purged_infos_limit` exist). */
export function purgeInfosSince(db: Database, since: number): PurgeInfo[] {
  const out: PurgeInfo[] = [];
  const range = db.env.stores.meta.getRange({ start: infoKey(db, since + 1), end: infoKey(db, Number.MAX_SAFE_INTEGER) });
  for (const { key, value } of range) {
    const v = value as { id: string; revs: string[] };
    out.push({ purgeSeq: key[2] as number, id: v.id, revs: v.revs });
  }
  return out;
}

/** Applies one `_purge` request: every document in one transaction, then wakes the change feeds. */
export async function purgeDocs(db: Database, requests: readonly PurgeRequest[]): Promise<PurgeResult[]> {
  if (db.dropped) throw new CouchError('db_not_found');
  // fabric_doc_purge answers an empty request without touching the database.
  if (requests.length === 0) return [];
  const { root, stores } = db.env;
  let seqAfter = 0;
  let design = false;
  const results = await root.transaction(() => {
    const before = { ...db.counters };
    try {
      const seqAtStart = db.counters.updateSeq;
      const version = db.designVersion;
      const out = requests.map((r) => purgeOne(db, r));
      design = db.designVersion !== version;
      if (db.counters.updateSeq === seqAtStart) db.counters.updateSeq++;
      // Purged bodies leave every size: measured again (a pass over the database; purges are rare).
      db.counters.sizes = db.measureSizes();
      stores.meta.put(metaKey(db, 'counters'), db.counters);
      recordInfos(db, requests);
      db.flushPartitionStats();
      seqAfter = db.counters.updateSeq;
      return out;
    } catch (e) {
      db.counters = before;
      db.discardPartitionStats();
      throw e;
    }
  });
  db.noteCommitted(seqAfter, design);
  await db.env.durable();
  db.wake();
  return results;
}

/** Appends one purge info per request and forgets those beyond `purged_infos_limit`. */
function recordInfos(db: Database, requests: readonly PurgeRequest[]): void {
  const { meta } = db.env.stores;
  let seq = purgeSeq(db);
  for (const r of requests) meta.put(infoKey(db, ++seq), { id: r.id, revs: r.revs });
  meta.put(metaKey(db, 'purge_seq'), seq);
  const oldestKept = seq - purgedInfosLimit(db) + 1;
  if (oldestKept > 1) {
    for (const key of meta.getKeys({ start: infoKey(db, 0), end: infoKey(db, oldestKept) })) meta.remove(key);
  }
}

function purgeOne(db: Database, req: PurgeRequest): PurgeResult {
  const { stores } = db.env;
  const dbId = db.record.id;
  const key: Key = [dbId, req.id];
  const info = stores.docs.get(key) as DocInfo | undefined;
  if (!info) return { id: req.id, purged: [], removed: false };
  const cut = removeLeaves(info.tree, new Set(req.revs));
  if (cut.purged.length === 0) return { id: req.id, purged: [], removed: false };
  if (req.id.startsWith('_design/')) db.designVersion++;
  stores.seqs.remove([dbId, info.seq]);

  if (cut.tree.length === 0) {
    stores.docs.remove(key);
    // Every stored body of the document goes, including any of revisions stemmed out of the tree.
    for (const k of stores.bodies.getKeys({ start: [dbId, req.id], end: [dbId, req.id, '\uffff'] })) {
      if (k.length === 3 && k[1] === req.id) stores.bodies.remove(k);
    }
    if (info.deleted) db.counters.delCount--;
    else db.counters.docCount--;
    db.notePartitionChange(req.id, info, undefined);
    return { id: req.id, purged: cut.purged, removed: true };
  }

  for (const rev of cut.dropped) stores.bodies.remove([dbId, req.id, rev]);
  const win = winningRev(cut.tree);
  let inline: StoredBody | undefined;
  if (win.rev === info.rev) inline = info.atts ? { json: info.json, atts: info.atts } : { json: info.json };
  else {
    // The old winner was purged (a winner changes only when it is taken away): the new one's body
    // moves inline, as storeRevision keeps it.
    inline = stores.bodies.get([dbId, req.id, win.rev]) as StoredBody | undefined;
    stores.bodies.remove([dbId, req.id, win.rev]);
  }
  // CouchDB gives each surviving leaf a new sequence; the document sits at the last of them.
  db.counters.updateSeq += leaves(cut.tree).length;
  const next: DocInfo = { tree: cut.tree, rev: win.rev, deleted: win.deleted, seq: db.counters.updateSeq, json: inline?.json ?? '{}' };
  if (inline?.atts) next.atts = inline.atts;
  stores.docs.put(key, next);
  db.notePartitionChange(req.id, info, next);
  stores.seqs.put([dbId, next.seq], req.id);
  if (info.deleted !== next.deleted) {
    if (next.deleted) {
      db.counters.docCount--;
      db.counters.delCount++;
    } else {
      db.counters.delCount--;
      db.counters.docCount++;
    }
  }
  return { id: req.id, purged: cut.purged, removed: false };
}

/**
 * couch_key_tree:remove_leafs/2 (pure): drops the leaves named in `revs` and every node no
 * remaining leaf descends from. `purged` lists the leaves removed, sorted as CouchDB reports them;
 * `dropped` every revision that left the tree (leaves and the ancestors that went with them).
 * Untouched subtrees are shared with the input, which is never mutated.
 */
export function removeLeaves(tree: RevTree, revs: ReadonlySet<string>): { tree: RevTree; purged: string[]; dropped: string[] } {
  const purged: string[] = [];
  const dropped: string[] = [];
  const prune = (root: RevNode, rootPos: number): RevNode | null =>
    foldUp<RevNode | null>(root, rootPos, (node, pos, results, from) => {
      const rev = formatRev(pos, node.hash);
      if (node.children.length === 0) {
        if (!revs.has(rev)) return node;
        purged.push(rev);
        dropped.push(rev);
        return null;
      }
      let changed = false;
      const kept: RevNode[] = [];
      for (let i = 0; i < node.children.length; i++) {
        const k = results[from + i]!;
        if (k !== node.children[i]) changed = true;
        if (k) kept.push(k);
      }
      if (kept.length === 0) {
        dropped.push(rev);
        return null;
      }
      return changed ? { ...node, children: kept } : node;
    });
  const out: RevTree = [];
  for (const branch of tree) {
    const node = prune(branch.node, branch.pos);
    if (node) out.push(node === branch.node ? branch : { pos: branch.pos, node });
  }
  purged.sort(compareRevs);
  return { tree: purged.length === 0 ? tree : out, purged, dropped };
}

/** Generation first, then the hash as bytes: the order of CouchDB's `{Pos, RevId}` terms. */
function compareRevs(a: string, b: string): number {
  const pa = Number(a.slice(0, a.indexOf('-')));
  const pb = Number(b.slice(0, b.indexOf('-')));
  if (pa !== pb) return pa - pb;
  const ha = a.slice(a.indexOf('-') + 1);
  const hb = b.slice(b.indexOf('-') + 1);
  return ha < hb ? -1 : ha > hb ? 1 : 0;
}
