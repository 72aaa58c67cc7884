// One Chaise database: documents with revision trees, bodies, the by-sequence index, `_local`
// docs and attachments, all under this database's key prefix in the node's LMDB environment.
//
// Writes: every request's edits run inside one lmdb-js batched transaction (so concurrent requests
// share a commit), the answer waits for the flush (`durable()`), and only then are change
// listeners woken. Reads are synchronous memory-mapped lookups and never block writers.

import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { CouchError } from '../errors/catalog.js';
import {
  merge,
  parseRev,
  winningRev,
  leaves,
  findRev,
  newRevHash,
  pathFromRevisions,
  markCompacted,
} from '../revtree/index.js';
import type { RevPath, RevTree } from '../revtree/index.js';
import type { ParsedDoc } from '../docs/parse-doc.js';
import { identityBytes, type AttEncoding, type AttMap, type AttStub } from '../docs/attachments.js';
import type { Environment, DbRecord, Key } from './environment.js';
import type { DocHeader } from './doc-info-codec.js';
import { hasAttachments, likelyHashOf, type HashJob } from './rev-hasher.js';
import { partitionOf, validatePartitionedDocId } from '../partitions/partition.js';
import {
  DEFAULT_REVS_LIMIT,
  DEFAULT_SECURITY,
  type DbCounters,
  type DbSizes,
  type DocInfo,
  type PartitionStats,
  type LocalDoc,
  type SecurityObject,
  type StoredBody,
} from './records.js';
import { SeqCodec, seqSuffix } from '../changes/seq.js';

/** The result of one edit, in `_bulk_docs` order. `null` = a replicated edit we already had. */
export type EditResult = { ok: true; id: string; rev: string } | { id: string; rev?: string; error: string; reason: string } | null;

export interface Edit {
  id: string;
  doc: ParsedDoc;
}

export interface ChangeRow {
  seq: number;
  id: string;
  info: DocInfo;
}

type Listener = (seq: number) => void;

/** Settings of the node that a database's writes obey; the node keeps one object, so changes apply at once. */
export interface StoreSettings {
  /** CouchDB's `[couchdb] max_partition_size`: a partition at this many external bytes takes no growth. */
  maxPartitionBytes: number;
}

/** CouchDB's default `max_partition_size`: 10 GiB. */
export const DEFAULT_MAX_PARTITION_BYTES = 10 * 1024 * 1024 * 1024;

const SEQ_MAX = Number.MAX_SAFE_INTEGER;

/**
 * `meta` field: the update seq a database had when its node was upgraded from integer sequences
 * (set once by Catalog at start-up); bare integers up to it are checkpoints an earlier version issued.
 */
export const LEGACY_SEQ_MAX = 'legacy_seq_max';

/**
 * Edits per write transaction: a 1000-doc `_bulk_docs` is one transaction (each commit costs
 * lmdb-js a writer-thread handshake), a bigger request several, so the writer commits one chunk
 * while the next is hashed.
 */
const WRITE_CHUNK_EDITS = 1000;

/** Chunks of at least this many edits look their ids up with one range read (see absentDocs). */
const ABSENT_SCAN_EDITS_MIN = 64;
/** absentDocs gives up when the ids' range holds more stored docs than this many per edit. */
const ABSENT_SCAN_STORED_PER_EDIT_MAX = 2;

/** Writes of at least this many edits hash on the worker thread too; below, the round trip costs more than it saves. */
const OFFLOAD_EDITS_MIN = 100;
/** The part of a large write's hashes the main thread makes while the worker makes the rest. */
const MAIN_THREAD_HASH_SHARE = 0.4;

/**
 * An edit's new rev hash, computed before its transaction for the parent the edit names (`_rev`,
 * or none): that is the parent whenever the edit succeeds, except when it re-creates a deleted
 * document. Edits with attachments hash the stored stubs, so they are hashed in the transaction
 * (applyEdit uses a likely hash only when the parent matches and the edit has no attachments).
 * A hash made ahead (ParsedDoc.revHash) is used while the doc is still what it was made from.
 */
function likelyRevHash(edit: Edit): string | undefined {
  return knownRevHash(edit) ?? likelyHashOf(edit.doc);
}

function knownRevHash({ doc }: Edit): string | undefined {
  const h = doc.revHash;
  return h !== undefined && h.json === doc.json && h.parentRev === (doc.rev ?? null) && h.deleted === doc.deleted && !hasAttachments(doc) ? h.hash : undefined;
}

/** likelyRevHash's input for the worker; `json` is `body` serialized (ParsedDoc keeps them equal). */
function hashJob(edit: Edit): HashJob {
  return { parentRev: edit.doc.rev ?? null, deleted: edit.doc.deleted, json: edit.doc.json };
}

/** Where an attachment's bytes live: identity bytes under their digest, gzipped ones apart. */
function attKey(dbId: number, digest: string, encoding: AttEncoding | undefined): Key {
  return encoding === 'gzip' ? [dbId, digest, 'gzip'] : [dbId, digest];
}

