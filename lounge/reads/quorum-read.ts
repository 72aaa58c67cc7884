// Quorum reads of single documents, as CouchDB's `fabric_doc_open` does them: `r` replicas
// are asked at once (default the config's `r`, `n/2+1`; `?r=1` keeps the one-replica read),
// and the answer is the winner among them.
//
// It guarantees:
// - when the replicas agree (same status, same `_rev`) the first answer is sent as is: the
//   common case costs one parallel round trip, no more;
// - when they disagree, each one's leaves (`open_revs=all&revs=true`) are merged as revision
//   trees are (a leaf another replica's history extends is not a leaf), the winner is
//   CouchDB's (not deleted first, then the longest path, then the highest hash), and the
//   document is read at that revision with the client's options from a replica that has it;
// - every replica that disagreed is repaired in the background: it is handed to the syncer
//   (hinted handoff), which replicates its peers to it, as CouchDB's read repair writes the
//   winner to stale copies;
// - a replica that gives no answer (down, 5xx, shard missing) is replaced by the next one;
//   with fewer than `r` answers the best of those is sent (CouchDB does the same).

import type { Lounge } from '../lounge.js';
import type { Range } from '../placement/ranges.js';
import { dbNotFound, LoungeError, unavailable } from '../errors/lounge-error.js';
import { dbPath, docPath, UpstreamError, type UpstreamResponse } from '../upstream/node-client.js';
import { DB_MISSING_REASON } from '../upstream/replica-reader.js';

export interface DocAnswer {
  node: string;
  status: number;
  headers: UpstreamResponse['headers'];
  body: Buffer;
}

type Leaf = { rev: string; deleted: boolean; history: string[] };

/** Parses `?r=`: an integer from 1 to n. */
export function parseR(text: string | null, n: number, fallback: number): number {
  if (text === null) return fallback;
  const r = Number(text);
  if (!Number.isInteger(r) || r < 1) throw new LoungeError(400, 'bad_request', `r must be a positive integer, not '${text}'`);
  return Math.min(r, n);
}

/** CouchDB's winner order on leaves: not deleted first, then higher position, then higher hash. */
export function winningLeaf(leaves: readonly Leaf[]): Leaf | undefined {
  const superseded = new Set(leaves.flatMap((l) => l.history.slice(1)));
  const live = leaves.filter((l) => !superseded.has(l.rev));
  const unique = [...new Map(live.map((l) => [l.rev, l])).values()];
  return unique.sort((a, b) => {
    if (a.deleted !== b.deleted) return a.deleted ? 1 : -1;
    const [pa, ha] = splitRev(a.rev);
    const [pb, hb] = splitRev(b.rev);
    if (pa !== pb) return pb - pa;
    return hb > ha ? 1 : hb < ha ? -1 : 0;
  })[0];
}

function splitRev(rev: string): [number, string] {
  const i = rev.indexOf('-');
  return [Number(rev.slice(0, i)), rev.slice(i + 1)];
}

/** What an answer says about the doc, for comparing replicas: its rev, or the 404 reason. */
function identity(a: DocAnswer): string {
  if (a.status === 200) {
    try {
      const rev = (JSON.parse(a.body.toString('utf8')) as { _rev?: unknown })._rev;
      return `200 ${String(rev)}`;
    } catch {
      return `200 ?`;
    }
  }
  return `${a.status} ${a.body.toString('utf8')}`;
}

export class QuorumReader {
  constructor(private readonly lounge: Lounge) {}

  /**
   * Reads a document from `r` replicas of its range (see the file header). `search` is the
   * client's query string (with `?`), passed to the replicas as is.
   */
  async read(db: string, docId: string, range: Range, search: string, headers: Record<string, string>, r: number): Promise<DocAnswer> {
    const { lounge } = this;
    const order = lounge.reader.order(db, range);
    const shard = lounge.map.shardName(range, db);
    const path = `${dbPath(shard)}/${docPath(docId)}${search}`;
    const answers: DocAnswer[] = [];
    let next = 0;
    let refusal: UpstreamError | undefined;
    let dbMissing = 0;
    // Ask r replicas at once; each failure is replaced by the next replica in order.
    const ask = async (): Promise<void> => {
      while (next < order.length) {
        const node = order[next++] as string;
        try {
          const res = await lounge.client.request(node, { method: 'GET', path, headers });
          if (res.status >= 500) {
            res.discard();
            continue;
          }
          if (res.status === 404) {
            const body = await res.buffer();
            const text = body.toString('utf8');
            if (text.includes(DB_MISSING_REASON) || text.includes('"no_db_file"')) {
              dbMissing++;
              continue;
            }
            answers.push({ node, status: 404, headers: res.headers, body });
            return;
          }
          answers.push({ node, status: res.status, headers: res.headers, body: await res.buffer() });
          return;
        } catch (e) {
          if (e instanceof UpstreamError && e.retryable) continue;
          if (e instanceof UpstreamError) refusal ??= e;
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(r, order.length) }, () => ask()));
    const first = answers[0];
    if (!first) {
      if (refusal) throw refusal;
      if (dbMissing > 0 && dbMissing === order.length) throw dbNotFound(); // every replica says so (replica-reader.ts does the same)
      throw unavailable(`range ${range.name} of ${db}`);
    }
    const ids = answers.map(identity);
    if (ids.every((x) => x === ids[0])) return first;
    // They disagree: merge their leaves, answer the winner, repair the others in the background.
    for (const a of answers) lounge.hints.missed(db, range, a.node);
    return (await this.winner(db, docId, range, answers.map((a) => a.node), search, headers)) ?? first;
  }

  private async winner(db: string, docId: string, range: Range, nodes: string[], search: string, headers: Record<string, string>): Promise<DocAnswer | undefined> {
    const { lounge } = this;
    const shard = lounge.map.shardName(range, db);
    const leavesOf = await Promise.all(
      nodes.map(async (node) => {
        try {
          const { body } = await lounge.client.json<{ ok?: { _rev: string; _deleted?: boolean; _revisions?: { start: number; ids: string[] } } }[]>(node, {
            method: 'GET',
            path: `${dbPath(shard)}/${docPath(docId)}?open_revs=all&revs=true`,
            headers: { accept: 'application/json' },
          });
          return body.flatMap((x) => (x.ok ? [{ node, leaf: toLeaf(x.ok) }] : []));
        } catch {
          return [];
        }
      }),
    );
    const all = leavesOf.flat();
    const win = winningLeaf(all.map((x) => x.leaf));
    if (!win) return undefined;
    const holder = all.find((x) => x.leaf.rev === win.rev)?.node as string;
    const q = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
    if (win.deleted) {
      // CouchDB answers a deleted winner with 404 "deleted" unless a rev was asked for.
      return { node: holder, status: 404, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ error: 'not_found', reason: 'deleted' })) };
    }
    q.set('rev', win.rev);
    const res = await lounge.client.request(holder, { method: 'GET', path: `${dbPath(shard)}/${docPath(docId)}?${q.toString()}`, headers });
    return { node: holder, status: res.status, headers: res.headers, body: await res.buffer() };
  }
}

function toLeaf(doc: { _rev: string; _deleted?: boolean; _revisions?: { start: number; ids: string[] } }): Leaf {
  const history = doc._revisions ? doc._revisions.ids.map((id, i) => `${(doc._revisions as { start: number }).start - i}-${id}`) : [doc._rev];
  return { rev: doc._rev, deleted: doc._deleted === true, history };
}
