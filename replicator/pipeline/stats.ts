// Counters of one replication session, named as CouchDB reports them.
//
// `missing_checked` counts revisions asked about in `_revs_diff`,
// `missing_found` those the target lacked, `docs_read` revisions fetched from
// the source, `docs_written` revisions the target accepted and
// `doc_write_failures` those it refused (a validate_doc_update 403, say).
// `bulk_get_attempts`/`bulk_get_docs` are CouchDB 3.3's counters of revisions
// requested and received through `_bulk_get` (or its fallback).

import type { SessionStats } from '../protocol/replication-log.js';

export function emptyStats(): SessionStats {
  return {
    missing_checked: 0,
    missing_found: 0,
    docs_read: 0,
    docs_written: 0,
    doc_write_failures: 0,
    bulk_get_attempts: 0,
    bulk_get_docs: 0,
  };
}

export function addStats(into: SessionStats, more: SessionStats): void {
  into.missing_checked += more.missing_checked;
  into.missing_found += more.missing_found;
  into.docs_read += more.docs_read;
  into.docs_written += more.docs_written;
  into.doc_write_failures += more.doc_write_failures;
  into.bulk_get_attempts += more.bulk_get_attempts;
  into.bulk_get_docs += more.bulk_get_docs;
}