/** A stub in CouchDB's member order. */
function makeStub(contentType: string, revpos: number, digest: string, length: number, encoding: AttEncoding, encodedLength: number): AttStub {
  const stub: AttStub = { content_type: contentType, revpos, digest, length, stub: true };
  if (encoding === 'gzip') {
    stub.encoding = 'gzip';
    stub.encoded_length = encodedLength;
  }
  return stub;
}

export class Database {
  readonly name: string;
  readonly record: DbRecord;
  readonly env: Environment;
  private readonly dbId: number;
  counters: DbCounters;
  private committed: number;
  revsLimit: number;
  security: SecurityObject;
  private readonly listeners = new Set<Listener>();
  /** Bumped whenever a design document is written (caches of design docs compare it). */
  designVersion = 0;
  /** Set when the database is deleted, so lingering requests and feeds stop. */
  dropped = false;
  /** How this database's sequences look on the wire (`N-<suffix>`) and how `since` is read back. */
  readonly seq: SeqCodec;

  /** Every document id is `partition:id`; partition counters are kept (CouchDB's partitioned database). */
  readonly partitioned: boolean;
  private readonly settings: StoreSettings;
  /** Partition counters changed by the transaction being applied, written at its end. */
  private partitionsTouched: Map<string, PartitionStats> | null = null;

  constructor(env: Environment, name: string, record: DbRecord, nodeUuid: string, settings: StoreSettings = { maxPartitionBytes: DEFAULT_MAX_PARTITION_BYTES }) {
    this.env = env;
    this.name = name;
    this.record = record;
    this.partitioned = record.partitioned === true;
    this.settings = settings;
    this.dbId = record.id;
    const meta = env.stores.meta;
    this.counters = (meta.get([this.dbId, 'counters']) as DbCounters | undefined) ?? { updateSeq: 0, docCount: 0, delCount: 0, sizes: { file: 0, active: 0, external: 0 } };
    this.committed = this.counters.updateSeq;
    this.revsLimit = (meta.get([this.dbId, 'revs_limit']) as number | undefined) ?? DEFAULT_REVS_LIMIT;
    this.security = (meta.get([this.dbId, 'security']) as SecurityObject | undefined) ?? DEFAULT_SECURITY;
    this.seq = new SeqCodec(seqSuffix(nodeUuid, record.uuid), meta.get([this.dbId, LEGACY_SEQ_MAX]) as number | undefined);
  }

  /**
   * The update seq of the last committed transaction: everything at or below it can be read.
   * `counters.updateSeq` runs ahead of it while a transaction is applied but not yet committed,
   * so feeds, view updates and `GET /db` use this one; a reader told of seq N then finds all of
   * 1..N (else a view update or a replicator could step over a change still in flight).
   */
  get updateSeq(): number {
    return this.committed;
  }

  /**
   * Called once a transaction that brought the seq to `seq` has committed. `designWritten`: it
   * wrote a `_design/` doc. `designVersion` moved when that write was applied, but a reader between
   * apply and commit still saw the old design docs (and may have cached them under the new
   * version), so it moves again now that the write is visible.
   */
  noteCommitted(seq: number, designWritten = false): void {
    if (seq > this.committed) this.committed = seq;
    if (designWritten) this.designVersion++;
  }

  // ---- change notification ----------------------------------------------------------------

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Wakes every listener, e.g. so feeds notice the database was deleted. */
  wake(): void {
    this.notify();
  }

  private notify(): void {
    const seq = this.committed;
    for (const l of [...this.listeners]) l(seq);
  }

  // ---- reads ------------------------------------------------------------------------------

  docInfo(id: string): DocInfo | undefined {
    return this.env.stores.docs.get([this.dbId, id]) as DocInfo | undefined;
  }

  /** A stored revision's body: the winner's is inline in `info`, the others are in `bodies`. */
  body(id: string, rev: string, info: DocInfo | undefined = this.docInfo(id)): StoredBody | undefined {
    this.env.stats.reads++;
    if (info && info.rev === rev) return info.atts ? { json: info.json, atts: info.atts } : { json: info.json };
    return this.env.stores.bodies.get([this.dbId, id, rev]) as StoredBody | undefined;
  }

  /** The stored bytes of a digest, in whichever form they are kept (for maintenance and tests). */
  attachment(digest: string): Buffer | undefined {
    const { atts } = this.env.stores;
    return atts.get([this.dbId, digest]) ?? atts.get([this.dbId, digest, 'gzip']);
  }

  /** An attachment's bytes as stored: gzip when `stub.encoding` says so. */
  storedAttachment(stub: AttStub): Buffer | undefined {
    return this.env.stores.atts.get(attKey(this.dbId, stub.digest, stub.encoding));
  }

  /** An attachment's own (identity) bytes. */
  attachmentData(stub: AttStub): Buffer | undefined {
    const stored = this.storedAttachment(stub);
    return stored && identityBytes(stored, stub);
  }

  /** Rows of the by-sequence index after `since`, each document once at its latest change. */
  *changes(since: number, descending = false): Generator<ChangeRow> {
    const { seqs, docs } = this.env.stores;
    const range = descending
      ? seqs.getRange({ start: [this.dbId, SEQ_MAX], end: [this.dbId, since], reverse: true })
      : seqs.getRange({ start: [this.dbId, since + 1], end: [this.dbId, SEQ_MAX] });
    for (const { key, value } of range) {
      const seq = key[1] as number;
      const info = docs.get([this.dbId, value]) as DocInfo | undefined;
      if (info) yield { seq, id: value, info };
    }
  }

