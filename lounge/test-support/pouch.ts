// PouchDB with the in-memory adapter, as the lounge's multi-process tests use it: a real
// PouchDB client (pulled in from CommonJS), each database under a fresh random name.

import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';

export interface PouchDoc {
  _id: string;
  _rev?: string;
  _conflicts?: string[];
  [k: string]: unknown;
}

export interface Pouch {
  put(doc: PouchDoc): Promise<{ rev: string }>;
  get(id: string, o?: object): Promise<PouchDoc>;
  remove(id: string, rev: string): Promise<unknown>;
  bulkDocs(docs: PouchDoc[]): Promise<unknown>;
  allDocs(o?: object): Promise<{ rows: { id: string; value: { rev: string }; doc?: PouchDoc }[] }>;
  getAttachment(id: string, name: string): Promise<Buffer>;
  replicate: { to(t: string): Promise<unknown>; from(s: string): Promise<unknown> };
  sync(remote: string, o?: object): Promise<unknown> & { on(e: string, f: (x: unknown) => void): unknown; cancel(): void };
  destroy(): Promise<void>;
}

const require = createRequire(import.meta.url);
const PouchDB = require('pouchdb') as { new (name: string, o?: object): Pouch; plugin(p: unknown): unknown };
PouchDB.plugin(require('pouchdb-adapter-memory'));

/** A new, empty in-memory PouchDB database. */
export function memoryPouch(prefix = 'p'): Pouch {
  return new PouchDB(`${prefix}-${randomBytes(5).toString('hex')}`, { adapter: 'memory' });
}
