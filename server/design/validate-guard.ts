// The write guard for design-document code: every `validate_doc_update` of the database runs on
// every write, replicated (`new_edits=false`) ones included, as in CouchDB. A design document is
// instead compiled before it is saved (CouchDB's validate_ddoc), so broken code is a 400 at PUT
// time rather than a failure at query time. `_local` docs never reach the guards.

import { performance } from 'node:perf_hooks';
import { isCouchError, type DesignDoc, type ViewEngine } from '../../views/index.js';
import type { Database, EditResult } from '../storage/database.js';
import type { UserCtx } from '../auth/access.js';
import type { GuardedEdit, WriteGuard } from '../http/write.js';
import { designDocs } from './design-docs.js';
import { CouchError } from '../errors/catalog.js';

function newDocOf(e: GuardedEdit): Record<string, unknown> {
  const doc: Record<string, unknown> = { _id: e.id, ...(e.doc.rev !== undefined ? { _rev: e.doc.rev } : {}), ...e.doc.body };
  if (e.doc.deleted) doc._deleted = true;
  if (e.doc.revisions) doc._revisions = e.doc.revisions;
  if (e.doc.attachments) {
    doc._attachments = Object.fromEntries(
      e.doc.attachments.map((a) => [a.name, a.kind === 'data' ? { content_type: a.contentType, digest: a.digest, length: a.bytes.length } : { stub: true, ...(a.digest ? { digest: a.digest } : {}) }]),
    );
  }
  return doc;
}

function asResult(id: string, e: unknown): EditResult {
  if (isCouchError(e) || e instanceof CouchError) return { id, error: e.error, reason: e.reason };
  return { id, error: 'forbidden', reason: e instanceof Error ? e.message : String(e) };
}

/** couch_mrview:validate: `options.partitioned` is a boolean, and true only in a partitioned database. */
function checkPartitionedOption(db: Database, body: Record<string, unknown>): void {
  const options = body.options;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return;
  const partitioned = (options as Record<string, unknown>).partitioned;
  if (partitioned === undefined) return;
  if (typeof partitioned !== 'boolean') throw new CouchError('invalid_design_doc', '`options.partitioned` field must have boolean type');
  if (partitioned && !db.partitioned) throw new CouchError('invalid_design_doc', 'partitioned option cannot be true in a non-partitioned database.');
}

/** Where validate_doc_update runs are counted (the node's `_stats`). */
export interface VduStats {
  vduRejects: number;
  readonly vduTime: { record(ms: number, now: number): void };
}

export function validateGuard(engine: ViewEngine, stats?: VduStats): WriteGuard {
  // Synchronous when there is nothing to run (most writes), so the write does not wait a turn.
  return (db, raw, lazyEdits, _newEdits, user) => {
    const validators = designDocs(db).filter((d) => typeof d.validate_doc_update === 'string' && d.validate_doc_update !== '');
    if (validators.length === 0 && !raw.some((e) => e.id.startsWith('_design/'))) return [];
    return validate(engine, db, validators, lazyEdits(), user, stats);
  };
}

async function validate(engine: ViewEngine, db: Database, validators: DesignDoc[], edits: GuardedEdit[], user: UserCtx, stats: VduStats | undefined): Promise<(EditResult | undefined)[]> {
  const out: (EditResult | undefined)[] = new Array(edits.length).fill(undefined);
  for (let i = 0; i < edits.length; i++) {
    const e = edits[i] as GuardedEdit;
    if (e.id.startsWith('_design/')) {
      if (e.doc.deleted) continue;
      try {
        checkPartitionedOption(db, e.doc.body);
        await engine.validateDesignDoc({ _id: e.id, ...e.doc.body });
      } catch (err) {
        out[i] = asResult(e.id, err);
      }
      continue;
    }
    if (validators.length === 0) continue;
    // couch_db:validate_doc_update times each document's validation, all its functions together.
    const started = performance.now();
    try {
      await engine.validateDocUpdate(validators, newDocOf(e), e.old(), { db: db.name, name: user.name, roles: user.roles }, db.security);
    } catch (err) {
      out[i] = asResult(e.id, err);
      if (stats) stats.vduRejects++;
    }
    if (stats) {
      const now = performance.now();
      stats.vduTime.record(now - started, now);
    }
  }
  return out;
}