  /**
   * As `changes`, reading only each document's header (winning rev and deleted flag) and leaving
   * its tree and body undecoded: what a plain `_changes` row shows. A full read of a big feed
   * spent a quarter of its time collecting the bodies `changes` decodes.
   */
  *changeHeaders(since: number, descending = false): Generator<{ seq: number; id: string; header: DocHeader }> {
    const { seqs, docHeaders } = this.env.stores;
    const range = descending
      ? seqs.getRange({ start: [this.dbId, SEQ_MAX], end: [this.dbId, since], reverse: true })
      : seqs.getRange({ start: [this.dbId, since + 1], end: [this.dbId, SEQ_MAX] });
    for (const { key, value } of range) {
      const header = docHeaders.get([this.dbId, value]);
      if (header) yield { seq: key[1] as number, id: value, header };
    }
  }

  /** How many documents changed after `seq` (CouchDB's `pending`). */
  countChangesAfter(seq: number): number {
    return this.env.stores.seqs.getKeysCount({ start: [this.dbId, seq + 1], end: [this.dbId, SEQ_MAX] });
  }

  /** Every document, tombstones included, in raw id order (for maintenance scans). */
  *docRange(): Generator<{ id: string; info: DocInfo }> {
    for (const { key, value } of this.env.stores.docs.getRange({ start: [this.dbId], end: [this.dbId + 1] })) {
      yield { id: key[1] as string, info: value as DocInfo };
    }
  }

  /**
   * Live (not deleted) documents in raw UTF-8 byte order of ids, as `_all_docs` lists them.
   * `start` is inclusive; `end` is exclusive unless `inclusiveEnd`, in the direction of travel;
   * `offset` live documents are skipped first. Tombstones are passed over as CouchDB's id-tree
   * fold does, reading only each row's header.
   */
  *liveRange(opts: { start?: string; end?: string; descending?: boolean; inclusiveEnd?: boolean; offset?: number }): Generator<{ id: string; rev: string }> {
    const p = this.dbId;
    const desc = opts.descending === true;
    const from: Key = opts.start !== undefined ? [p, opts.start] : desc ? [p + 1] : [p];
    let to: Key = opts.end !== undefined ? [p, opts.end] : desc ? [p] : [p + 1];
    // lmdb ranges exclude `end`; a following key makes the bound inclusive ('\0' is the next string in byte order).
    if (opts.end !== undefined && opts.inclusiveEnd !== false && !desc) to = [p, opts.end + '\u0000'];
    let skip = opts.offset ?? 0;
    const headers = this.env.stores.docHeaders;
    for (const { key, value } of headers.getRange({ start: from, end: to, reverse: desc })) {
      if (value.deleted) continue;
      if (skip > 0) skip--;
      else yield { id: key[1] as string, rev: value.rev };
    }
    if (desc && opts.end !== undefined && opts.inclusiveEnd !== false && (opts.start === undefined || opts.end <= opts.start)) {
      const last = headers.get([p, opts.end]);
      if (last !== undefined && !last.deleted) {
        if (skip > 0) skip--;
        else yield { id: opts.end, rev: last.rev };
      }
    }
  }

  /** How many live documents have ids in [from, to) (raw order): a walk over those rows' headers. */
  liveCountBetween(from: string, to: string): number {
    let n = 0;
    for (const { value } of this.env.stores.docHeaders.getRange({ start: [this.dbId, from], end: [this.dbId, to] })) if (!value.deleted) n++;
    return n;
  }

  /** How many live documents sort before `id` (CouchDB's `offset`): a walk over row headers. */
  liveCountBefore(id: string | undefined, descending: boolean): number {
    const p = this.dbId;
    if (id === undefined) return 0;
    const range = descending ? { start: [p, id + '\u0000'], end: [p + 1] } : { start: [p], end: [p, id] };
    let n = 0;
    for (const { value } of this.env.stores.docHeaders.getRange(range)) if (!value.deleted) n++;
    return n;
  }

  // ---- document writes --------------------------------------------------------------------

  /**
   * Applies edits in order. With `newEdits`, each edit must name the leaf it replaces (or create
   * the doc); without, each edit's `_revisions` path is merged into the tree.
   *
   * Large requests are applied in chunks of WRITE_CHUNK_EDITS, one transaction each; their rev
   * hashes are made ahead of the transactions, partly on the RevHasher's worker thread (small
   * writes hash inline). Like CouchDB's `_bulk_docs`, a request is not atomic; each edit is.
   * The answer waits until every chunk is on disk.
   */
  async write(edits: Edit[], newEdits: boolean): Promise<EditResult[]> {
    this.assertLive();
    // CouchDB checks every id before any edit is applied: one bad id fails the whole request.
    if (this.partitioned) for (const e of edits) validatePartitionedDocId(e.id);
    const seqBefore = this.counters.updateSeq;
    const results: EditResult[] = [];
    // Large writes whose hashes were not started ahead (`_bulk_docs` starts them) hash on both
    // threads, ahead of the transactions.
    const offload = newEdits && edits.length >= OFFLOAD_EDITS_MIN && edits.some((e) => e.doc.revHash === undefined);
    if (edits.length <= WRITE_CHUNK_EDITS && !offload) {
      // One transaction, hashes made in it: most requests (a single-doc PUT is one edit).
      let seqAfter = 0;
      let design = false;
      await this.env.root.transaction(() => {
        const version = this.designVersion;
        this.applyChunk(edits, newEdits, undefined, results);
        seqAfter = this.counters.updateSeq;
        design = this.designVersion !== version;
      });
      this.noteCommitted(seqAfter, design);
    } else {
      await this.writeChunks(edits, newEdits, offload, results);
    }
    await this.env.durable();
    // Replicated edits answer null, so compare sequences: any stored change wakes the feeds.
    if (this.counters.updateSeq !== seqBefore) {
      this.env.stats.dbWrites++;
      this.notify();
    }
    return results;
  }

