// One design document's views over one database: a persistent, incremental
// index in LMDB.
//
// Storage (all in the server's `views` LMDB sub-database, keys are arrays in
// ordered-binary encoding, values are JSON strings):
//   [dbKey, sig, 'm']        meta: indexed update_seq, tree roots and row counts
//   [dbKey, sig, 'n', id]    a B+tree node (see btree.ts), immutable
// so everything of one index lives under one key prefix and is removed by one
// range delete. Besides one tree per view there is a back-index tree, keyed by
// docid in raw order, holding the keys each doc emitted per view (CouchDB's
// id_btree): a changed doc's old rows are found there and removed.
//
// Updating reads `changesSince(indexedSeq)` in chunks, maps each chunk in the
// sandbox while the next one is read (host and isolate threads overlap), turns
// each doc's old keys (from the back-index) into removals and its new emits into
// insertions, and applies them to each view's tree in one sorted pass. Each
// flush is one LMDB transaction (trees, back-index and seq together), so the
// index on disk is always a consistent snapshot of some seq.
//
// Writes are write-behind: a flush's new nodes are visible to queries from
// memory at once, and serialized and committed in order in the background (from
// the next event-loop turn, so the queries waiting for the flush answer first);
// a failed commit poisons the group, which is then rebuilt from scratch. Readers take a
// snapshot (roots + generation); nodes freed by later generations are deleted
// from LMDB only once no snapshot can still reach them.

import type { Database } from 'lmdb';
import { collate } from '../collation/collate.js';
import { compareIds, rawCollate } from '../collation/raw-order.js';
import { CouchError } from '../errors/couch-error.js';
import { finalReduceMany, makeReducer, type Reducer, type ReduceParts } from '../reduce/reducer.js';
import type { DesignDoc, Emit } from '../sandbox/design-sandbox.js';
import type { SandboxPool } from '../sandbox/sandbox-pool.js';
import {
  decodeNode,
  encodeNode,
  findEntry,
  modifyTree,
  rowsOf,
  RowOrder,
  PartitionedRowOrder,
  type Action,
  type Entry,
  type NewNode,
  type NodeSource,
  type TreeNode,
  type TreeShape,
} from './btree.js';
import { sortActions } from './action-order.js';
import type { ChangedDoc, DocSource } from './doc-source.js';
import { viewGroupDef, type ViewGroupDef } from './design.js';
import type { NodeCache } from './node-cache.js';
import { debuglog } from 'node:util';
import { getField, isMissing, matchNormalized, normalizeSelector, parseField } from '../mango/selector.js';

/**
 * Changes read from the database per call, and mapped as one chunk. A chunk's document texts live
 * until it is mapped, so smaller chunks let them die young: at 5,000 they survived into the old
 * generation and garbage collection took about a fifth of a build (measured, 100k docs).
 */
export const CHANGES_BATCH_MAX = 1_000;
/**
 * Rows gathered before they are applied to the trees in one pass and committed.
 * Bigger flushes amortize rewriting leaves; this bounds the memory of a build.
 */
export const FLUSH_ROWS_MAX = 100_000;
/** Docs gathered per flush (a doc may emit nothing). */
export const FLUSH_DOCS_MAX = 100_000;
/** Deleting an index removes its keys in transactions of this many. */
export const DELETE_BATCH_MAX = 10_000;
const META_VERSION = 2;
/** couch_file's block: an index file starts with a header block before any node. */
const INDEX_HEADER_BYTES = 4096;
const debug = debuglog('chaise:views');

interface Meta {
  v: number;
  sig: string;
  ddocId: string;
  views: string[];
  seq: number;
  nextId: number;
  roots: (number | null)[];
  counts: number[];
  /** Root of the back-index tree (docid → emitted keys). */
  backRoot: number | null;
  /** Approximate bytes of live nodes. */
  bytes: number;
  /**
   * Bytes of every node written since the index was built or last compacted: what CouchDB's
   * append-only index file would hold (replaced nodes stay in it until compaction). Absent in
   * indexes from before it was kept (taken as `bytes`).
   */
  written?: number;
  /** The source's purge seq this index has applied; absent in indexes from before purges were replayed (those were rebuilt after every purge, so they are current). */
  purgeSeq?: number;
}

