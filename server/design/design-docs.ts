// A database's design documents, cached until one of them changes (the store bumps
// `designVersion` whenever a `_design/` document is written), so the validate_doc_update guard
// and filters do not scan for design docs on every write.

import type { DesignDoc } from '../../views/index.js';
import type { Database } from '../storage/database.js';
import { winnerDoc } from './doc-source.js';

const cache = new WeakMap<Database, { version: number; ddocs: DesignDoc[] }>();

export function designDocs(db: Database): DesignDoc[] {
  const hit = cache.get(db);
  if (hit && hit.version === db.designVersion) return hit.ddocs;
  const ddocs: DesignDoc[] = [];
  for (const { id } of db.liveRange({ start: '_design/', end: '_design0', inclusiveEnd: false })) {
    const info = db.docInfo(id);
    if (info && !info.deleted) ddocs.push(winnerDoc(id, info) as DesignDoc);
  }
  cache.set(db, { version: db.designVersion, ddocs });
  return ddocs;
}

export function designDoc(db: Database, name: string): DesignDoc | undefined {
  const id = name.startsWith('_design/') ? name : '_design/' + name;
  return designDocs(db).find((d) => d._id === id);
}

const effective = new WeakMap<DesignDoc, DesignDoc>();

/**
 * A design document as the view engine must index it: in a partitioned database, design docs are
 * partitioned unless their `options.partitioned` says false (CouchDB's default), so the engine is
 * told so explicitly (the stored document is left as written).
 */
export function queryDesign(db: Database, ddoc: DesignDoc): DesignDoc {
  if (!db.partitioned) return ddoc;
  const options = typeof ddoc.options === 'object' && ddoc.options !== null ? (ddoc.options as Record<string, unknown>) : {};
  if (options.partitioned !== undefined) return ddoc;
  let out = effective.get(ddoc);
  if (!out) {
    out = { ...ddoc, options: { ...options, partitioned: true } };
    effective.set(ddoc, out);
  }
  return out;
}

/** Every design document of the database, as the view engine must index them (see queryDesign). */
export function queryDesignDocs(db: Database): DesignDoc[] {
  const ddocs = designDocs(db);
  return db.partitioned ? ddocs.map((d) => queryDesign(db, d)) : ddocs;
}