  /**
   * A large write in chunks of WRITE_CHUNK_EDITS, one transaction each, the next chunk prepared
   * while the writer commits this one. With `offload`, the worker hashes the tail of each chunk
   * while the main thread hashes the head (the worker also parses, so it gets a bit less).
   */
  private async writeChunks(edits: Edit[], newEdits: boolean, offload: boolean, results: EditResult[]): Promise<void> {
    const chunks: Edit[][] = [];
    for (let from = 0; from < edits.length; from += WRITE_CHUNK_EDITS) chunks.push(edits.slice(from, from + WRITE_CHUNK_EDITS));
    const heads = chunks.map((c) => Math.floor(c.length * MAIN_THREAD_HASH_SHARE));
    const tails = offload ? chunks.map((c, k) => this.env.hasher.hash(c.slice(heads[k]).map(hashJob))) : undefined;
    const commits: Promise<unknown>[] = [];
    for (let k = 0; k < chunks.length; k++) {
      const chunk = chunks[k] as Edit[];
      let hashes: (string | undefined)[] | undefined;
      if (tails) {
        const head = chunk.slice(0, heads[k]).map(likelyRevHash);
        const tail = (await tails[k]) ?? chunk.slice(heads[k]).map(likelyRevHash);
        hashes = head.concat(tail);
      }
      let applied!: () => void;
      const ran = new Promise<void>((resolve) => (applied = resolve));
      let seqAfter = 0;
      let design = false;
      const commit = this.env.root.transaction(() => {
        const version = this.designVersion;
        try {
          this.applyChunk(chunk, newEdits, hashes, results);
          seqAfter = this.counters.updateSeq;
        } finally {
          design = this.designVersion !== version;
          applied();
        }
      });
      commits.push(commit.then(() => this.noteCommitted(seqAfter, design)));
      // Wait until this chunk's edits are applied (not committed), then prepare the next one.
      await Promise.race([ran, commit]);
    }
    await Promise.all(commits);
  }

  /** Runs inside a write transaction. */
  private applyChunk(chunk: Edit[], newEdits: boolean, hashes: (string | undefined)[] | undefined, out: EditResult[]): void {
    // Data written before sizes were kept is measured once, before this chunk changes it.
    this.counters.sizes ??= this.measureSizes();
    const before = { ...this.counters, sizes: { ...this.counters.sizes } };
    try {
      const absent = this.absentDocs(chunk);
      for (let i = 0; i < chunk.length; i++) {
        const edit = chunk[i] as Edit;
        out.push(this.applyEdit(edit, newEdits, hashes?.[i], absent?.has(edit.id) === true));
        // The doc may exist now: a later edit of the same id in this chunk reads it.
        absent?.delete(edit.id);
      }
      this.env.stores.meta.put([this.dbId, 'counters'], this.counters);
      this.flushPartitionStats();
    } catch (e) {
      this.counters = before;
      this.discardPartitionStats();
      throw e;
    }
  }

  // ---- partitions -------------------------------------------------------------------------

  /** A partition's counters as of the transaction being applied (or the last commit, outside one). */
  partitionStats(partition: string): PartitionStats {
    const touched = this.partitionsTouched?.get(partition);
    if (touched) return touched;
    const stored = this.env.stores.meta.get([this.dbId, 'partition', partition]) as PartitionStats | undefined;
    return stored ? { ...stored } : { docCount: 0, delCount: 0, external: 0 };
  }

  /**
   * Moves a document's contribution to its partition's counters from `old` to `next` (either may
   * be absent). Runs inside a write transaction; flushPartitionStats() writes the result.
   */
  notePartitionChange(id: string, old: DocInfo | undefined, next: DocInfo | undefined): void {
    if (!this.partitioned) return;
    const p = partitionOf(id);
    if (p === undefined) return;
    const stats = this.partitionStats(p);
    if (old) {
      if (old.deleted) stats.delCount--;
      else stats.docCount--;
      stats.external -= externalSize(old);
    }
    if (next) {
      if (next.deleted) stats.delCount++;
      else stats.docCount++;
      stats.external += externalSize(next);
    }
    (this.partitionsTouched ??= new Map()).set(p, stats);
  }