/** Back-index entry: [viewIndex, key] for each distinct key a doc emitted. */
type BackEntry = [number, unknown][];

export interface Snapshot {
  seq: number;
  roots: (number | null)[];
  backRoot: number | null;
  counts: number[];
  release(): void;
}

export interface GroupContext {
  db: Database;
  cache: NodeCache;
  pool: SandboxPool;
  /** Node sizes (tests use tiny nodes to exercise deep trees). */
  shape?: TreeShape;
  /** Counts for the node's `_stats` (couchdb.mrview.map_doc and .emits). */
  stats?: ViewStats;
}

export interface ViewStats {
  /** Documents run through map functions. */
  mapDocs: number;
  /** Calls of `emit` in map functions. */
  emits: number;
}

type StoreKey = (string | number)[];

export class ViewGroup {
  readonly def: ViewGroupDef;
  readonly dbKey: string;
  readonly orders: RowOrder[];
  private readonly backOrder = new RowOrder((a, b) => compareIds(a as string, b as string));
  readonly reducers: (Reducer | null)[];
  private ddoc: DesignDoc;
  private readonly ctx: GroupContext;
  private readonly cacheGroup: number;
  private meta: Meta;
  private readonly pending = new Map<number, TreeNode>();
  private gen = 0;
  private readonly readers = new Map<number, number>();
  private freedQueue: { gen: number; ids: number[] }[] = [];
  /** Bytes of the nodes as of the last serialized commit (exact lengths). */
  private savedBytes: number;
  /** Estimated change in bytes of the flushes whose commits are still queued. */
  private unsavedBytes = 0;
  /** Meta.written as of the last serialized commit, and the estimate of what queued commits add. */
  private savedWritten: number;
  private unsavedWritten = 0;
  private updater: Promise<void> | null = null;
  private commitChain: Promise<void> = Promise.resolve();
  private broken: Error | null = null;
  private compacting = false;
  /** Clients waiting for the updater (for _info's waiting_clients). */
  waiting = 0;

  constructor(ctx: GroupContext, dbKey: string, ddoc: DesignDoc) {
    this.ctx = ctx;
    this.dbKey = dbKey;
    this.ddoc = ddoc;
    this.def = viewGroupDef(ddoc);
    this.cacheGroup = ctx.cache.newGroup();
    this.orders = this.def.views.map((v) => {
      const cmp = v.raw ? rawCollate : collate;
      return this.def.partitioned ? new PartitionedRowOrder(cmp) : new RowOrder(cmp);
    });
    this.reducers = this.def.views.map((v) =>
      v.reduce === null ? null : makeReducer(v.reduce, v.name, () => this.ctx.pool.get(this.ddoc)),
    );
    this.meta = this.loadMeta();
    this.savedBytes = this.meta.bytes;
    this.savedWritten = this.meta.written ?? this.meta.bytes;
  }

  /** Keep using the newest design document (same signature) for its sandbox. */
  setDesignDoc(ddoc: DesignDoc): void {
    this.ddoc = ddoc;
  }

  get signature(): string {
    return this.def.signature;
  }

  get indexedSeq(): number {
    return this.meta.seq;
  }

  get updaterRunning(): boolean {
    return this.updater !== null;
  }

  get compactRunning(): boolean {
    return this.compacting;
  }

  /** Approximate bytes of the index's live nodes (flushes not yet committed count with estimates). */
  get activeBytes(): number {
    return Math.max(0, this.savedBytes + this.unsavedBytes);
  }

  /**
   * `_info`'s `sizes.file`: the size CouchDB's append-only index file would have, a header block
   * and every node written since the index was built or compacted. It exceeds `active` by the
   * replaced nodes, and compaction brings it back to the live ones.
   */
  get fileBytes(): number {
    return INDEX_HEADER_BYTES + Math.max(this.activeBytes, this.savedWritten + this.unsavedWritten);
  }

  viewIndex(name: string): number {
    return this.def.views.findIndex((v) => v.name === name);
  }

  // ------------------------------------------------------------- storage

