// What a design document means for indexing: its views, in a stable order, and
// the view-group signature that names the persistent index.
//
// The signature is an md5 over everything that changes the index contents —
// language, design options, each view's map/reduce source and options, and
// views.lib (map functions may require() it) — and nothing else. Editing a
// filter or a validate_doc_update, or any other design document, therefore
// keeps the index; editing a view builds a new one (the old one is removed by
// cleanup). CouchDB's signature hashes Erlang terms, so the hex values differ
// from CouchDB's, but they change under the same edits.

import { createHash } from 'node:crypto';
import type { DesignDoc } from '../sandbox/design-sandbox.js';

/** A Mango JSON index's map: emit [field values] for docs that have every field. */
export interface MangoMap {
  fields: string[];
  /** partial_filter_selector as given (an empty object when absent). */
  partialFilter: Record<string, unknown>;
}

export interface ViewDef {
  name: string;
  /** JS source; for `language: "query"` the JSON of the Mango map definition. */
  map: string;
  reduce: string | null;
  /** Raw (Erlang term order) collation instead of ICU, via options.collation = "raw". */
  raw: boolean;
  /** Set for Mango JSON indexes (`language: "query"`), which are mapped natively. */
  mango: MangoMap | null;
}

export interface ViewGroupDef {
  ddocId: string;
  language: string;
  views: ViewDef[];
  signature: string;
  /** options.include_design: map design documents too. */
  includeDesign: boolean;
  /** options.local_seq: give map functions doc._local_seq. */
  localSeq: boolean;
  /**
   * options.partitioned: rows are ordered by partition first and queried one partition at a time
   * (the server sets it on every design doc of a partitioned database that does not say false).
   */
  partitioned: boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function viewGroupDef(ddoc: DesignDoc): ViewGroupDef {
  const language = typeof ddoc.language === 'string' ? ddoc.language : 'javascript';
  const designOptions = isObject(ddoc.options) ? ddoc.options : {};
  const rawViews = isObject(ddoc.views) ? ddoc.views : {};
  const views: ViewDef[] = [];
  const sigViews: unknown[] = [];
  for (const name of Object.keys(rawViews).sort()) {
    const v = rawViews[name];
    if (!isObject(v)) continue;
    const options = isObject(v['options']) ? v['options'] : {};
    const reduce = typeof v['reduce'] === 'string' ? v['reduce'] : null;
    const raw = options['collation'] === 'raw' || designOptions['collation'] === 'raw';
    let mango: MangoMap | null = null;
    let map: string;
    if (language === 'query' && isObject(v['map'])) {
      const fieldsDef = v['map']['fields'];
      const fields = isObject(fieldsDef) ? Object.keys(fieldsDef) : [];
      const pfs = v['map']['partial_filter_selector'];
      mango = { fields, partialFilter: isObject(pfs) ? pfs : {} };
      map = JSON.stringify(v['map']);
    } else if (typeof v['map'] === 'string') {
      map = v['map'];
    } else continue;
    views.push({ name, map, reduce, raw, mango });
    sigViews.push([name, map, reduce, options]);
  }
  const lib = isObject(rawViews['lib']) ? rawViews['lib'] : null;
  const signature = createHash('md5')
    .update(JSON.stringify([language, designOptions, sigViews, lib]))
    .digest('hex');
  return {
    ddocId: ddoc._id,
    language,
    views,
    signature,
    includeDesign: designOptions['include_design'] === true,
    localSeq: designOptions['local_seq'] === true,
    partitioned: designOptions['partitioned'] === true,
  };
}
