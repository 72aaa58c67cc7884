// The registry of logical databases: which databases the cluster has, so `_all_dbs` is
// right and half-done creates and deletes can be repaired.
//
// Lounge answered `_all_dbs` from the first node, which missed databases with no shard
// there. Here one small node database, `lounge_registry`, lives on every node and holds
// one doc per logical database: `{_id: "db:<name>", created: <unix seconds>}`, deleted when
// the database is (the prefix because `_users` & co. are not valid document ids). Registry revisions are made by the lounge itself (deterministic, from the
// parent rev and the content) and written to every node with `new_edits=false`, so every
// copy has the same revision tree whichever nodes were up, and reading all copies and
// taking the winning revision gives the answer. A periodic refresh copies the winner to
// nodes that missed it and picks up databases other lounges created.

import { createHash } from 'node:crypto';
import type { NodeClient } from '../upstream/node-client.js';
import { dbPath, docPath, UpstreamError } from '../upstream/node-client.js';

/** The node database holding the registry. Not a `shards/` name, so it never collides with a shard. */
export const REGISTRY_DB = 'lounge_registry';
/** Registry doc ids are `db:<name>`: system database names start with `_`, which a doc id may not. */
const ID_PREFIX = 'db:';

export interface RegistryEntry {
  name: string;
  rev: string;
  deleted: boolean;
  /** Unix seconds of creation: the database's `instance_start_time`. */
  created: number;
  /** The database's `_security` as last set through a lounge: what the syncer restores on shards. */
  security?: Record<string, unknown>;
  /** Created with `?partitioned=true`: placement hashes partitions, shards are partitioned. */
  partitioned?: boolean;
}

interface RegistryDoc {
  _id: string;
  _rev: string;
  _deleted?: boolean;
  created?: number;
  security?: Record<string, unknown>;
  partitioned?: boolean;
}

/** CouchDB's winner rule on two leaf revisions: not deleted first, then higher pos, then higher hash. */
export function newerEntry(a: RegistryEntry, b: RegistryEntry): RegistryEntry {
  if (a.deleted !== b.deleted) return a.deleted ? b : a;
  const [pa, ha] = splitRev(a.rev);
  const [pb, hb] = splitRev(b.rev);
  if (pa !== pb) return pa > pb ? a : b;
  return ha >= hb ? a : b;
}

function splitRev(rev: string): [number, string] {
  const i = rev.indexOf('-');
  return [Number(rev.slice(0, i)), rev.slice(i + 1)];
}

export class Registry {
  private entries = new Map<string, RegistryEntry>();

  constructor(
    private readonly client: NodeClient,
    private nodes: readonly string[],
  ) {}

  /** The nodes holding registry copies changed (a node was added or removed); the next refresh copies it to new ones. */
  setNodes(nodes: readonly string[]): void {
    this.nodes = [...nodes];
  }

  /** A live (not deleted) database, or undefined. */
  get(name: string): RegistryEntry | undefined {
    const e = this.entries.get(name);
    return e && !e.deleted ? e : undefined;
  }

  /** Deleted databases whose shards a node that was down may still hold. */
  tombstones(): RegistryEntry[] {
    return [...this.entries.values()].filter((e) => e.deleted);
  }

  /** Live database names in raw byte order, as `_all_dbs` lists them. */
  names(): string[] {
    return [...this.entries.values()].filter((e) => !e.deleted).map((e) => e.name).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }

  /** Reads every reachable copy, keeps the winners, and repairs copies that lag. */
  async refresh(): Promise<void> {
    const perNode = await Promise.all(this.nodes.map((n) => this.readNode(n)));
    const merged = new Map<string, RegistryEntry>();
    for (const list of perNode) {
      for (const e of list ?? []) {
        const cur = merged.get(e.name);
        merged.set(e.name, cur ? newerEntry(cur, e) : e);
      }
    }
    this.entries = merged;
    // Repair: a node that missed a registry write gets the winning revision.
    const repairs: Promise<unknown>[] = [];
    this.nodes.forEach((node, i) => {
      const list = perNode[i];
      if (!list) return;
      const have = new Map(list.map((e) => [e.name, e.rev]));
      const missing = [...merged.values()].filter((e) => have.get(e.name) !== e.rev);
      if (missing.length > 0) repairs.push(this.writeNode(node, missing.map((e) => toDoc(e))).catch(() => undefined));
    });
    await Promise.all(repairs);
  }

  /** Records a new database; returns its entry. */
  async create(name: string, partitioned = false): Promise<RegistryEntry> {
    await this.refreshOne(name);
    const parent = this.entries.get(name);
    const created = Math.floor(Date.now() / 1000);
    const entry: RegistryEntry = { name, deleted: false, created, rev: nextRev(parent?.rev, partitioned ? { created, partitioned } : { created }) };
    if (partitioned) entry.partitioned = true;
    await this.writeAll([toDoc(entry, parent)]);
    this.entries.set(name, entry);
    return entry;
  }

  /** Records a database's `_security` (a new registry revision). */
  async setSecurity(name: string, security: Record<string, unknown>): Promise<void> {
    const parent = this.entries.get(name);
    if (!parent || parent.deleted) return;
    const entry: RegistryEntry = { ...parent, security, rev: nextRev(parent.rev, { created: parent.created, security }) };
    await this.writeAll([toDoc(entry, parent)]);
    this.entries.set(name, entry);
  }