  private key(...rest: (string | number)[]): StoreKey {
    return [this.dbKey, this.def.signature, ...rest];
  }

  private emptyMeta(): Meta {
    return {
      v: META_VERSION,
      sig: this.def.signature,
      ddocId: this.def.ddocId,
      views: this.def.views.map((v) => v.name),
      seq: 0,
      nextId: 1,
      roots: this.def.views.map(() => null),
      counts: this.def.views.map(() => 0),
      backRoot: null,
      bytes: 0,
    };
  }

  private loadMeta(): Meta {
    const raw = this.ctx.db.get(this.key('m')) as string | undefined;
    if (typeof raw === 'string') {
      const m = JSON.parse(raw) as Meta;
      if (m.v === META_VERSION && m.roots.length === this.def.views.length) return m;
    }
    return this.emptyMeta();
  }

  /** Node reader over pending (uncommitted) nodes, the shared cache, then LMDB. */
  readonly nodes: NodeSource = {
    get: (id: number): TreeNode => {
      const p = this.pending.get(id);
      if (p !== undefined) return p;
      const ck = this.ctx.cache.key(this.cacheGroup, id);
      const c = this.ctx.cache.get(ck);
      if (c !== undefined) return c;
      let raw = this.ctx.db.get(this.key('n', id)) as string | undefined;
      if (typeof raw !== 'string') {
        // A read snapshot older than our last commit would not see the node yet.
        this.ctx.db.resetReadTxn();
        raw = this.ctx.db.get(this.key('n', id)) as string | undefined;
      }
      if (typeof raw !== 'string') {
        this.broken ??= new Error(`index node ${id} is missing`);
        throw new CouchError(500, 'index_corrupted', `The index of ${this.def.ddocId} is damaged and will be rebuilt`);
      }
      const n = decodeNode(raw);
      this.ctx.cache.set(ck, n);
      return n;
    },
  };

  private readBack(id: string, backRoot: number | null): BackEntry | null {
    const e = findEntry(this.nodes, backRoot, this.backOrder, id, '');
    return e === null ? null : (e[2] as BackEntry);
  }

  // ------------------------------------------------------------ snapshots

  /** Current roots, pinned: nodes they reach are not deleted until release(). */
  snapshot(): Snapshot {
    this.assertHealthy();
    const gen = this.gen;
    this.readers.set(gen, (this.readers.get(gen) ?? 0) + 1);
    let released = false;
    return {
      seq: this.meta.seq,
      roots: [...this.meta.roots],
      backRoot: this.meta.backRoot,
      counts: [...this.meta.counts],
      release: () => {
        if (released) return;
        released = true;
        const n = (this.readers.get(gen) ?? 1) - 1;
        if (n <= 0) this.readers.delete(gen);
        else this.readers.set(gen, n);
      },
    };
  }

  private assertHealthy(): void {
    if (this.broken !== null) throw new CouchError(500, 'index_corrupted', `The index of ${this.def.ddocId} is being rebuilt`);
  }

  /** True when a commit failed or a node went missing: the engine drops and rebuilds the group. */
  get isBroken(): boolean {
    return this.broken !== null;
  }

  // --------------------------------------------------------------- update

  /**
   * Bring the index up to the database's update_seq as of this call. One
   * updater (or compaction) runs at a time; callers that arrive meanwhile wait
   * for it and start another pass if it stopped short of their seq.
   */
  async update(source: DocSource): Promise<void> {
    const target = source.updateSeq();
    for (;;) {
      this.assertHealthy();
      if (this.meta.seq >= target && !this.purgesPending(source)) return;
      if (this.updater === null) {
        const run: Promise<void> = this.runUpdate(source).finally(() => {
          if (this.updater === run) this.updater = null;
        });
        this.updater = run;
      }
      this.waiting++;
      try {
        await this.updater;
      } finally {
        this.waiting--;
      }
    }
  }

  /** Whether the source has purged docs since this index last looked (or the index does not know). */
  private purgesPending(source: DocSource): boolean {
    return this.meta.purgeSeq === undefined || (source.purgeSeq?.() ?? 0) !== this.meta.purgeSeq;
  }

