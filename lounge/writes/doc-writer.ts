// Writes through the lounge: one document (PUT, DELETE, attachments) or a `_bulk_docs`
// batch, made on a write leader per range and copied, as the exact same revision, to the
// range's other replicas.
//
// It guarantees:
// - the client's edit runs once, on the leader (the first healthy replica in the range's
//   rotated order), so conflict detection is the node's own; if the leader gives no answer
//   the next replica leads (its deterministic rev ids make a retried edit the same rev), and
//   so it does when the leader refuses an edit with 409 only because it lacks the parent
//   revision (it was down when that revision was written and is not caught up yet);
// - every other replica receives that revision with `new_edits=false`, so the replicas'
//   revision trees stay identical; replicas that are down are skipped and remembered for
//   the syncer (hinted handoff);
// - the answer is 201 (200 for deletions) when `w` replicas have the revision, 202 when
//   fewer do, and the leader's own error (409, 400, ...) when it refused the edit;
// - a design document is also copied to every replica of every other range, so each shard
//   can answer views and filters (the home copy is the one reads show);
// - `_bulk_docs` results come back in request order, with ids the proxy assigned to docs
//   that had none;
// - during a move or split, every write is also copied to the range's joining targets (not
//   counted for `w`), and a range can be paused: new writes to it wait, and `pause`
//   resolves once the writes already running have finished (a switch needs that quiet).

import { randomBytes } from 'node:crypto';
import type { Range } from '../placement/ranges.js';
import type { ShardMap } from '../placement/shard-map.js';
import { WriteGate } from './write-gate.js';
import { badRequest, LoungeError, unavailable } from '../errors/lounge-error.js';
import { dbPath, docPath, UpstreamError, type NodeClient, type UpstreamResponse } from '../upstream/node-client.js';
import { DB_MISSING_REASON, type ReplicaReader } from '../upstream/replica-reader.js';
import { batchStatus, quorumStatus } from './quorum.js';
import { copyableBody, replicatedDoc } from './replicated-copy.js';

/** Told about every replica that missed a write, so the syncer can bring it up to date. */
export interface MissedWrites {
  missed(db: string, range: Range, node: string): void;
}

export interface DocWrite {
  db: string;
  docId: string;
  method: string;
  /** Below the shard: `docPath(id)` or `docPath(id)/attachment`. */
  subPath: string;
  /** The client's query string, with its leading `?`, or ''. */
  search: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  /** The body parsed, when it is a JSON document. */
  json: Record<string, unknown> | undefined;
  /** The revision the edit replaces (body `_rev`, `?rev=` or If-Match), if any. */
  parentRev: string | undefined;
  /** True for attachment requests: their copies are always read back from the leader. */
  attachment: boolean;
  /** `?new_edits=false`: a replicated write, sent to every replica as is. */
  replicated: boolean;
}

export interface WriteOutcome {
  status: number;
  body: Record<string, unknown>;
  etag: string | undefined;
}

type Doc = Record<string, unknown> & { _id?: string; _rev?: string };
type BulkRow = { ok?: boolean; id?: string; rev?: string; error?: string; reason?: string };

const JSON_HEADERS = { 'content-type': 'application/json' };

/** A random 32-hex id for docs posted without one (CouchDB's `random` uuid algorithm). */
export function newDocId(): string {
  return randomBytes(16).toString('hex');
}

export class DocWriter {
  /** Writes running per range, and ranges paused for a switch. */
  readonly gate = new WriteGate();

  constructor(
    private readonly map: ShardMap,
    private readonly client: NodeClient,
    private readonly reader: ReplicaReader,
    private readonly w: number,
    private readonly hints: MissedWrites,
  ) {}

  /** One document write (see the file header). */
  async write(req: DocWrite): Promise<WriteOutcome> {
    const range = await this.gate.enter(() => [this.map.rangeOf(req.docId, req.db)]).then((r) => r[0] as Range);
    try {
      return await this.writeIn(req, range);
    } finally {
      this.gate.leave([range]);
    }
  }