  /** Marks a database deleted. */
  async remove(name: string): Promise<void> {
    const parent = this.entries.get(name);
    if (!parent || parent.deleted) return;
    const entry: RegistryEntry = { name, deleted: true, created: parent.created, rev: nextRev(parent.rev, { deleted: true }) };
    await this.writeAll([toDoc(entry, parent)]);
    this.entries.set(name, entry);
  }

  /** Re-reads one database's entry (another lounge may have created or deleted it). */
  async refreshOne(name: string): Promise<RegistryEntry | undefined> {
    for (const node of this.nodes) {
      if (!this.client.isUp(node)) continue;
      try {
        const res = await this.client.request(node, { method: 'GET', path: `${dbPath(REGISTRY_DB)}/${docPath(ID_PREFIX + name)}` });
        if (res.status === 404) {
          const err = await res.toError();
          if (err.reason === 'deleted') {
            // keep what we know; the tombstone's rev comes with the next full refresh
          } else if (err.reason === 'missing') this.entries.delete(name);
          else continue;
          return this.get(name);
        }
        if (res.status !== 200) {
          res.discard();
          continue;
        }
        const e = fromDoc(await res.json<RegistryDoc>());
        const cur = this.entries.get(name);
        this.entries.set(name, cur ? newerEntry(cur, e) : e);
        return this.get(name);
      } catch (e) {
        if (e instanceof UpstreamError) continue;
        throw e;
      }
    }
    return this.get(name);
  }

  private async readNode(node: string): Promise<RegistryEntry[] | undefined> {
    try {
      await this.ensureDb(node);
      type Change = { id: string; deleted?: boolean; changes: { rev: string }[]; doc?: RegistryDoc | null };
      const { body } = await this.client.json<{ results: Change[] }>(node, {
        method: 'GET',
        path: `${dbPath(REGISTRY_DB)}/_changes?include_docs=true`,
      });
      return body.results
        .filter((r) => r.id.startsWith(ID_PREFIX))
        .map((r) => (r.doc ? fromDoc(r.doc) : { name: r.id.slice(ID_PREFIX.length), rev: r.changes[0]?.rev ?? '0-0', deleted: r.deleted === true, created: 0 }));
    } catch (e) {
      if (e instanceof UpstreamError) return undefined;
      throw e;
    }
  }

  private async ensureDb(node: string): Promise<void> {
    const res = await this.client.request(node, { method: 'PUT', path: dbPath(REGISTRY_DB) });
    res.discard();
    if (res.status !== 201 && res.status !== 412 && res.status !== 202) throw new UpstreamError(node, res.status, 'registry', `cannot create ${REGISTRY_DB}`);
  }

  private async writeAll(docs: RegistryDoc[]): Promise<void> {
    const results = await Promise.allSettled(this.nodes.map((n) => this.writeNode(n, docs)));
    if (!results.some((r) => r.status === 'fulfilled')) throw new UpstreamError('*', 0, 'unavailable', 'no node accepted the registry write');
  }

  private async writeNode(node: string, docs: RegistryDoc[]): Promise<void> {
    let res = await this.client.request(node, {
      method: 'POST',
      path: `${dbPath(REGISTRY_DB)}/_bulk_docs`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ docs, new_edits: false }),
    });
    if (res.status === 404) {
      res.discard();
      await this.ensureDb(node);
      res = await this.client.request(node, {
        method: 'POST',
        path: `${dbPath(REGISTRY_DB)}/_bulk_docs`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ docs, new_edits: false }),
      });
    }
    if (res.status >= 300) throw await res.toError();
    res.discard();
  }
}

function fromDoc(d: RegistryDoc): RegistryEntry {
  const e: RegistryEntry = { name: d._id.slice(ID_PREFIX.length), rev: d._rev, deleted: d._deleted === true, created: typeof d.created === 'number' ? d.created : 0 };
  if (typeof d.security === 'object' && d.security !== null) e.security = d.security;
  if (d.partitioned === true) e.partitioned = true;
  return e;
}

/** The replicated form of an entry, with a `_revisions` path down to its parent. */
function toDoc(e: RegistryEntry, parent?: RegistryEntry): RegistryDoc & { _revisions: { start: number; ids: string[] } } {
  const [pos, hash] = splitRev(e.rev);
  const ids = [hash];
  if (parent) {
    const [ppos, phash] = splitRev(parent.rev);
    if (ppos === pos - 1) ids.push(phash);
  }
  const body = e.deleted ? { _deleted: true } : { created: e.created, ...(e.security ? { security: e.security } : {}), ...(e.partitioned ? { partitioned: true } : {}) };
  return { _id: ID_PREFIX + e.name, _rev: e.rev, ...body, _revisions: { start: pos, ids } };
}

/** A deterministic child revision: the same edit made by two lounges gets the same rev. */
function nextRev(parent: string | undefined, content: object): string {
  const pos = parent ? splitRev(parent)[0] + 1 : 1;
  return `${pos}-${createHash('md5').update(`${parent ?? ''}\0${JSON.stringify(content)}`).digest('hex')}`;
}
