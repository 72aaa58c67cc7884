// The changes feed: which rows `_changes` shows after a sequence, filtered and shaped as asked.
// It reads the by-sequence index (each document once, at its latest change) and knows nothing of
// HTTP; routes/changes.ts streams what it yields as normal, longpoll, continuous or eventsource.

import { renderRevision } from '../docs/read.js';
import { leaves } from '../revtree/index.js';
import type { Database } from '../storage/database.js';
import type { DocInfo } from '../storage/records.js';

export type DocFilter = (id: string, info: DocInfo) => boolean;

export interface FeedOptions {
  style: 'main_only' | 'all_docs';
  includeDocs: boolean;
  conflicts: boolean;
  attachments: boolean;
  /** `att_encoding_info=true` on included docs. */
  attEncodingInfo?: boolean;
  descending: boolean;
  filter?: DocFilter;
  /** For `_doc_ids`: read only these documents instead of scanning the whole index. */
  docIds?: Set<string>;
  /** Design-doc filters run in the sandbox, many documents per call. */
  batchFilter?: (docs: Record<string, unknown>[]) => Promise<boolean[]>;
}

/** Documents handed to a sandboxed filter per call (one crossing into the isolate per batch). */
const FILTER_BATCH = 200;

/**
 * Like changeRows, for feeds whose filter is asynchronous and batched (design-doc filters): rows
 * the filter rejects come back with empty text so the caller can still advance its cursor.
 */
export async function* changeRowsAsync(db: Database, since: number, opts: FeedOptions): AsyncGenerator<FeedRow & { examined: number }> {
  const filter = opts.batchFilter;
  if (!filter) {
    yield* changeRows(db, since, opts);
    return;
  }
  let batch: { seq: number; id: string; info: DocInfo; doc: Record<string, unknown> }[] = [];
  const flush = async function* () {
    const verdicts = await filter(batch.map((b) => b.doc));
    for (let i = 0; i < batch.length; i++) {
      const b = batch[i] as (typeof batch)[number];
      yield { seq: b.seq, examined: b.seq, text: verdicts[i] ? renderRow(db, b.seq, b.id, b.info, opts) : '' };
    }
    batch = [];
  };
  for (const { seq, id, info } of db.changes(since, opts.descending)) {
    if (opts.docIds && !opts.docIds.has(id)) continue;
    const text = renderRevision(db, id, info, info.rev, { conflicts: true });
    batch.push({ seq, id, info, doc: text ? (JSON.parse(text) as Record<string, unknown>) : { _id: id, _rev: info.rev } });
    if (batch.length >= FILTER_BATCH) yield* flush();
  }
  if (batch.length > 0) yield* flush();
}

export interface FeedRow {
  seq: number;
  text: string;
}

/** Parses `since`: `0`, `now`, a sequence this database handed out, or an old bare integer (see seq.ts). */
export function parseSince(value: string | undefined, db: Database): number {
  return db.seq.parse(value, db.updateSeq);
}

/** Rows after `since`, in sequence order (or reverse), each rendered as JSON text. */
export function* changeRows(db: Database, since: number, opts: FeedOptions): Generator<FeedRow & { examined: number }> {
  if (opts.style === 'main_only' && !opts.includeDocs && !opts.filter && !opts.docIds) {
    // A plain feed shows each document's winning rev alone: its header has all of that.
    for (const { seq, id, header } of db.changeHeaders(since, opts.descending)) {
      yield { seq, text: headerRow(db, seq, id, header.rev, header.deleted), examined: seq };
    }
    return;
  }
  const source = opts.docIds && !opts.descending ? docIdRows(db, since, opts.docIds) : db.changes(since, opts.descending);
  for (const { seq, id, info } of source) {
    if (opts.docIds && !opts.docIds.has(id)) continue;
    if (opts.filter && !opts.filter(id, info)) {
      yield { seq, text: '', examined: seq };
      continue;
    }
    yield { seq, text: renderRow(db, seq, id, info, opts), examined: seq };
  }
}

/** With a small `doc_ids` list, look the documents up instead of scanning every change. */
function* docIdRows(db: Database, since: number, ids: Set<string>): Generator<{ seq: number; id: string; info: DocInfo }> {
  const found: { seq: number; id: string; info: DocInfo }[] = [];
  for (const id of ids) {
    const info = db.docInfo(id);
    if (info && info.seq > since) found.push({ seq: info.seq, id, info });
  }
  found.sort((a, b) => a.seq - b.seq);
  yield* found;
}

/** A `main_only` row without its doc, exactly as renderRow writes it. */
function headerRow(db: Database, seq: number, id: string, rev: string, deleted: boolean): string {
  const row = db.seq.rowHead(seq) + JSON.stringify(id) + ',"changes":[{"rev":"' + rev + '"}]';
  return deleted ? row + ',"deleted":true}' : row + '}';
}

export function renderRow(db: Database, seq: number, id: string, info: DocInfo, opts: FeedOptions): string {
  const revs = opts.style === 'all_docs' ? leaves(info.tree).map((l) => l.rev) : [info.rev];
  let row = db.seq.rowHead(seq) + JSON.stringify(id) + ',"changes":[';
  for (let i = 0; i < revs.length; i++) row += (i ? ',{"rev":"' : '{"rev":"') + revs[i] + '"}';
  row += ']';
  if (info.deleted) row += ',"deleted":true';
  if (opts.includeDocs) {
    const text = renderRevision(db, id, info, info.rev, { conflicts: opts.conflicts, attachments: opts.attachments, attEncodingInfo: opts.attEncodingInfo === true });
    row += ',"doc":' + (text ?? 'null');
  }
  return row + '}';
}

/** A rendered row with its `seq` replaced by null (the rows between two `seq_interval` rows). */
export function withoutSeq(db: Database, seq: number, text: string): string {
  return '{"seq":null' + text.slice(7 + db.seq.json(seq).length);
}

/** Changes after `seq` still to come (CouchDB's `pending`). */
export function pendingAfter(db: Database, seq: number): number {
  return db.countChangesAfter(seq);
}
