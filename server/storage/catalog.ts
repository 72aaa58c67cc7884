// The node's catalog: which databases exist, the server uuid, and open Database handles.
// The uuid and each database's record survive restarts (replication ids are built from them).

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Histogram } from '../stats/histogram.js';
import { CouchError } from '../errors/catalog.js';
import { Environment, type DbRecord, type Key } from './environment.js';
import { Database, DEFAULT_MAX_PARTITION_BYTES, LEGACY_SEQ_MAX, type StoreSettings } from './database.js';
import type { DbCounters } from './records.js';

/** CouchDB's rule for database names (plus the system databases it allows). */
const DB_NAME = /^[a-z][a-z0-9_$()+/-]*$/;
const SYSTEM_DBS = new Set(['_users', '_replicator', '_global_changes']);
/**
 * `meta` key marking a data dir whose sequences are handed out as strings (`N-<opaque>`). A data
 * dir without it was written by a version that handed out bare integers (see upgradeSeqFormat).
 */
const SEQ_FORMAT_KEY: Key = ['_node', 'seq_format'];
const SEQ_FORMAT_STRINGS = 'strings';

/** CouchDB refuses names longer than this (couch_db:validate_dbname). */
const DB_NAME_LENGTH_MAX = 238;

export function validateDbName(name: string): void {
  if ((SYSTEM_DBS.has(name) || DB_NAME.test(name)) && name.length <= DB_NAME_LENGTH_MAX) return;
  throw new CouchError(
    'illegal_database_name',
    `Name: '${name}'. Only lowercase characters (a-z), digits (0-9), and any of the characters _, $, (, ), +, -, and / are allowed. Must begin with a letter.`,
  );
}

export class Catalog {
  readonly env: Environment;
  readonly uuid: string;
  private readonly open = new Map<string, Database>();
  /** Milliseconds to open a database not open yet (its record and counters read; couchdb.db_open_time). */
  readonly openTimes = new Histogram();
  private nextId: number;
  private readonly background = new Set<Promise<unknown>>();
  /** Node settings every database's writes obey (the node points this at its limits). */
  settings: StoreSettings = { maxPartitionBytes: DEFAULT_MAX_PARTITION_BYTES };
  private readonly createdListeners = new Set<(name: string, kind: 'created' | 'deleted', record?: DbRecord) => void>();
  /** Work a new database gets before its creation is answered (`_users` gets `_design/_auth`). */
  private readonly initializers: ((db: Database) => Promise<void>)[] = [];

  constructor(env: Environment) {
    this.env = env;
    const meta = env.stores.meta;
    let uuid = meta.get(['_node', 'uuid']) as string | undefined;
    if (!uuid) {
      uuid = randomUUID().replace(/-/g, '');
      meta.putSync(['_node', 'uuid'], uuid);
    }
    this.uuid = uuid;
    this.nextId = (meta.get(['_node', 'next_db_id']) as number | undefined) ?? 1;
    this.upgradeSeqFormat();
  }

  /**
   * Once per data dir: a dir written when sequences were bare integers records, for each of its
   * databases, the update seq it has now. Every integer an earlier version handed out for that
   * database is at or below it, so checkpoints holding one (PouchDB's, the replicator's, the
   * lounge's) still resume, while other bare integers get CouchDB 3's 400 (server/changes/seq.ts).
   */
  private upgradeSeqFormat(): void {
    const { meta, dbs } = this.env.stores;
    if (meta.get(SEQ_FORMAT_KEY) === SEQ_FORMAT_STRINGS) return;
    this.env.root.transactionSync(() => {
      for (const { value: record } of dbs.getRange()) {
        const counters = meta.get([record.id, 'counters']) as DbCounters | undefined;
        if (counters && counters.updateSeq > 0) meta.put([record.id, LEGACY_SEQ_MAX], counters.updateSeq);
      }
      meta.put(SEQ_FORMAT_KEY, SEQ_FORMAT_STRINGS);
    });
  }

  /** Runs `init` on every database created from now on, before `create` resolves. */
  onCreateInit(init: (db: Database) => Promise<void>): void {
    this.initializers.push(init);
  }

  onDbEvent(listener: (name: string, kind: 'created' | 'deleted', record?: DbRecord) => void): () => void {
    this.createdListeners.add(listener);
    return () => this.createdListeners.delete(listener);
  }

  get(name: string): Database | undefined {
    const cached = this.open.get(name);
    if (cached) return cached;
    const started = performance.now();
    const record = this.env.stores.dbs.get(name);
    if (!record) return undefined;
    const db = new Database(this.env, name, record, this.uuid, this.settings);
    this.open.set(name, db);
    const now = performance.now();
    this.openTimes.record(now - started, now);
    return db;
  }

  /** The database, or CouchDB's 404. */
  require(name: string): Database {
    const db = this.get(name);
    if (!db) {
      validateDbName(name);
      throw new CouchError('db_not_found');
    }
    return db;
  }

  /** Databases opened since start-up and not deleted (the node's open_databases metric). */
  get openCount(): number {
    return this.open.size;
  }

  names(): string[] {
    return [...this.env.stores.dbs.getKeys()];
  }

  async create(name: string, opts: { partitioned?: boolean } = {}): Promise<Database> {
    validateDbName(name);
    if (opts.partitioned === true && (SYSTEM_DBS.has(name) || /(^|\/)(_users|_replicator)$/.test(name))) {
      throw new CouchError('bad_request', 'Cannot partition a system database');
    }
    const created = await this.env.root.transaction(() => {
      if (this.env.stores.dbs.doesExist(name)) return undefined;
      const record: DbRecord = Database.newRecord(this.nextId++, opts.partitioned === true);
      this.env.stores.meta.put(['_node', 'next_db_id'], this.nextId);
      this.env.stores.dbs.put(name, record);
      return record;
    });
    if (!created) throw new CouchError('file_exists');
    await this.env.durable();
    const db = new Database(this.env, name, created, this.uuid, this.settings);
    this.open.set(name, db);
    for (const init of this.initializers) await init(db);
    for (const l of this.createdListeners) l(name, 'created', created);
    return db;
  }

  async delete(name: string): Promise<void> {
    const record = await this.env.root.transaction(() => {
      const r = this.env.stores.dbs.get(name);
      if (r) {
        this.env.stores.dbs.remove(name);
        this.env.stores.meta.put(['_node', 'purge', r.id], true);
      }
      return r;
    });
    if (!record) throw new CouchError('db_not_found');
    await this.env.durable();
    const db = this.open.get(name);
    this.open.delete(name);
    if (db) {
      db.dropped = true;
      db.wake();
    }
    for (const l of this.createdListeners) l(name, 'deleted', record);
    // The keys are removed in the background; the name is already free for a new database.
    const purge = this.purge(record.id).catch((e: unknown) => console.error('purge failed', e));
    this.background.add(purge);
    void purge.finally(() => this.background.delete(purge));
  }

  /** Waits for background work (purges of deleted databases) so the store can close cleanly. */
  async settle(): Promise<void> {
    await Promise.all([...this.background]);
  }

  /** Finishes removing the keys of databases deleted before a crash or restart. */
  async resumePurges(): Promise<void> {
    const pending = [...this.env.stores.meta.getKeys({ start: ['_node', 'purge'], end: ['_node', 'purge', Number.MAX_SAFE_INTEGER] })];
    for (const key of pending) await this.purge(key[2] as number);
  }

  private async purge(dbId: number): Promise<void> {
    await Database.purgeAll(this.env, dbId);
    await this.env.root.transaction(() => this.env.stores.meta.remove(['_node', 'purge', dbId]));
  }
}