  /**
   * Drops the rows of the docs purged since this index last looked, and maps again those of them
   * that still exist (a purge of some leaves can change a winner). The index starts over if the
   * purge log has been cut past its purge seq, or it does not know its purge seq.
   */
  private async applyPurges(source: DocSource): Promise<void> {
    const current = source.purgeSeq?.() ?? 0;
    const since = this.meta.purgeSeq;
    if (since === current) return;
    if (this.meta.backRoot === null) {
      // Nothing indexed yet: no rows to drop.
      this.meta = { ...this.meta, purgeSeq: current };
      return;
    }
    const ids = since === undefined ? null : (source.purgedSince?.(since) ?? null);
    if (ids === null) {
      debug('%s/%s cannot replay purges from purge seq %s: rebuilding', this.dbKey, this.def.ddocId, since);
      this.reset(current);
      return;
    }
    const changes: ChangedDoc[] = [...new Set(ids)].map((id) => {
      const doc = source.getDoc(id);
      // No seq of its own: past every seq, so its old rows are always looked up.
      return { seq: Number.MAX_SAFE_INTEGER, id, deleted: doc === null, doc };
    });
    const actions: Action[][] = this.def.views.map(() => []);
    const backActions: Action[] = [];
    this.collectActions(await this.mapChanges(changes), 0, actions, backActions);
    this.meta = { ...this.meta, purgeSeq: current };
    await this.applyFlush(actions, backActions, this.meta.seq);
  }

  /** Empties the index; its nodes are freed as any replaced node is, once no snapshot reaches them. */
  private reset(purgeSeq: number): void {
    const freed: number[] = [];
    for (const root of [...this.meta.roots, this.meta.backRoot]) if (root !== null) collectEntries(this.nodes, root, [], freed);
    this.commit([], freed, { ...this.emptyMeta(), nextId: this.meta.nextId, purgeSeq, bytes: this.meta.bytes });
  }

  private async runUpdate(source: DocSource): Promise<void> {
    if (this.purgesPending(source)) await this.applyPurges(source);
    // In a build from empty, a change at or below the seq the run started at has no old rows: a
    // doc indexed earlier in the run and changed since has moved past that seq.
    const freshUpTo = this.meta.backRoot === null ? source.updateSeq() : 0;
    for (;;) {
      this.assertHealthy();
      const target = source.updateSeq();
      if (this.meta.seq >= target) return;
      // A flush reads no change past `target`, the seq when it began: a doc written meanwhile moves
      // past it, so no doc is read twice in one flush and docs need no de-duplication.
      const actions: Action[][] = this.def.views.map(() => []);
      const backActions: Action[] = [];
      let lastSeq = this.meta.seq;
      let rows = 0;
      let docs = 0;
      // Pipelined: the next chunk of changes is read (host thread) while the sandbox maps the
      // previous one (isolate thread), and a mapped chunk becomes tree actions while the sandbox
      // maps the next, so neither thread waits for the other.
      let mapping: Promise<MappedChunk> | null = null;
      const take = async (): Promise<void> => {
        if (mapping === null) return;
        const mapped = await mapping;
        this.collectActions(mapped, freshUpTo, actions, backActions);
        rows += mapped.rows;
        docs += mapped.ids.length;
      };
      for (;;) {
        const read = source.changesSince(lastSeq, CHANGES_BATCH_MAX);
        const changes = upToSeq(read, target);
        const next = changes.length === 0 ? null : this.mapChanges(changes);
        next?.catch(() => undefined); // awaited next round; this only silences the early-rejection warning
        await take();
        mapping = next;
        if (changes.length === 0) break;
        lastSeq = (changes[changes.length - 1] as ChangedDoc).seq;
        const atEnd = read.length < CHANGES_BATCH_MAX || changes.length < read.length;
        if (atEnd || rows >= FLUSH_ROWS_MAX || docs >= FLUSH_DOCS_MAX) break;
      }
      await take();
      if (lastSeq === this.meta.seq) {
        // Nothing at or below `target` left to read (the seq moved for non-document writes, or
        // those docs changed again since).
        lastSeq = Math.max(lastSeq, target);
      }
      await this.applyFlush(actions, backActions, lastSeq);
    }
  }

