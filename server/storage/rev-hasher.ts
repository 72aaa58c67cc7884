// Rev hashes for large writes, made on a worker thread. A `_bulk_docs` of a thousand docs spends
// about a fifth of its main-thread time on canonical JSON and md5; with this, the next chunk's
// hashes are made on the other core while the main thread applies the current chunk.
//
// A hash made here is only a guess at the edit's parent (see likelyRevHash in database.ts): the
// transaction checks the parent and hashes again when it differs. If the worker cannot start or
// fails, every hash is made on the main thread as before; nothing depends on the worker.

import { Worker } from 'node:worker_threads';
import { debuglog } from 'node:util';

const log = debuglog('chaise:storage');

/** One edit to hash: its parent as named by the edit, its deleted flag, its body as JSON text. */
export interface HashJob {
  parentRev: string | null;
  deleted: boolean;
  json: string;
}
export interface HashRequest {
  id: number;
  jobs: HashJob[];
}
export type HashReply = { id: number; hashes: string[] } | { id: number; error: string };

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
      worker.postMessage({ id, jobs } satisfies HashRequest);
    });
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