  private async writeIn(req: DocWrite, range: Range): Promise<WriteOutcome> {
    const shard = this.map.shardName(range, req.db);
    const path = `${dbPath(shard)}/${req.subPath}${req.search}`;
    if (req.replicated) return this.replicatedWrite(req, range, path);

    const parentRev = req.parentRev;
    const lagging = parentRev === undefined ? undefined : (node: string) => this.lacksRev(node, shard, req.docId, parentRev);
    const { res, leader } = await this.lead(req.db, range, (node) => this.client.request(node, { method: req.method, path, headers: req.headers, ...(req.body ? { body: req.body } : {}) }), lagging);
    if (res.status >= 400) throw await res.toError();
    const body = await res.json<Record<string, unknown>>();
    const rev = typeof body.rev === 'string' ? body.rev : undefined;
    if (!rev) return { status: res.status, body, etag: undefined };

    let doc: Doc | undefined;
    if (!req.attachment && req.method === 'DELETE') doc = replicatedDoc(req.docId, { _deleted: true }, rev, req.parentRev);
    else if (!req.attachment && req.json && copyableBody(req.json)) doc = replicatedDoc(req.docId, req.json, rev, req.parentRev);
    doc ??= await this.readBack(leader, shard, req.docId, rev);

    const others = this.map.replicas(req.db, range).filter((n) => n !== leader);
    const [copied] = await Promise.all([this.copy(req.db, range, others, [doc]), this.copyJoining(req.db, range, [doc])]);
    const acks = 1 + copied.filter((n) => n === 1).length;
    if (req.docId.startsWith('_design/')) await this.copyDesignEverywhere(req.db, range, [doc]);
    const status = quorumStatus(res.status === 202 ? 201 : res.status, acks, this.w) ?? 202;
    return { status, body, etag: `"${rev}"` };
  }

  /** `_bulk_docs` (see the file header). */
  async bulk(db: string, body: Record<string, unknown>): Promise<{ status: number; rows: unknown[] }> {
    const docs = body.docs;
    if (docs === undefined) throw badRequest('POST body must include `docs` parameter.');
    if (!Array.isArray(docs)) throw badRequest('`docs` parameter must be an array.');
    const newEdits = body.new_edits !== false;
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) if (k !== 'docs' && k !== 'new_edits') extra[k] = v;

