// Rev hashes for large writes, made on a worker thread as well as the main thread. Encoding bodies
// (term_to_binary) and md5 are a fifth of a large `_bulk_docs` request's main-thread time; the
// other core can make most of them.
//
// Two ways in:
// - `hash(jobs)`: the worker hashes edits that are already parsed (their JSON text is sent), while
//   the main thread hashes others meanwhile.
// - `bulk(raw)`: for a `_bulk_docs` body, the worker starts from the raw bytes as soon as they
//   arrive. It parses them itself and hashes docs from the last one back, while the main thread
//   parses, validates, and then hashes from the first one on (`BulkHashes.fill`). Each doc is
//   claimed in shared memory by whichever thread gets to it first, so the two meet wherever the
//   machine's speed puts them, and each doc is hashed once. (Hashing inside the transaction as
//   the worker goes was tried: the worker then competes with LMDB's writer thread for the second
//   core, and the transaction starts later.)
//
// A hash made ahead is only a guess at the edit's parent (see likelyRevHash in database.ts): the
// transaction checks the parent and hashes again when it differs. If the worker cannot start,
// fails or is busy, the main thread makes every hash; nothing depends on the worker.

import { Worker } from 'node:worker_threads';
import { debuglog } from 'node:util';
import { newRevHash } from '../revtree/index.js';
import type { ParsedDoc } from '../docs/parse-doc.js';

const log = debuglog('chaise:storage');

/** One edit to hash: its parent as named by the edit, its deleted flag, its body as JSON text. */
export interface HashJob {
  parentRev: string | null;
  deleted: boolean;
  json: string;
}

export type WorkerRequest = { kind: 'hash'; id: number; jobs: HashJob[] } | { kind: 'bulk'; raw: Uint8Array; shared: SharedArrayBuffer };
export type HashReply = { id: number; hashes: string[] } | { id: number; error: string };

/** How long the main thread waits for a doc the worker has claimed before hashing it itself. */
const CLAIMED_WAIT_MS = 20;

/** The rev hash of an edit without attachments; the only kind hashed ahead of its transaction. */
export function plainRevHash(parentRev: string | null, deleted: boolean, body: unknown): string {
  return newRevHash({ parentRev, deleted, body, attachmentDigests: [] });
}

export function hasAttachments(doc: ParsedDoc): boolean {
  return doc.attachments !== undefined && doc.attachments.length > 0;
}

/**
 * The rev hash an edit will get if its parent is the one it names (`_rev`, or none), or undefined
 * for edits with attachments (their hash covers stored stubs, known only in the transaction).
 */
export function likelyHashOf(doc: ParsedDoc): string | undefined {
  return hasAttachments(doc) ? undefined : plainRevHash(doc.rev ?? null, doc.deleted, doc.body);
}

/**
 * The shared memory of one `bulk` job. Int32 cells: [0] the number of docs the worker parsed (0
 * until it has, -1 if it gave up), then one claim per doc (see Claim); after them, 16 bytes of
 * md5 per doc.
 */
export const Claim = {
  Free: 0,
  Main: 1,
  /** The worker is hashing it. */
  Worker: 2,
  /** The worker's hash is in the buffer. */
  Hashed: 3,
  /** The worker will not hash it (attachments, or it is not a valid doc). */
  None: 4,
} as const;

export function bulkLayout(shared: SharedArrayBuffer): { header: Int32Array; claims: Int32Array; digests: Uint8Array; capacity: number } {
  const capacity = Math.floor((shared.byteLength - 4) / 20);
  return {
    header: new Int32Array(shared, 0, 1),
    claims: new Int32Array(shared, 4, capacity),
    digests: new Uint8Array(shared, 4 + 4 * capacity, 16 * capacity),
    capacity,
  };
}

/** A `bulk` job in progress: the main thread's side of the claims. */
export class BulkHashes {
  private readonly layout: ReturnType<typeof bulkLayout>;

  constructor(shared: SharedArrayBuffer) {
    this.layout = bulkLayout(shared);
  }