  /** Each changed doc's new entries per view (none for deleted docs). */
  private async mapChanges(changes: readonly ChangedDoc[]): Promise<MappedChunk> {
    const nViews = this.def.views.length;
    const out: MappedChunk = { ids: [], seqs: [], perDoc: [], rows: 0 };
    // The docs to map, and where each one's result goes in `out`.
    const docs: Record<string, unknown>[] = [];
    const texts: (Record<string, unknown> | string)[] = [];
    const slots: number[] = [];
    const mango = this.def.language === 'query';
    for (const ch of changes) {
      // Design documents belong to no partition, so a partitioned view never maps them.
      if (ch.id.startsWith('_design/') && (!this.def.includeDesign || this.def.partitioned)) continue;
      out.ids.push(ch.id);
      out.seqs.push(ch.seq);
      out.perDoc.push(null);
      if (ch.deleted || (ch.json === undefined && ch.doc === null) || nViews === 0) continue;
      slots.push(out.ids.length - 1);
      if (!mango && ch.json !== undefined && !this.def.localSeq) texts.push(ch.json);
      else {
        const doc = this.def.localSeq ? { ...ch.doc, _local_seq: ch.seq } : (ch.doc ?? {});
        if (mango) docs.push(doc);
        else texts.push(doc);
      }
    }
    if (slots.length === 0) return out;
    if (mango) {
      this.mapMango(docs, slots, out);
      return out;
    }
    // Views with identical map source run once (CouchDB shares them the same way).
    const uniqueNames: string[] = [];
    const slot: number[] = [];
    const bySource = new Map<string, number>();
    for (const v of this.def.views) {
      let s = bySource.get(v.map);
      if (s === undefined) {
        s = uniqueNames.length;
        bySource.set(v.map, s);
        uniqueNames.push(v.name);
      }
      slot.push(s);
    }
    const emits = await this.ctx.pool.get(this.ddoc).map(uniqueNames, texts);
    if (this.ctx.stats) {
      this.ctx.stats.mapDocs += slots.length;
      for (const perUnique of emits as Emit[][][]) for (const es of perUnique) this.ctx.stats.emits += es.length;
    }
    for (let i = 0; i < slots.length; i++) {
      const at = slots[i] as number;
      const id = out.ids[at] as string;
      const perUnique = emits[i] as Emit[][];
      const perView: Entry[][] = [];
      for (let v = 0; v < nViews; v++) {
        const es = entriesFor(id, perUnique[slot[v] as number] ?? []);
        for (const e of es) out.rows += rowsOf(e);
        perView.push(es);
      }
      out.perDoc[at] = perView;
    }
    return out;
  }

  /** Mango JSON indexes are mapped natively: no user code, no sandbox. */
  private mapMango(docs: readonly Record<string, unknown>[], slots: readonly number[], out: MappedChunk): void {
    const matchers = this.def.views.map((v) =>
      v.mango === null || Object.keys(v.mango.partialFilter).length === 0
        ? null
        : normalizeSelector(v.mango.partialFilter),
    );
    const paths = this.def.views.map((v) => (v.mango === null ? [] : v.mango.fields.map(parseField)));
    for (let i = 0; i < slots.length; i++) {
      const at = slots[i] as number;
      const id = out.ids[at] as string;
      const doc = docs[i] as Record<string, unknown>;
      const perView: Entry[][] = [];
      for (let vi = 0; vi < this.def.views.length; vi++) {
        const m = matchers[vi];
        const fieldPaths = paths[vi] as string[][];
        // mango_native_proc: design docs are never indexed; docs missing a field are skipped.
        if (id.startsWith('_design/') || fieldPaths.length === 0 || (m !== null && m !== undefined && !matchNormalized(m, doc))) {
          perView.push([]);
          continue;
        }
        const values = fieldPaths.map((p) => getField(doc, p));
        if (values.some(isMissing)) perView.push([]);
        else {
          perView.push([[values, id, null]]);
          out.rows++;
        }
      }
      out.perDoc[at] = perView;
    }
  }