    for (const raw of docs) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw badRequest('Document must be a JSON object');
      const doc = raw as Doc;
      if (doc._id === undefined) {
        if (!newEdits) throw badRequest('Document id must be a string'); // CouchDB: a replicated doc needs its id
        doc._id = newDocId();
      }
    }
    // Grouping happens once no range of the batch is paused, with no await in between, so
    // the groups match the map the writes go to.
    const entered = await this.gate.enter(() => this.bulkRanges(docs as Doc[], db));
    try {
      return await this.bulkIn(db, docs as Doc[], newEdits, extra);
    } finally {
      this.gate.leave(entered);
    }
  }

  private bulkRanges(docs: readonly Doc[], db: string): Range[] {
    const seen = new Map<string, Range>();
    for (const d of docs) {
      if (typeof d._id !== 'string') continue;
      const r = this.map.rangeOf(d._id, db);
      seen.set(r.name, r);
    }
    return [...seen.values()];
  }

  private async bulkIn(db: string, docs: Doc[], newEdits: boolean, extra: Record<string, unknown>): Promise<{ status: number; rows: unknown[] }> {
    const groups = new Map<string, { range: Range; idx: number[]; docs: Doc[] }>();
    for (const [i, raw] of docs.entries()) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw badRequest('Document must be a JSON object');
      const doc = raw as Doc;
      if (doc._id === undefined) {
        if (!newEdits) throw badRequest('Document id must be a string'); // CouchDB: a replicated doc needs its id
        doc._id = newDocId();
      }
      if (typeof doc._id !== 'string') throw new LoungeError(400, 'illegal_docid', 'Document id must be a string');
      if (doc._id.startsWith('_') && !doc._id.startsWith('_design/') && !doc._id.startsWith('_local/')) {
        throw new LoungeError(400, 'illegal_docid', 'Only reserved document ids may start with underscore.');
      }
      const range = this.map.rangeOf(doc._id, db);
      let g = groups.get(range.name);
      if (!g) groups.set(range.name, (g = { range, idx: [], docs: [] }));
      g.idx.push(i);
      g.docs.push(doc);
    }

    const rows: unknown[] = new Array(docs.length).fill(undefined);
    const acks: number[] = new Array<number>(docs.length).fill(0);
    const written: boolean[] = new Array<boolean>(docs.length).fill(false);
    await Promise.all(
      [...groups.values()].map((g) => (newEdits ? this.bulkLeaderGroup(db, g, extra, rows, acks, written) : this.bulkReplicatedGroup(db, g, rows, acks, written))),
    );
    const status = batchStatus(acks.filter((_, i) => written[i]), this.w);
    return { status, rows: newEdits ? rows : rows.filter((r) => r !== undefined) };
  }

  private async bulkLeaderGroup(
    db: string,
    g: { range: Range; idx: number[]; docs: Doc[] },
    extra: Record<string, unknown>,
    rows: unknown[],
    acks: number[],
    written: boolean[],
  ): Promise<void> {
    const shard = this.map.shardName(g.range, db);
    let lead: { res: UpstreamResponse; leader: string };
    try {
      lead = await this.lead(db, g.range, (node) =>
        this.client.request(node, { method: 'POST', path: `${dbPath(shard)}/_bulk_docs`, headers: JSON_HEADERS, body: JSON.stringify({ ...extra, docs: g.docs, new_edits: true }) }),
      );
    } catch (e) {
      if (!(e instanceof LoungeError) || e.status !== 503) throw e;
      g.idx.forEach((i, j) => (rows[i] = { id: g.docs[j]?._id, error: 'unavailable', reason: e.reason }));
      return;
    }
    const { res, leader } = lead;
    if (res.status >= 400) throw await res.toError();
    const results = await res.json<BulkRow[]>();
    const copies: Doc[] = [];
    const copyIdx: number[] = [];
    const readBack: { id: string; rev: string; i: number }[] = [];
    // Rows are matched to docs by id, not by position: CouchDB keeps the request's order, but
    // not every CouchDB-API node does, and a row paired with the wrong doc would copy that doc
    // to the other replicas under another doc's revision.
    const order = rowOrder(g.docs, results);
    results.forEach((r, k) => {
      const j = order[k] as number;
      const i = g.idx[j] as number;
      rows[i] = r;
      if (r.ok !== true && !(r.rev && !r.error)) return;
      written[i] = true;
      acks[i] = 1;
      const doc = g.docs[j] as Doc;
      const rev = r.rev as string;
      const copy = copyableBody(doc) ? replicatedDoc(doc._id as string, doc, rev, typeof doc._rev === 'string' ? doc._rev : undefined) : undefined;
      if (copy) {
        copies.push(copy);
        copyIdx.push(i);
      } else readBack.push({ id: doc._id as string, rev, i });
    });
    if (readBack.length > 0) {
      const fetched = await this.bulkReadBack(leader, shard, readBack);
      fetched.forEach((d, k) => {
        copies.push(d);
        copyIdx.push((readBack[k] as { i: number }).i);
      });
    }
    if (copies.length === 0) return;
    const others = this.map.replicas(db, g.range).filter((n) => n !== leader);
    const [perDoc] = await Promise.all([this.copy(db, g.range, others, copies), this.copyJoining(db, g.range, copies)]);
    perDoc.forEach((n, k) => (acks[copyIdx[k] as number] = (acks[copyIdx[k] as number] ?? 0) + n));
    const ddocs = copies.filter((d) => String(d._id).startsWith('_design/'));
    if (ddocs.length > 0) await this.copyDesignEverywhere(db, g.range, ddocs);
  }

  private async bulkReplicatedGroup(db: string, g: { range: Range; idx: number[]; docs: Doc[] }, rows: unknown[], acks: number[], written: boolean[]): Promise<void> {
    const replicas = this.map.replicas(db, g.range);
    const [perDoc] = await Promise.all([
      this.copy(db, g.range, replicas, g.docs, (j, err) => {
        rows[g.idx[j] as number] ??= err;
      }),
      this.copyJoining(db, g.range, g.docs),
    ]);
    perDoc.forEach((n, j) => {
      const i = g.idx[j] as number;
      acks[i] = n;
      written[i] = true;
      if (n > 0) rows[i] = undefined;
      else rows[i] ??= { id: g.docs[j]?._id, error: 'unavailable', reason: `no replica of range ${g.range.name} is reachable` };
    });
    const ddocs = g.docs.filter((d) => String(d._id).startsWith('_design/'));
    if (ddocs.length > 0) await this.copyDesignEverywhere(db, g.range, ddocs);
  }

  /**
   * Sends `send(node)` to the range's replicas in read order until one answers (any status but
   * 5xx / db missing). A 409 from a replica that `lagging` says lacks the edit's parent revision
   * (it was down when the doc was written, and the syncer has not caught it up yet) is not the
   * answer: the next replica leads, and the lagging one gets the revision as a copy. A 409
   * from every replica is the first one's.
   */
  private async lead(db: string, range: Range, send: (node: string) => Promise<UpstreamResponse>, lagging?: (node: string) => Promise<boolean>): Promise<{ res: UpstreamResponse; leader: string }> {
    let missing: UpstreamError | undefined;
    let conflict: UpstreamError | undefined;
    for (const node of this.reader.order(db, range)) {
      let res: UpstreamResponse;
      try {
        res = await send(node);
      } catch (e) {
        if (e instanceof UpstreamError && e.retryable) continue;
        throw e;
      }
      if (res.status >= 500) {
        res.discard();
        continue;
      }
      if (res.status === 404) {
        const err = await res.toError();
        if (err.reason === DB_MISSING_REASON) {
          missing = err;
          continue;
        }
        throw err;
      }
      if (res.status === 409 && lagging && (await lagging(node))) {
        conflict ??= await res.toError();
        continue;
      }
      return { res, leader: node };
    }
    if (conflict) throw conflict;
    if (missing) throw missing;
    throw unavailable(`range ${range.name} of ${db}`);
  }

  /**
   * Copies docs (replicated form) to `nodes` with new_edits=false. Returns, per doc, how many
   * of the nodes accepted it. Nodes that are down are skipped; every node that missed a doc
   * is reported to the syncer.
   */
  private async copy(db: string, range: Range, nodes: readonly string[], docs: readonly Doc[], onError?: (j: number, row: unknown) => void): Promise<number[]> {
    const counts = new Array<number>(docs.length).fill(0);
    if (docs.length === 0) return counts;
    const path = `${dbPath(this.map.shardName(range, db))}/_bulk_docs`;
    const payload = JSON.stringify({ docs, new_edits: false });
    await Promise.all(
      nodes.map(async (node) => {
        if (!this.client.isUp(node)) {
          this.hints.missed(db, range, node);
          return;
        }
        try {
          const res = await this.client.request(node, { method: 'POST', path, headers: JSON_HEADERS, body: payload });
          if (res.status >= 300) {
            const err = await res.toError();
            if (err.status < 500 && err.status !== 404) throw err; // a request the node refuses outright: the caller's error
            this.hints.missed(db, range, node);
            return;
          }
          const errs = await res.json<BulkRow[]>();
          const bad = new Set<string>();
          for (const r of Array.isArray(errs) ? errs : []) {
            if (r.error && r.id !== undefined) {
              bad.add(r.id);
              const j = docs.findIndex((d) => d._id === r.id);
              if (j >= 0) onError?.(j, r);
            }
          }
          docs.forEach((d, j) => {
            if (!bad.has(d._id as string)) counts[j] = (counts[j] as number) + 1;
          });
          if (bad.size > 0) this.hints.missed(db, range, node);
        } catch (e) {
          if (e instanceof UpstreamError && e.retryable) {
            this.hints.missed(db, range, node);
            return;
          }
          throw e;
        }
      }),
    );
    return counts;
  }

  /**
   * Copies docs to the range's joining targets (a move's new replica, a split's children):
   * each target gets the docs of its own range. Failures are left to the move's catch-up
   * pass, which replicates everything the range's replicas have before the switch.
   */
  private async copyJoining(db: string, range: Range, docs: readonly Doc[]): Promise<void> {
    const targets = this.map.joining(range);
    if (targets.length === 0 || docs.length === 0) return;
    await Promise.all(
      targets.map(async (t) => {
        const mine = t.range.name === range.name ? docs : docs.filter((d) => String(d._id).startsWith('_design/') || inRange(t.range, this.map.hashOf(String(d._id), db)));
        if (mine.length === 0 || !this.client.isUp(t.node)) return;
        try {
          const res = await this.client.request(t.node, { method: 'POST', path: `${dbPath(this.map.shardName(t.range, db))}/_bulk_docs`, headers: JSON_HEADERS, body: JSON.stringify({ docs: mine, new_edits: false }) });
          res.discard();
        } catch {
          // the catch-up pass copies it
        }
      }),
    );
  }

  /** Design docs are copied to every replica of every range besides their home. */
  private async copyDesignEverywhere(db: string, home: Range, ddocs: readonly Doc[]): Promise<void> {
    await Promise.all(
      this.map.ranges
        .filter((r) => r.name !== home.name)
        .map((r) =>
          Promise.all([this.copy(db, r, this.map.replicas(db, r), ddocs), this.copyJoining(db, r, ddocs)]).catch(() => this.map.replicas(db, r).forEach((n) => this.hints.missed(db, r, n))),
        ),
    );
  }

  /** Whether `node`'s shard lacks revision `rev` of `id` altogether (`_revs_diff`); no answer counts as not lacking. */
  private async lacksRev(node: string, shard: string, id: string, rev: string): Promise<boolean> {
    try {
      const { body } = await this.client.json<Record<string, { missing?: string[] }>>(node, {
        method: 'POST',
        path: `${dbPath(shard)}/_revs_diff`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ [id]: [rev] }),
      });
      return body[id]?.missing?.includes(rev) === true;
    } catch {
      return false;
    }
  }

  /** Reads a revision back from the leader with its full path and attachment bodies. */
  private async readBack(leader: string, shard: string, id: string, rev: string): Promise<Doc> {
    const { body } = await this.client.json<Doc>(leader, {
      method: 'GET',
      path: `${dbPath(shard)}/${docPath(id)}?rev=${encodeURIComponent(rev)}&revs=true&attachments=true`,
    });
    return body;
  }

  private async bulkReadBack(leader: string, shard: string, wanted: { id: string; rev: string }[]): Promise<Doc[]> {
    const { body } = await this.client.json<{ results: { id: string; docs: { ok?: Doc; error?: unknown }[] }[] }>(leader, {
      method: 'POST',
      path: `${dbPath(shard)}/_bulk_get?revs=true&attachments=true`,
      headers: JSON_HEADERS,
      body: JSON.stringify({ docs: wanted.map((x) => ({ id: x.id, rev: x.rev })) }),
    });
    return body.results.map((r, k) => {
      const ok = r.docs.find((d) => d.ok)?.ok;
      if (!ok) throw new UpstreamError(leader, 500, 'internal_error', `leader lost ${wanted[k]?.id} ${wanted[k]?.rev}`);
      return ok;
    });
  }

  /** `?new_edits=false` on one doc: every replica gets the request as is. */
  private async replicatedWrite(req: DocWrite, range: Range, path: string): Promise<WriteOutcome> {
    const replicas = this.map.replicas(req.db, range);
    const joining = req.json ? this.copyJoining(req.db, range, [{ ...req.json, _id: req.docId }]) : Promise.resolve();
    const answers = await Promise.all(
      replicas.map(async (node) => {
        if (!this.client.isUp(node)) {
          this.hints.missed(req.db, range, node);
          return undefined;
        }
        try {
          const res = await this.client.request(node, { method: req.method, path, headers: req.headers, ...(req.body ? { body: req.body } : {}) });
          if (res.status >= 400) return await res.toError();
          return { status: res.status, body: await res.json<Record<string, unknown>>() };
        } catch (e) {
          if (e instanceof UpstreamError && e.retryable) {
            this.hints.missed(req.db, range, node);
            return undefined;
          }
          throw e;
        }
      }),
    );
    await joining;
    const oks = answers.filter((a): a is { status: number; body: Record<string, unknown> } => a !== undefined && !(a instanceof UpstreamError));
    const first = oks[0];
    if (!first) {
      const err = answers.find((a): a is UpstreamError => a instanceof UpstreamError && !a.retryable);
      if (err) throw err;
      throw unavailable(`range ${range.name} of ${req.db}`);
    }
    if (req.docId.startsWith('_design/') && req.json) {
      await this.copyDesignEverywhere(req.db, range, [{ ...req.json, _id: req.docId }]);
    }
    // CouchDB answers {ok, id, rev}; some CouchDB-API nodes (pouchdb-server) answer `[]`:
    // the answer of a node that said what it stored wins, else CouchDB's is made from the request.
    const said = oks.find((a) => typeof a.body === 'object' && a.body !== null && !Array.isArray(a.body) && typeof a.body.rev === 'string');
    const sent = typeof req.json?._rev === 'string' ? req.json._rev : undefined;
    const body = said?.body ?? (sent ? { ok: true, id: req.docId, rev: sent } : first.body);
    const rev = typeof body.rev === 'string' ? body.rev : undefined;
    return { status: quorumStatus((said ?? first).status, oks.length, this.w) ?? 202, body, etag: rev ? `"${rev}"` : undefined };
  }
}

/** For each result row, the index of the doc it answers: by id (in request order for repeated ids), else by position. */
export function rowOrder(docs: readonly Doc[], rows: readonly BulkRow[]): number[] {
  const free = new Map<string, number[]>();
  docs.forEach((d, j) => {
    const id = String(d._id);
    free.set(id, [...(free.get(id) ?? []), j]);
  });
  const used = new Set<number>();
  const out = rows.map((r) => {
    const j = typeof r.id === 'string' ? free.get(r.id)?.shift() : undefined;
    if (j !== undefined) used.add(j);
    return j;
  });
  let next = 0;
  return out.map((j) => {
    if (j !== undefined) return j;
    while (used.has(next)) next++;
    used.add(next);
    return next;
  });
}

function inRange(range: Range, hash: number): boolean {
  return hash >= range.begin && hash <= range.end;
}