  /** Writes the partition counters the current transaction changed. */
  flushPartitionStats(): void {
    const touched = this.partitionsTouched;
    if (!touched) return;
    this.partitionsTouched = null;
    for (const [p, stats] of touched) {
      if (stats.docCount === 0 && stats.delCount === 0) this.env.stores.meta.remove([this.dbId, 'partition', p]);
      else this.env.stores.meta.put([this.dbId, 'partition', p], stats);
    }
  }

  /** Forgets the partition counters of a transaction that failed. */
  discardPartitionStats(): void {
    this.partitionsTouched = null;
  }

  /**
   * CouchDB's partition size limit: a partition already holding `max_partition_size` external
   * bytes refuses edits that would make it bigger (deletes and shrinking updates still pass, as
   * do replicated edits and design documents).
   */
  private partitionOverflow(id: string, old: DocInfo | undefined, doc: ParsedDoc): boolean {
    const p = partitionOf(id);
    if (p === undefined) return false;
    const stats = this.partitionStats(p);
    if (stats.external < this.settings.maxPartitionBytes) return false;
    const grows = (doc.deleted ? 0 : doc.json.length) > (old && !old.deleted ? old.json.length : 0);
    return grows;
  }

  /**
   * The ids of a large chunk that name no document yet, found with one read of the ids' key range
   * instead of a B-tree descent per id (new docs usually have ids past or between the stored
   * ones). Runs in the write transaction. Undefined when that is not cheap or not exact: small
   * chunks, ids outside printable ASCII (whose JavaScript order may differ from the keys'), or a
   * range holding many stored docs.
   */
  private absentDocs(chunk: readonly Edit[]): Set<string> | undefined {
    if (chunk.length < ABSENT_SCAN_EDITS_MIN) return undefined;
    let min = (chunk[0] as Edit).id;
    let max = min;
    for (const { id } of chunk) {
      for (let i = 0; i < id.length; i++) {
        const c = id.charCodeAt(i);
        if (c < 0x20 || c > 0x7e) return undefined;
      }
      if (id < min) min = id;
      else if (id > max) max = id;
    }
    const limit = chunk.length * ABSENT_SCAN_STORED_PER_EDIT_MAX;
    const stored = new Set<string>();
    for (const key of this.env.stores.docs.getKeys({ start: [this.dbId, min], end: [this.dbId, max], inclusiveEnd: true, limit: limit + 1 })) {
      if (stored.size >= limit) return undefined;
      stored.add((key as Key)[1] as string);
    }
    const absent = new Set<string>();
    for (const { id } of chunk) if (!stored.has(id)) absent.add(id);
    return absent;
  }

  /**
   * `likelyHash` is the edit's rev hash if computed beforehand for the parent it names (see
   * likelyRevHash); `absent` says the doc is known not to exist (see absentDocs).
   */
  private applyEdit(edit: Edit, newEdits: boolean, likelyHash?: string, absent = false): EditResult {
    const { stores } = this.env;
    const { id, doc } = edit;
    const key: Key = [this.dbId, id];
    const info = absent ? undefined : (stores.docs.get(key) as DocInfo | undefined);
    const tree: RevTree = info?.tree ?? [];
    let path: RevPath;
    let newRev: string;
    let newPos: number;
    let parentRev: string | null = null;

    if (newEdits) {
      if (this.partitioned && this.partitionOverflow(id, info, doc)) {
        return { id, error: 'partition_overflow', reason: `Partition limit exceeded due to update on '${id}'` };
      }
      let parent: { pos: number; hash: string } | null = null;
      if (doc.rev !== undefined) {
        const r = parseRev(doc.rev);
        if (!r) return { id, error: 'bad_request', reason: 'Invalid rev format' };
        const found = info ? findRev(tree, r) : null;
        if (!found || !found.isLeaf) return { id, error: 'conflict', reason: 'Document update conflict.' };
        parent = r;
      } else if (info) {
        if (!info.deleted) return { id, error: 'conflict', reason: 'Document update conflict.' };
        parent = parseRev(info.rev);
      }
      newPos = parent ? parent.pos + 1 : 1;
      parentRev = parent ? `${parent.pos}-${parent.hash}` : null;
      const atts = this.resolveAttachments(id, doc, newPos, parentRev, false);
      if ('error' in atts) return atts.error;
      const likely = parentRev === (doc.rev ?? null) && !hasAttachments(doc) ? (likelyHash ?? likelyRevHash(edit)) : undefined;
      const hash =
        likely ??
        newRevHash({
          parentRev,
          deleted: doc.deleted,
          body: doc.body,
          attachmentDigests: Object.entries(atts.map).map(([n, a]) => [n, a.content_type, a.digest] as [string, string, string]),
        });
      newRev = `${newPos}-${hash}`;
      path = parent
        ? { pos: parent.pos, hashes: [parent.hash, hash], leafDeleted: doc.deleted, leafAvailable: true }
        : { pos: 1, hashes: [hash], leafDeleted: doc.deleted, leafAvailable: true };
      const merged = merge(tree, path, this.revsLimit);
      if (merged.outcome === 'internal_node') return { id, error: 'conflict', reason: 'Document update conflict.' };
      this.storeRevision(key, id, newRev, doc, atts.map, info, merged.tree, parentRev);
      return { ok: true, id, rev: newRev };
    }

    // Replicated edit: merge the given history.
    const r = doc.rev === undefined ? null : parseRev(doc.rev);
    if (!r && !doc.revisions) return { id, error: 'bad_request', reason: 'Invalid rev format' };
    if (doc.revisions) {
      // CouchDB trusts `_revisions` over `_rev` when both are given.
      path = pathFromRevisions(doc.revisions, doc.deleted, true);
    } else {
      const single = r as { pos: number; hash: string };
      path = { pos: single.pos, hashes: [single.hash], leafDeleted: doc.deleted, leafAvailable: true };
    }
    newRev = `${path.pos + path.hashes.length - 1}-${path.hashes[path.hashes.length - 1] as string}`;
    const leafRev = parseRev(newRev) as { pos: number; hash: string };
    const existing = info ? findRev(tree, leafRev) : null;
    if (existing && existing.available) return null;
    const ancestorRevs = path.hashes.slice(0, -1).map((h, i) => `${path.pos + i}-${h}`).reverse();
    const atts = this.resolveAttachments(id, doc, leafRev.pos, ancestorRevs, true);
    if ('error' in atts) return atts.error;
    const merged = merge(tree, path, this.revsLimit);
    if (!merged.changed) return null;
    this.storeRevision(key, id, newRev, doc, atts.map, info, merged.tree);
    return null;
  }

