// Copies one batch of changes from source to target: the core of the protocol.
//
//   1. `_revs_diff` on the target with every leaf revision the batch names;
//   2. `_bulk_get?revs=true&latest=true&attachments=true` on the source for the
//      missing ones, with `atts_since` = the target's possible ancestors, so
//      attachments the target already holds come back as stubs;
//   3. attachments still needed but returned as stubs are fetched one by one
//      (peers that ignore `attachments=true` in `_bulk_get`), byte for byte;
//   4. `_bulk_docs` with `new_edits: false` on the target.
//
// A document the target refuses (a validate_doc_update `forbidden`, an
// `unauthorized` design doc) counts in `doc_write_failures` and is not fatal,
// as in CouchDB. A target that answers 413 gets the batch in halves. A target
// that cannot resolve a stub (`missing_stub`, e.g. its ancestor was compacted)
// gets those documents again with every attachment inline.

import { debuglog } from 'node:util';
import { PeerError } from '../errors.js';
import type { Attachment, BulkGetItem, ChangeRow, Doc, Endpoint, Revisions, RevsDiffResponse } from '../endpoint/endpoint.js';
import type { SessionStats } from '../protocol/replication-log.js';
import { emptyStats } from './stats.js';
import type { RevsDiffSkipper } from './revs-diff-skipper.js';

const log = debuglog('chaise:replicator');

/** Attachments fetched at once per batch when a peer sends stubs instead of bodies (PouchDB fetches 5 at a time). */
export const ATTACHMENT_FETCH_CONCURRENCY = 5;

export interface CopyContext {
  source: Endpoint;
  target: Endpoint;
  signal: AbortSignal;
  /** Decides when `_revs_diff` can be skipped (an evidently empty target); absent means always ask. */
  revsDiffSkipper?: RevsDiffSkipper;
}

/**
 * The generation of the newest revision on `revisions`' path that the target
 * already has (one of `possibleAncestors`), or 0. Attachments with a `revpos`
 * up to it are on the target already; CouchDB's `atts_since` uses the same rule
 * (couch_db `find_ancestor_rev_pos`).
 */
