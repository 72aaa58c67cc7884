// The real PouchDB client (CommonJS, no bundled types) loaded into our ESM tests, with the memory
// adapter plugged in, and the small typed surface the interop tests use. Local databases live in
// memory and are named uniquely, so tests never see each other's data.

import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';

const require = createRequire(import.meta.url);

export interface PouchDoc {
  _id: string;
  _rev?: string;
  _deleted?: boolean;
  _conflicts?: string[];
  _attachments?: Record<string, PouchAttachment>;
  [field: string]: unknown;
}

export interface PouchAttachment {
  content_type: string;
  digest?: string;
  data?: string | Buffer;
  stub?: boolean;
  length?: number;
  revpos?: number;
}

export interface ReplicationResult {
  ok: boolean;
  status: string;
  docs_read: number;
  docs_written: number;
  doc_write_failures: number;
  errors: unknown[];
}

export interface SyncResult {
  push: ReplicationResult;
  pull: ReplicationResult;
}

/** A live replication or sync: an event emitter that can be cancelled. */
export interface Replication extends PromiseLike<unknown> {
  on(event: 'change' | 'paused' | 'active' | 'denied' | 'complete' | 'error', listener: (info: unknown) => void): Replication;
  cancel(): void;
}

export interface AllDocsResult {
  total_rows: number;
  rows: { id: string; key: string; value: { rev: string; deleted?: boolean }; doc?: PouchDoc }[];
}

export interface PouchDatabase {
  name: string;
  info(): Promise<{ doc_count: number; update_seq: number | string }>;
  get(id: string, opts?: { conflicts?: boolean; rev?: string; revs?: boolean; attachments?: boolean; binary?: boolean }): Promise<PouchDoc>;
  put(doc: PouchDoc): Promise<{ ok: true; id: string; rev: string }>;
  remove(id: string, rev: string): Promise<{ ok: true; id: string; rev: string }>;
  bulkDocs(docs: PouchDoc[], opts?: { new_edits?: boolean }): Promise<({ ok: true; id: string; rev: string } | { error: string; id: string })[]>;
  allDocs(opts?: { include_docs?: boolean; conflicts?: boolean; attachments?: boolean; binary?: boolean; keys?: string[] }): Promise<AllDocsResult>;
  getAttachment(id: string, name: string, opts?: { rev?: string }): Promise<Buffer>;
  query(view: string, opts?: { include_docs?: boolean; attachments?: boolean; binary?: boolean; reduce?: boolean; key?: unknown }): Promise<AllDocsResult>;
  replicate: {
    to(target: PouchDatabase | string, opts?: ReplicateOptions): Replication & Promise<ReplicationResult>;
    from(source: PouchDatabase | string, opts?: ReplicateOptions): Replication & Promise<ReplicationResult>;
  };
  sync(other: PouchDatabase | string, opts?: ReplicateOptions): Replication & Promise<SyncResult>;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

export interface ReplicateOptions {
  live?: boolean;
  retry?: boolean;
  batch_size?: number;
  back_off_function?: (delayMs: number) => number;
}

interface PouchConstructor {
  new (name: string, opts?: { adapter?: string; skip_setup?: boolean }): PouchDatabase;
  plugin(plugin: unknown): PouchConstructor;
}

const PouchDB = require('pouchdb') as PouchConstructor;
PouchDB.plugin(require('pouchdb-adapter-memory'));

/** A fresh in-memory PouchDB with a unique name. */
export function memoryPouch(prefix = 'local'): PouchDatabase {
  return new PouchDB(`${prefix}-${randomBytes(6).toString('hex')}`, { adapter: 'memory' });
}

/** PouchDB's HTTP adapter on a database of a running server. */
export function remotePouch(url: string): PouchDatabase {
  return new PouchDB(url);
}