  /**
   * Turns incoming `_attachments` into stored stubs: new data is stored by digest, stubs are
   * carried from the parent revision (by name) or accepted by digest when we hold those bytes.
   */
  private resolveAttachments(
    id: string,
    doc: ParsedDoc,
    newPos: number,
    parents: string | null | string[],
    replicated: boolean,
  ): { map: AttMap } | { error: EditResult } {
    const map: AttMap = {};
    if (!doc.attachments || doc.attachments.length === 0) return { map };
    const { atts } = this.env.stores;
    let parentAtts: AttMap | undefined;
    const candidates = parents === null ? [] : typeof parents === 'string' ? [parents] : parents;
    const current = this.env.stores.docs.get([this.dbId, id]) as DocInfo | undefined;
    for (const rev of candidates) {
      const b = this.body(id, rev, current);
      if (b) {
        parentAtts = b.atts;
        break;
      }
    }
    for (const att of doc.attachments) {
      if (att.kind === 'data') {
        const k = attKey(this.dbId, att.digest, att.encoding);
        if (!atts.doesExist(k)) atts.put(k, att.bytes);
        const revpos = replicated && att.revpos !== undefined && att.revpos <= newPos ? att.revpos : newPos;
        map[att.name] = makeStub(att.contentType, revpos, att.digest, att.length, att.encoding, att.bytes.length);
        continue;
      }
      const prev = parentAtts?.[att.name];
      // couch_att:merge_stubs: a stub that names a revpos must name the stored one's (COUCHDB-809).
      if (prev && (att.digest === undefined || att.digest === prev.digest) && (att.revpos === undefined || att.revpos === prev.revpos)) {
        map[att.name] = prev;
        continue;
      }
      // A stub naming bytes this database holds (under either form) by digest.
      const encoding = att.digest === undefined ? undefined : atts.doesExist([this.dbId, att.digest]) ? 'identity' : atts.doesExist(attKey(this.dbId, att.digest, 'gzip')) ? 'gzip' : undefined;
      if (att.digest !== undefined && encoding !== undefined) {
        const stored = atts.get(attKey(this.dbId, att.digest, encoding)) as Buffer;
        const length = att.length ?? (encoding === 'gzip' ? gunzipSync(stored).length : stored.length);
        map[att.name] = makeStub(att.contentType ?? 'application/octet-stream', att.revpos ?? newPos, att.digest, length, encoding, stored.length);
        continue;
      }
      return { error: { id, error: 'missing_stub', reason: `Invalid attachment stub in ${id} for ${att.name}` } };
    }
    return { map };
  }

  /**
   * `replacedLeaf`: the leaf the new revision extends (an interactive edit's parent), null for
   * none; undefined when unknown (a replicated edit), so the trees' leaves are compared.
   */
  private storeRevision(key: Key, id: string, rev: string, doc: ParsedDoc, atts: AttMap, old: DocInfo | undefined, tree: RevTree, replacedLeaf?: string | null): void {
    const { stores } = this.env;
    this.env.stats.docWrites++;
    if (!old) this.env.stats.inserts++;
    const body: StoredBody = Object.keys(atts).length > 0 ? { json: doc.json, atts } : { json: doc.json };
    const win = winningRev(tree);
    // Keep the invariant: the winner's body is inline in `docs`, every other stored body in `bodies`.
    let inline: StoredBody | undefined;
    if (win.rev === rev) inline = body;
    else {
      stores.bodies.put([this.dbId, id, rev], body);
      if (old && win.rev === old.rev) inline = old.atts ? { json: old.json, atts: old.atts } : { json: old.json };
      else {
        inline = stores.bodies.get([this.dbId, id, win.rev]) as StoredBody | undefined;
        if (inline) stores.bodies.remove([this.dbId, id, win.rev]);
      }
    }
    if (old && old.rev !== win.rev) stores.bodies.put([this.dbId, id, old.rev], old.atts ? { json: old.json, atts: old.atts } : { json: old.json });
    if (id.startsWith('_design/')) this.designVersion++;
    const seq = ++this.counters.updateSeq;
    const info: DocInfo = { tree, rev: win.rev, deleted: win.deleted, seq, json: inline?.json ?? '{}' };
    if (inline?.atts) info.atts = inline.atts;
    stores.docs.put(key, info);
    this.noteSizes(id, rev, body, old, info, replacedLeaf);
    if (this.partitioned) this.notePartitionChange(id, old, info);
    if (old) stores.seqs.remove([this.dbId, old.seq]);
    stores.seqs.put([this.dbId, seq], id);
    if (old) {
      if (old.deleted) this.counters.delCount--;
      else this.counters.docCount--;
    }
    if (info.deleted) this.counters.delCount++;
    else this.counters.docCount++;
  }