export function ancestorGeneration(revisions: Revisions | undefined, possibleAncestors: readonly string[]): number {
  if (!revisions || possibleAncestors.length === 0) return 0;
  const known = new Set(possibleAncestors);
  for (let i = 0; i < revisions.ids.length; i++) {
    const pos = revisions.start - i;
    if (known.has(`${pos}-${revisions.ids[i]}`)) return pos;
  }
  return 0;
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

/**
 * Makes every attachment of `docs` either inline data or a stub the target can
 * resolve. Inline attachments lose `digest`/`length`/`encoding`: the target
 * recomputes them from the bytes, and a digest of a compressed form would not
 * match the decoded data CouchDB sends. Fetches for the whole batch share one
 * concurrency limit.
 */
async function settleAttachments(docs: Doc[], ancestors: Map<string, string[]>, full: boolean, ctx: CopyContext): Promise<void> {
  const fetches: { doc: Doc; rev: string; name: string; att: Attachment; atts: { [name: string]: Attachment } }[] = [];
  for (const doc of docs) {
    const atts = doc._attachments;
    if (!atts) continue;
    const threshold = full ? Infinity : ancestorGeneration(doc._revisions, ancestors.get(doc._id) ?? []);
    for (const [name, att] of Object.entries(atts)) {
      if (typeof att.data === 'string') {
        atts[name] = inline(att, att.data);
      } else if (doc._rev !== undefined && (full || att.revpos === undefined || att.revpos > threshold)) {
        fetches.push({ doc, rev: doc._rev, name, att, atts });
      }
    }
  }
  await mapLimit(fetches, ATTACHMENT_FETCH_CONCURRENCY, async ({ doc, rev, name, att, atts }) => {
    const bytes = await ctx.source.getAttachment(doc._id, name, rev, ctx.signal);
    atts[name] = inline(att, bytes.toString('base64'));
  });
}

function inline(att: Attachment, data: string): Attachment {
  const out: Attachment = { data };
  if (att.content_type !== undefined) out.content_type = att.content_type;
  if (att.revpos !== undefined) out.revpos = att.revpos;
  return out;
}

function isMissingStub(err: { error: string }): boolean {
  return err.error === 'missing_stub';
}

/** Copies what the target lacks of `rows`; returns what happened, in CouchDB's counters. */
export async function copyBatch(rows: ChangeRow[], ctx: CopyContext): Promise<SessionStats> {
  const stats = emptyStats();
  const revsById = new Map<string, Set<string>>();
  for (const row of rows) {
    let revs = revsById.get(row.id);
    if (!revs) revsById.set(row.id, (revs = new Set()));
    for (const change of row.changes ?? []) if (typeof change?.rev === 'string') revs.add(change.rev);
  }
  if (revsById.size === 0) return stats;

  const diffRequest: { [id: string]: string[] } = {};
  for (const [id, revs] of revsById) {
    if (revs.size === 0) continue;
    diffRequest[id] = [...revs];
    stats.missing_checked += revs.size;
  }
  let diff: RevsDiffResponse;
  if (ctx.revsDiffSkipper?.shouldSkip()) {
    // Everything has been missing lately: assume it still is (see revs-diff-skipper.ts).
    diff = {};
    for (const [id, revs] of Object.entries(diffRequest)) diff[id] = { missing: revs };
  } else {
    diff = await ctx.target.revsDiff(diffRequest, ctx.signal);
    let missing = 0;
    for (const entry of Object.values(diff)) missing += Array.isArray(entry?.missing) ? entry.missing.length : 0;
    ctx.revsDiffSkipper?.record(stats.missing_checked, missing);
  }

  const items: BulkGetItem[] = [];
  const ancestors = new Map<string, string[]>();
  for (const [id, entry] of Object.entries(diff)) {
    if (!entry || !Array.isArray(entry.missing)) continue;
    const possible = Array.isArray(entry.possible_ancestors) ? entry.possible_ancestors : [];
    ancestors.set(id, possible);
    for (const rev of entry.missing) {
      items.push(possible.length > 0 ? { id, rev, atts_since: possible } : { id, rev });
      stats.missing_found++;
    }
  }
  if (items.length === 0) return stats;

  const docs = await fetchDocs(items, ancestors, false, ctx, stats);
  await writeDocs(docs, ancestors, ctx, stats, true);
  return stats;
}

async function fetchDocs(items: BulkGetItem[], ancestors: Map<string, string[]>, full: boolean, ctx: CopyContext, stats: SessionStats): Promise<Doc[]> {
  stats.bulk_get_attempts += items.length;
  const request = full ? items.map(({ id, rev }) => ({ id, rev })) : items;
  const results = await ctx.source.bulkGet(request, { attachments: true }, ctx.signal);
  const docs: Doc[] = [];
  const seen = new Set<string>();
  for (const result of results) {
    if ('ok' in result) {
      const doc = result.ok;
      // With `latest=true` two requested revisions can resolve to the same leaf.
      const key = `${doc._id}\u0000${doc._rev ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      docs.push(doc);
      stats.bulk_get_docs++;
    } else {
      // Gone since `_changes` listed it (purged, or a race with compaction): nothing to copy.
      log('source has no %s@%s: %s', result.error.id, result.error.rev, result.error.error);
    }
  }
  stats.docs_read += docs.length;
  await settleAttachments(docs, ancestors, full, ctx);
  return docs;
}

async function writeDocs(docs: Doc[], ancestors: Map<string, string[]>, ctx: CopyContext, stats: SessionStats, mayRefetch: boolean): Promise<void> {
  if (docs.length === 0) return;
  let errors;
  try {
    errors = await ctx.target.bulkDocs(docs, ctx.signal);
  } catch (err) {
    if (err instanceof PeerError && err.status === 413 && docs.length > 1) {
      // Too big for the target in one request: halve until it fits (CouchDB's replicator bisects the same way).
      const half = Math.ceil(docs.length / 2);
      await writeDocs(docs.slice(0, half), ancestors, ctx, stats, mayRefetch);
      await writeDocs(docs.slice(half), ancestors, ctx, stats, mayRefetch);
      return;
    }
    if (err instanceof PeerError && err.status === 413) {
      stats.doc_write_failures++;
      log('target refused %s@%s: too large', docs[0]?._id, docs[0]?._rev);
      return;
    }
    if (err instanceof PeerError && err.error === 'missing_stub' && mayRefetch) {
      await rewriteWithFullAttachments(docs, ancestors, ctx, stats);
      return;
    }
    throw err;
  }
  const stubRetries: Doc[] = [];
  let failures = 0;
  for (const error of errors) {
    const doc = docs.find((d) => d._id === error.id && (error.rev === undefined || d._rev === error.rev));
    if (mayRefetch && isMissingStub(error) && doc) {
      stubRetries.push(doc);
      continue;
    }
    failures++;
    log('target refused %s@%s: %s: %s', error.id, error.rev ?? '?', error.error, error.reason);
  }
  stats.doc_write_failures += failures;
  stats.docs_written += docs.length - failures - stubRetries.length;
  if (stubRetries.length > 0) await rewriteWithFullAttachments(stubRetries, ancestors, ctx, stats);
}

async function rewriteWithFullAttachments(docs: Doc[], ancestors: Map<string, string[]>, ctx: CopyContext, stats: SessionStats): Promise<void> {
  const items = docs.filter((d) => d._rev !== undefined).map((d) => ({ id: d._id, rev: d._rev as string }));
  const before = stats.docs_read;
  const refetched = await fetchDocs(items, ancestors, true, ctx, stats);
  // A refetch re-reads documents already counted as read.
  stats.docs_read = before;
  await writeDocs(refetched, ancestors, ctx, stats, false);
}