  /**
   * A mapped chunk as tree actions: each doc's old rows (from the back-index) become removals, its
   * entries insertions. Changes at or below `freshUpTo` are known to have no old rows.
   */
  private collectActions(chunk: MappedChunk, freshUpTo: number, actions: Action[][], backActions: Action[]): void {
    const nViews = this.def.views.length;
    for (let d = 0; d < chunk.ids.length; d++) {
      const id = chunk.ids[d] as string;
      const perView = chunk.perDoc[d] ?? null;
      const old = (chunk.seqs[d] as number) <= freshUpTo ? null : this.readBack(id, this.meta.backRoot);
      if (old !== null) {
        for (const [vi, key] of old) (actions[vi] as Action[]).push({ key, id, entry: null });
        backActions.push({ key: id, id: '', entry: null });
      }
      if (perView === null) continue;
      const back: BackEntry = [];
      for (let vi = 0; vi < nViews; vi++) {
        for (const e of perView[vi] as Entry[]) {
          (actions[vi] as Action[]).push({ key: e[0], id, entry: e });
          back.push([vi, e[0]]);
        }
      }
      if (back.length > 0) backActions.push({ key: id, id: '', entry: [id, '', back] });
    }
  }

  /** Applies one flush's actions to the trees (in row order) and commits them with `lastSeq`. */
  private async applyFlush(actions: readonly Action[][], backActions: Action[], lastSeq: number): Promise<void> {
    const nViews = this.def.views.length;
    const created: NewNode[] = [];
    const freed: number[] = [];
    const roots = [...this.meta.roots];
    const counts = [...this.meta.counts];
    let nextId = this.meta.nextId;
    const alloc = (): number => nextId++;
    const byRowThenRemovalFirst =
      (order: RowOrder) =>
      (a: Action, b: Action): number =>
        order.cmp(a.key, a.id, b.key, b.id) || (a.entry === null ? -1 : 0) - (b.entry === null ? -1 : 0);
    for (let vi = 0; vi < nViews; vi++) {
      if ((actions[vi] as Action[]).length === 0) continue;
      const order = this.orders[vi] as RowOrder;
      const acts = sortActions(actions[vi] as Action[], order);
      const res = modifyTree(this.nodes, roots[vi] ?? null, order, acts, alloc, this.ctx.shape);
      await this.computeReductions(vi, res.created);
      roots[vi] = res.root;
      counts[vi] = res.count;
      created.push(...res.created);
      freed.push(...res.freed);
    }
    let backRoot = this.meta.backRoot;
    if (backActions.length > 0) {
      backActions.sort(byRowThenRemovalFirst(this.backOrder));
      const res = modifyTree(this.nodes, backRoot, this.backOrder, backActions, alloc, this.ctx.shape);
      backRoot = res.root;
      created.push(...res.created);
      freed.push(...res.freed);
    }
    this.assertHealthy();
    this.commit(created, freed, { ...this.meta, seq: lastSeq, nextId, roots, counts, backRoot });
  }

  /** Fill in the reductions of new nodes, bottom-up, one batch per tree level. */
  private async computeReductions(vi: number, created: readonly NewNode[]): Promise<void> {
    const reducer = this.reducers[vi];
    if (reducer === null || reducer === undefined || created.length === 0) return;
    const maxHeight = created.reduce((m, n) => Math.max(m, n.height), 0);
    for (let h = 0; h <= maxHeight; h++) {
      const level = created.filter((n) => n.height === h);
      if (level.length === 0) continue;
      const parts: ReduceParts[] = level.map((n) => {
        if (n.node.leaf) {
          const kvs = [];
          for (const e of n.node.entries) {
            for (let d = 2; d < e.length; d++) kvs.push({ key: e[0], id: e[1] as string, value: e[d] });
          }
          return { kvs, reds: [] };
        }
        return { kvs: [], reds: n.node.children.map((c) => c[6]) };
      });
      const reds = await finalReduceMany(reducer, parts);
      level.forEach((n, i) => {
        if (n.ref !== null) n.ref[6] = reds[i];
      });
    }
  }