  // ---- sizes ------------------------------------------------------------------------------

  /** Db info `sizes` (see DbSizes), measured once for data written before they were kept. */
  sizes(): DbSizes {
    return { ...(this.counters.sizes ??= this.measureSizes()) };
  }

  /** Moves `sizes` by one stored revision: `body` is new, `replacedLeaf`'s body stops being a leaf's. */
  private noteSizes(id: string, rev: string, body: StoredBody, old: DocInfo | undefined, next: DocInfo, replacedLeaf: string | null | undefined): void {
    const sizes = this.counters.sizes as DbSizes; // set by applyChunk
    const added = storedSize(body);
    sizes.file += added;
    sizes.active += added;
    sizes.external += externalSize(next) - (old ? externalSize(old) : 0);
    if (!old) return;
    let gone: string[];
    if (replacedLeaf !== undefined) gone = replacedLeaf === null ? [] : [replacedLeaf];
    else {
      // A replicated edit: the old leaves that are not leaves now (or are this revision, whose body was missing).
      gone = [];
      for (const leaf of leaves(old.tree)) {
        const now = leaf.rev === rev ? null : findRev(next.tree, leaf);
        if (now === null || !now.isLeaf) gone.push(leaf.rev);
      }
    }
    for (const r of gone) {
      const before = r === old.rev ? old : (this.env.stores.bodies.get([this.dbId, id, r]) as StoredBody | undefined);
      if (before) sizes.active -= storedSize(before);
    }
  }

  /** `sizes` measured from what is stored: one pass over the database's documents and bodies. */
  measureSizes(): DbSizes {
    const sizes: DbSizes = { file: 0, active: 0, external: 0 };
    for (const { id, info } of this.docRange()) {
      sizes.file += storedSize(info);
      sizes.external += externalSize(info);
      for (const leaf of leaves(info.tree)) {
        const body = this.body(id, leaf.rev, info);
        if (body) sizes.active += storedSize(body);
      }
    }
    for (const { value } of this.env.stores.bodies.getRange({ start: [this.dbId], end: [this.dbId + 1] })) sizes.file += storedSize(value as StoredBody);
    return sizes;
  }

  /** Measures `sizes` again (after compaction or a purge took bodies away), in a write transaction. */
  async remeasureSizes(): Promise<void> {
    await this.env.root.transaction(() => {
      this.counters.sizes = this.measureSizes();
      this.env.stores.meta.put([this.dbId, 'counters'], this.counters);
    });
    await this.env.durable();
  }

  // ---- _local docs ------------------------------------------------------------------------

  /** Every `_local` document, in raw id order. */
  localDocs(): { id: string; doc: LocalDoc }[] {
    const out: { id: string; doc: LocalDoc }[] = [];
    for (const { key, value } of this.env.stores.local.getRange({ start: [this.dbId], end: [this.dbId + 1] })) {
      out.push({ id: key[1] as string, doc: value as LocalDoc });
    }
    return out;
  }

  localDoc(id: string): LocalDoc | undefined {
    return this.env.stores.local.get([this.dbId, id]) as LocalDoc | undefined;
  }

  /**
   * CouchDB 3 keeps no history for `_local` docs: the new revision is the given `0-N` plus one,
   * whatever is stored (see the fixture "local doc update with stale rev").
   */
  async putLocal(id: string, doc: ParsedDoc): Promise<string> {
    this.assertLive();
    this.env.stats.localWrites++;
    let n = 0;
    if (doc.rev !== undefined) {
      const m = /^0-(\d+)$/.exec(doc.rev);
      if (!m) throw new CouchError('invalid_rev');
      n = Number(m[1]);
    }
    const key: Key = [this.dbId, id];
    if (doc.deleted) {
      await this.env.root.transaction(() => this.env.stores.local.remove(key));
      await this.env.durable();
      return '0-0';
    }
    const rev = n + 1;
    await this.env.root.transaction(() => this.env.stores.local.put(key, { rev, json: doc.json } satisfies LocalDoc));
    await this.env.durable();
    return `0-${rev}`;
  }