  /**
   * Gives every doc its `revHash`: hashes docs from the first one on until it meets one the worker
   * has claimed, then takes the worker's hashes for the rest. It makes them itself where the
   * worker's parse did not find these same docs, or the worker is slow to finish one.
   */
  fill(docs: ParsedDoc[]): void {
    const { header, claims, digests, capacity } = this.layout;
    const n = docs.length;
    let i = 0;
    for (; i < n; i++) {
      if (i < capacity && Atomics.compareExchange(claims, i, Claim.Free, Claim.Main) !== Claim.Free) break;
      setHash(docs[i] as ParsedDoc, likelyHashOf(docs[i] as ParsedDoc));
    }
    const sameDocs = Atomics.load(header, 0) === n;
    for (; i < n; i++) {
      const doc = docs[i] as ParsedDoc;
      if (sameDocs && Atomics.load(claims, i) === Claim.Worker) Atomics.wait(claims, i, Claim.Worker, CLAIMED_WAIT_MS);
      const claim = Atomics.load(claims, i);
      if (sameDocs && claim === Claim.Hashed) setHash(doc, Buffer.from(digests.buffer, digests.byteOffset + 16 * i, 16).toString('hex'));
      else if (!(sameDocs && claim === Claim.None)) setHash(doc, likelyHashOf(doc));
    }
  }
}

function setHash(doc: ParsedDoc, hash: string | undefined): void {
  if (hash !== undefined) doc.revHash = { parentRev: doc.rev ?? null, deleted: doc.deleted, json: doc.json, hash };
}

export class RevHasher {
  private worker: Worker | undefined;
  private broken = false;
  private nextId = 0;
  private readonly waiting = new Map<number, (hashes: string[] | undefined) => void>();

  /** The jobs' hashes in order, or undefined when they must be made on the main thread. */
  hash(jobs: HashJob[]): Promise<string[] | undefined> {
    const worker = this.start();
    if (!worker) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage({ kind: 'hash', id, jobs } satisfies WorkerRequest);
    });
  }

  /**
   * Starts hashing the docs of a `_bulk_docs` body (at most `docsMax` of them) on the worker, or
   * returns undefined when there is no worker. The bytes are copied; the caller keeps `raw`.
   */
  bulk(raw: Uint8Array, docsMax: number): BulkHashes | undefined {
    const worker = this.start();
    if (!worker) return undefined;
    // A doc takes at least 3 bytes (`{},`), so this bounds the docs a body can hold.
    const capacity = Math.min(docsMax, Math.ceil(raw.length / 3));
    const shared = new SharedArrayBuffer(4 + 20 * capacity);
    worker.postMessage({ kind: 'bulk', raw, shared } satisfies WorkerRequest);
    return new BulkHashes(shared);
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.broken = true;
    this.settleAll();
    if (worker) await worker.terminate();
  }

  private start(): Worker | undefined {
    if (this.worker || this.broken) return this.worker;
    try {
      const worker = import.meta.url.endsWith('.ts')
        ? // Run from source (tests under tsx): the worker registers tsx before loading the .ts sibling.
          new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(new URL('./rev-hash-worker.ts', import.meta.url).href)}); });`, { eval: true })
        : new Worker(new URL('./rev-hash-worker.js', import.meta.url));
      // The node may exit with the worker idle; it holds no state worth waiting for.
      worker.unref();
      worker.on('message', (reply: HashReply) => {
        const resolve = this.waiting.get(reply.id);
        this.waiting.delete(reply.id);
        if ('error' in reply) log('rev hash worker could not hash a batch: %s', reply.error);
        resolve?.('error' in reply ? undefined : reply.hashes);
      });
      worker.on('error', (e) => this.fail(e));
      worker.on('exit', (code) => {
        if (this.worker === worker) this.fail(new Error(`exited with code ${code}`));
      });
      this.worker = worker;
    } catch (e) {
      this.fail(e);
    }
    return this.worker;
  }

  private fail(e: unknown): void {
    log('rev hash worker failed, hashing on the main thread from now on: %o', e);
    this.worker = undefined;
    this.broken = true;
    this.settleAll();
  }

  private settleAll(): void {
    for (const resolve of this.waiting.values()) resolve(undefined);
    this.waiting.clear();
  }
}
