// The node's single LMDB environment and its named sub-databases.
//
// Every Chaise database lives inside this one environment under key prefixes ([dbId, ...]), so a
// node with thousands of databases (per-user dbs, lounge shards) needs no file or handle per
// database. `--in-memory` runs this same engine on a tmpfs directory with syncing off, so tests
// exercise exactly the code that serves production.
//
// Durability: writes go through lmdb-js's batched `transaction()`, which puts every write queued in
// one event turn into one LMDB transaction (group commit). Callers acknowledge a write only after
// `durable()` resolves, i.e. after the commit has been flushed to disk.

import { newStoreStats, type StoreStats } from '../stats/store-stats.js';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type Database, type DatabaseOptions, type RootDatabase } from 'lmdb';
import { docHeaderCodec, docInfoCodec, type DocHeader } from './doc-info-codec.js';
import { RevHasher } from './rev-hasher.js';

/** LMDB needs an upper bound on the map size; it is virtual address space, not disk. */
const MAP_SIZE_BYTES = 256 * 1024 ** 3;
/** Named sub-databases we open (a fixed set, not one per Chaise database). */
const MAX_NAMED_DBS = 32;

export interface Stores {
  /** database name → DbRecord */
  dbs: Database<DbRecord, string>;
  /** [dbId, field] or ['_node', field] → value */
  meta: Database<unknown, Key>;
  /** [dbId, docId] → DocInfo */
  docs: Database<unknown, Key>;
  /** [dbId, docId, rev] → StoredBody */
  bodies: Database<unknown, Key>;
  /** The `docs` rows again, read as their headers only (rev, deleted): `_all_docs` walks these. */
  docHeaders: Database<DocHeader, Key>;
  /** [dbId, seq] → docId */
  seqs: Database<string, Key>;
  /** [dbId, docId] → LocalDoc */
  local: Database<unknown, Key>;
  /** [dbId, digest] → attachment bytes */
  atts: Database<Buffer, Key>;
  /** views/ keeps its indexes here. */
  views: Database<unknown, Key>;
}

export type Key = (string | number)[];

export interface DbRecord {
  id: number;
  /** Seconds since the epoch at creation; CouchDB's `instance_start_time`. */
  created: number;
  /** Random id of this incarnation of the database (a deleted and re-created db gets a new one). */
  uuid: string;
  /** Created with `?partitioned=true`: every doc id is `partition:id` (fixed for the database's life). */
  partitioned?: boolean;
}

export class Environment {
  readonly root: RootDatabase;
  readonly stores: Stores;
  readonly path: string;
  /** Rev hashes of large writes, on a worker thread. */
  readonly hasher = new RevHasher();
  /** What the node's `_stats` reports about storage. */
  readonly stats: StoreStats = newStoreStats();
  private readonly temporary: boolean;

  private constructor(root: RootDatabase, path: string, temporary: boolean) {
    this.root = root;
    this.path = path;
    this.temporary = temporary;
    const sub = <V>(name: string, encoding?: 'binary' | 'string') =>
      root.openDB<V, Key>({ name, keyEncoding: 'ordered-binary', ...(encoding ? { encoding } : {}) });
    // lmdb-js takes a per-database encoder, though its typings list the option on the root only.
    const coded = <V>(name: string, encoder: { decode(buf: Uint8Array): V }) =>
      root.openDB<V, Key>({ name, keyEncoding: 'ordered-binary', encoder } as DatabaseOptions & { name: string });
    this.stores = {
      dbs: root.openDB<DbRecord, string>({ name: 'dbs' }),
      meta: sub('meta'),
      docs: coded<unknown>('docs', docInfoCodec),
      bodies: sub('bodies'),
      docHeaders: coded<DocHeader>('docs', docHeaderCodec),
      seqs: sub<string>('seqs', 'string'),
      local: sub('local'),
      atts: sub<Buffer>('atts', 'binary'),
      views: sub('views'),
    };
  }

  static open(options: { dir?: string; inMemory?: boolean }): Environment {
    if (options.inMemory) {
      const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
      const path = mkdtempSync(join(base, 'chaise-mem-'));
      const root = open({ path, maxDbs: MAX_NAMED_DBS, mapSize: MAP_SIZE_BYTES, noSync: true, noMetaSync: true });
      return new Environment(root, path, true);
    }
    const path = options.dir ?? './data';
    mkdirSync(path, { recursive: true });
    const root = open({ path: join(path, 'chaise.mdb'), maxDbs: MAX_NAMED_DBS, mapSize: MAP_SIZE_BYTES });
    return new Environment(root, path, false);
  }

  /** Resolves once every write committed so far is on disk. */
  async durable(): Promise<void> {
    await this.root.flushed;
  }

  async close(): Promise<void> {
    await this.hasher.close();
    await this.root.close();
    if (this.temporary) rmSync(this.path, { recursive: true, force: true });
  }
}