  async deleteLocal(id: string): Promise<boolean> {
    this.assertLive();
    this.env.stats.localWrites++;
    const key: Key = [this.dbId, id];
    const existed = await this.env.root.transaction(() => {
      if (!this.env.stores.local.doesExist(key)) return false;
      this.env.stores.local.remove(key);
      return true;
    });
    await this.env.durable();
    return existed;
  }

  // ---- database properties ----------------------------------------------------------------

  async setRevsLimit(limit: number): Promise<void> {
    this.assertLive();
    this.revsLimit = limit;
    await this.env.stores.meta.put([this.dbId, 'revs_limit'], limit);
    await this.env.durable();
  }

  async setSecurity(sec: SecurityObject): Promise<void> {
    this.assertLive();
    this.security = sec;
    await this.env.stores.meta.put([this.dbId, 'security'], sec);
    await this.env.durable();
  }

  /** Compactions under way: db info's `compact_running`, which clients poll after the 202 (CouchDB's own tests do). */
  compactionsRunning = 0;

  /** Drops the bodies of revisions that are no longer leaves (CouchDB's compaction result) and attachments nothing refers to. */
  async compact(): Promise<void> {
    this.assertLive();
    this.compactionsRunning++;
    try {
      await this.compactNow();
    } finally {
      this.compactionsRunning--;
    }
  }

  private async compactNow(): Promise<void> {
    const { docs, bodies } = this.env.stores;
    const BATCH = 1000;
    let batch: { id: string; info: DocInfo }[] = [];
    const flush = async (items: { id: string; info: DocInfo }[]) => {
      await this.env.root.transaction(() => {
        for (const { id } of items) {
          const info = docs.get([this.dbId, id]) as DocInfo | undefined;
          if (!info) continue;
          // `bodies` keeps the leaves other than the winner (whose body is inline).
          const keep = new Set(leaves(info.tree).map((l) => l.rev).filter((r) => r !== info.rev));
          for (const key of bodies.getKeys({ start: [this.dbId, id], end: [this.dbId, id, '\uffff'] })) {
            if (key.length === 3 && !keep.has(key[2] as string)) bodies.remove(key);
          }
          docs.put([this.dbId, id], { ...info, tree: markCompacted(info.tree) });
        }
      });
    };
    for (const item of this.docRange()) {
      if (item.info.tree.length === 1 && item.info.tree[0]?.node.children.length === 0) continue;
      batch.push(item);
      if (batch.length >= BATCH) {
        await flush(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await flush(batch);
    await this.collectAttachments();
    await this.remeasureSizes();
  }

  /**
   * Removes attachment bytes no stored revision refers to any more (bytes are shared by digest,
   * so they cannot go when one revision does). The scan runs outside a transaction; the removal
   * runs only if no edit was applied since the scan began, since a new edit may have taken up a
   * digest the scan saw as unused. A busy database just keeps its garbage until the next compaction.
   */
  private async collectAttachments(): Promise<void> {
    const { atts, bodies } = this.env.stores;
    const seqAtScan = this.counters.updateSeq;
    const used = new Set<string>();
    const note = (map: AttMap | undefined) => {
      if (map) for (const name in map) used.add((map[name] as AttStub).digest);
    };
    for (const { info } of this.docRange()) note(info.atts);
    for (const { value } of bodies.getRange({ start: [this.dbId], end: [this.dbId + 1] })) note((value as StoredBody).atts);
    const unused = [...atts.getKeys({ start: [this.dbId], end: [this.dbId + 1] })].filter((k) => !used.has(k[1] as string));
    if (unused.length === 0) return;
    await this.env.root.transaction(() => {
      if (this.counters.updateSeq !== seqAtScan) return;
      for (const key of unused) atts.remove(key);
    });
  }

  /** Removes every key of this database, in chunks so a huge database does not stall writers. */
  static async purgeAll(env: Environment, dbId: number): Promise<void> {
    const CHUNK = 5000;
    const stores = [env.stores.docs, env.stores.bodies, env.stores.seqs, env.stores.local, env.stores.atts, env.stores.meta];
    for (const store of stores) {
      for (;;) {
        const keys = [...store.getKeys({ start: [dbId], end: [dbId + 1], limit: CHUNK })];
        if (keys.length === 0) break;
        await env.root.transaction(() => {
          for (const k of keys) store.remove(k);
        });
      }
    }
  }

  private assertLive(): void {
    if (this.dropped) throw new CouchError('db_not_found');
  }

  static newRecord(id: number, partitioned = false): DbRecord {
    const record: DbRecord = { id, created: Math.floor(Date.now() / 1000), uuid: randomUUID().replace(/-/g, '') };
    if (partitioned) record.partitioned = true;
    return record;
  }
}

/** A stored body's bytes: its JSON and its attachments as stored (DbSizes `file` and `active`). */
function storedSize(body: StoredBody): number {
  let n = body.json.length;
  if (body.atts) for (const name in body.atts) {
    const a = body.atts[name] as AttStub;
    n += a.encoded_length ?? a.length;
  }
  return n;
}

/** What a document adds to its partition's `sizes.external`: the winner's JSON and attachment bytes, when live. */
function externalSize(info: DocInfo): number {
  if (info.deleted) return 0;
  let n = info.json.length;
  if (info.atts) for (const name in info.atts) n += (info.atts[name] as AttStub).length;
  return n;
}