  /** `compacted`: the created nodes are the whole index, rewritten (the file is then just them). */
  private commit(created: readonly NewNode[], freed: readonly number[], meta: Meta, compacted = false): void {
    const db = this.ctx.db;
    // Freed nodes as objects: one made by a flush whose commit is still queued gets its exact size
    // only when that commit serializes it.
    const freedNodes = freed.map((id) => this.pending.get(id) ?? this.ctx.cache.get(this.ctx.cache.key(this.cacheGroup, id)));
    let estimate = 0;
    for (const n of created) {
      this.pending.set(n.id, n.node);
      estimate += n.node.bytes ?? 0;
    }
    const writtenEstimate = compacted ? 0 : estimate;
    for (const n of freedNodes) estimate -= n?.bytes ?? 0;
    this.unsavedBytes += estimate;
    this.unsavedWritten += writtenEstimate;
    // Switch readers to the new roots now; persistence follows.
    this.gen++;
    const gen = this.gen;
    if (freed.length > 0) this.freedQueue.push({ gen, ids: [...freed] });
    this.meta = meta;
    const deletable = this.takeDeletable();
    this.commitChain = this.commitChain.then(async () => {
      // Nodes are serialized here, in the write-behind commit, and only from the next event-loop
      // turn: the queries waiting for this flush read the node objects and answer first; the text
      // is only for durability.
      await new Promise((resolve) => setImmediate(resolve));
      if (this.broken !== null) return;
      const puts: [StoreKey, string][] = [];
      let bytes = this.savedBytes;
      let added = 0;
      for (const n of created) {
        const s = encodeNode(n.node);
        n.node.bytes = s.length;
        added += s.length;
        puts.push([this.key('n', n.id), s]);
      }
      bytes += added;
      for (const n of freedNodes) bytes -= n?.bytes ?? 0;
      meta.bytes = this.savedBytes = Math.max(0, bytes);
      meta.written = this.savedWritten = compacted ? meta.bytes : Math.max(meta.bytes, this.savedWritten + added);
      this.unsavedBytes -= estimate;
      this.unsavedWritten -= writtenEstimate;
      const metaJson = JSON.stringify(meta);
      try {
        await db.transaction(() => {
          for (const [k, v] of puts) db.put(k, v);
          for (const id of deletable) db.remove(this.key('n', id));
          db.put(this.key('m'), metaJson);
        });
      } catch (e) {
        this.broken = e as Error;
        return;
      }
      for (const n of created) {
        if (this.pending.get(n.id) === n.node) {
          this.ctx.cache.set(this.ctx.cache.key(this.cacheGroup, n.id), n.node);
          this.pending.delete(n.id);
        }
      }
    });
  }

  /** Freed node ids no live snapshot can reach any more. */
  private takeDeletable(): number[] {
    let oldestReader = Infinity;
    for (const g of this.readers.keys()) oldestReader = Math.min(oldestReader, g);
    const out: number[] = [];
    const keep: { gen: number; ids: number[] }[] = [];
    for (const f of this.freedQueue) {
      // Snapshots with gen < f.gen may still use these nodes.
      if (oldestReader >= f.gen) {
        for (const id of f.ids) {
          out.push(id);
          this.ctx.cache.delete(this.ctx.cache.key(this.cacheGroup, id));
        }
      } else keep.push(f);
    }
    this.freedQueue = keep;
    return out;
  }

  /** Resolves when every flush so far is durable. */
  flushed(): Promise<void> {
    return this.commitChain;
  }

  // ----------------------------------------------------------- maintenance

  /** Rebuild every tree from its rows (balanced, no thin nodes left by deletions). */
  async compact(): Promise<void> {
    this.assertHealthy();
    while (this.updater !== null) await this.updater.catch(() => undefined);
    const run: Promise<void> = this.runCompaction().finally(() => {
      if (this.updater === run) this.updater = null;
      this.compacting = false;
    });
    this.compacting = true;
    this.updater = run;
    await run;
  }

  private async runCompaction(): Promise<void> {
    const snap = this.snapshot();
    try {
      const created: NewNode[] = [];
      const freed: number[] = [];
      const roots = [...snap.roots];
      const counts = [...snap.counts];
      let nextId = this.meta.nextId;
      const alloc = (): number => nextId++;
      for (let vi = 0; vi < roots.length; vi++) {
        const root = roots[vi] ?? null;
        if (root === null) continue;
        const entries: Entry[] = [];
        collectEntries(this.nodes, root, entries, freed);
        const acts: Action[] = entries.map((e) => ({ key: e[0], id: e[1] as string, entry: e }));
        const res = modifyTree(this.nodes, null, this.orders[vi] as RowOrder, acts, alloc, this.ctx.shape);
        await this.computeReductions(vi, res.created);
        roots[vi] = res.root;
        counts[vi] = res.count;
        created.push(...res.created);
      }
      let backRoot = snap.backRoot;
      if (backRoot !== null) {
        const entries: Entry[] = [];
        collectEntries(this.nodes, backRoot, entries, freed);
        const acts: Action[] = entries.map((e) => ({ key: e[0], id: '', entry: e }));
        const res = modifyTree(this.nodes, null, this.backOrder, acts, alloc, this.ctx.shape);
        backRoot = res.root;
        created.push(...res.created);
      }
      this.assertHealthy();
      this.commit(created, freed, { ...this.meta, nextId, roots, counts, backRoot }, true);
    } finally {
      snap.release();
    }
    await this.flushed();
  }

  /** Delete every stored key of this index. */
  async destroy(): Promise<void> {
    this.broken ??= new Error('index deleted');
    await this.commitChain.catch(() => undefined);
    await deleteRange(this.ctx.db, [this.dbKey, this.def.signature], [this.dbKey, this.def.signature, '\uffff']);
    this.ctx.cache.dropGroup(this.cacheGroup);
    this.pending.clear();
  }
}

/** One chunk of changes after mapping: each doc's seq and new entries per view, in change order. */
interface MappedChunk {
  ids: string[];
  seqs: number[];
  /** Per doc, its entries per view; null when it has none (deleted, or not mapped). */
  perDoc: (Entry[][] | null)[];
  /** Rows those entries hold. */
  rows: number;
}

/** The leading changes at or below `seq` (changes come in ascending seq order). */
function upToSeq(changes: ChangedDoc[], seq: number): ChangedDoc[] {
  let n = changes.length;
  while (n > 0 && (changes[n - 1] as ChangedDoc).seq > seq) n--;
  return n === changes.length ? changes : changes.slice(0, n);
}

function collectEntries(src: NodeSource, id: number, out: Entry[], ids: number[]): void {
  const n = src.get(id);
  ids.push(id);
  if (n.leaf) {
    for (const e of n.entries) out.push(e);
    return;
  }
  for (const c of n.children) collectEntries(src, c[4], out, ids);
}

/**
 * One doc's emits for one view → leaf entries. Emits of the same key (same JSON)
 * become one entry with several values, ordered as CouchDB orders duplicate
 * emits (Erlang term order of the values, couch_mrview_updater's lists:sort).
 */
function entriesFor(id: string, emits: readonly Emit[]): Entry[] {
  if (emits.length === 0) return [];
  if (emits.length === 1) {
    const [k, v] = emits[0] as Emit;
    return [[k ?? null, id, v ?? null]];
  }
  const byKey = new Map<string, Entry>();
  for (const [k, v] of emits) {
    const json = JSON.stringify(k ?? null);
    const e = byKey.get(json);
    if (e === undefined) byKey.set(json, [k ?? null, id, v ?? null]);
    else e.push(v ?? null);
  }
  const out: Entry[] = [];
  for (const e of byKey.values()) {
    if (e.length > 3) {
      const values = e.slice(2).sort(rawCollate);
      out.push([e[0], id, ...values]);
    } else out.push(e);
  }
  return out;
}

/** Remove every key in [start, end) in bounded transactions. */
export async function deleteRange(db: Database, start: StoreKey, end: StoreKey): Promise<void> {
  for (;;) {
    const keys = [...db.getKeys({ start, end, limit: DELETE_BATCH_MAX })];
    if (keys.length === 0) return;
    await db.transaction(() => {
      for (const k of keys) db.remove(k);
    });
    if (keys.length < DELETE_BATCH_MAX) return;
  }
}
