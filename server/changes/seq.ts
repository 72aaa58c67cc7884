// Update sequences on the wire. CouchDB 3 hands out opaque strings, `"<N>-<opaque>"`, and typed
// clients (the Cloudant SDKs, CouchDB's own Elixir tests) break on a JSON number, so every
// sequence a database hands out (`_changes` `seq`/`last_seq`, db info `update_seq`/`purge_seq`,
// `update_seq=true` on `_all_docs` and views) is `N-<suffix>`: N is the integer sequence, and the
// suffix is fixed per database, so producing a sequence is one string concatenation (the
// `_changes` read is benchmarked per row; nothing is encoded per row).
//
// The suffix names the database instance: base64url of a format byte and a hash of the node's
// uuid and the database's uuid. A sequence therefore says which database (and which incarnation
// of it: a deleted and re-created database has a new uuid) it came from. Reading `since` back:
//
// - `0`, absent, and `now` (the current update sequence);
// - `N-<this database's suffix>` → N;
// - `N-<another Chaise database's suffix>` → 0: the position means nothing here, so the feed
//   starts over, as CouchDB rewinds a sequence whose shard instance (epoch uuid) it does not hold;
// - a bare integer N only where an earlier Chaise version could have issued it: databases
//   written before sequences became strings keep the update sequence they had at the upgrade
//   (`legacyMax`), and a checkpoint at or below it (PouchDB's, the replicator's, the lounge's)
//   still resumes. Any other bare integer gets the 400 CouchDB 3 gives `since=1`;
// - anything else is CouchDB's 400 "Malformed sequence supplied in 'since' parameter.".
//
// Pure: no I/O.

import { createHash } from 'node:crypto';
import { CouchError } from '../errors/catalog.js';

/** The first byte of every suffix: a later format can change it and still read this one. */
const SEQ_FORMAT = 1;
/**
 * Hash bytes after the format byte: 1 + 5 = 6 bytes, 8 base64url characters, no padding. Every
 * `_changes` row carries the suffix, so it is kept short (a full read's bytes grow ~12 % over bare
 * integers); 40 bits of hash tell this node's databases apart with room to spare.
 */
const SEQ_HASH_BYTES = 5;
const SUFFIX_CHARS = 8;
/** A sequence longer than this is refused before any parsing (ours are under 40 characters). */
const SINCE_CHARS_MAX = 1024;

const SHAPE = /^(\d{1,16})-([A-Za-z0-9_-]{8})$/;
const BARE = /^\d{1,16}$/;

export function malformedSince(): CouchError {
  return new CouchError('bad_request', "Malformed sequence supplied in 'since' parameter.");
}

/** The suffix of every sequence of one database instance on one node. */
export function seqSuffix(nodeUuid: string, dbUuid: string): string {
  const hash = createHash('sha256').update(nodeUuid).update('/').update(dbUuid).digest();
  const bytes = Buffer.alloc(1 + SEQ_HASH_BYTES);
  bytes[0] = SEQ_FORMAT;
  hash.copy(bytes, 1, 0, SEQ_HASH_BYTES);
  return bytes.toString('base64url');
}

/** Whether `suffix` has the shape of one this code makes (for any database). */
function isChaiseSuffix(suffix: string): boolean {
  if (suffix.length !== SUFFIX_CHARS) return false;
  return Buffer.from(suffix, 'base64url')[0] === SEQ_FORMAT;
}

export class SeqCodec {
  /** `-<suffix>`, ready to append to N. */
  private readonly tail: string;
  /** `-<suffix>"`, ready to append to `"N` when splicing JSON text. */
  private readonly jsonTail: string;
  /** `-<suffix>","id":`, the rest of a `_changes` row's head after its N. */
  private readonly rowTail: string;

  /**
   * @param legacyMax the update sequence the database had when the node was upgraded from
   *   integer sequences; undefined for databases created since (no bare integer resumes there).
   */
  constructor(
    readonly suffix: string,
    readonly legacyMax: number | undefined,
  ) {
    this.tail = '-' + suffix;
    this.jsonTail = this.tail + '"';
    this.rowTail = this.jsonTail + ',"id":';
  }

  /**
   * The head of a `_changes` row up to its id, `{"seq":"N-<suffix>","id":`: per row, one number
   * and two concatenations, as many as with bare integers.
   */
  rowHead(n: number): string {
    return '{"seq":"' + n + this.rowTail;
  }

  /** The sequence as a string, `N-<suffix>`. */
  format(n: number): string {
    return n + this.tail;
  }

  /** The sequence as JSON text (a quoted string), for responses built by concatenation. */
  json(n: number): string {
    return '"' + n + this.jsonTail;
  }

  /**
   * A client's `since` (query string or Last-Event-ID; JSON-quoted forms too) as an integer;
   * `now` is the database's current update sequence.
   */
  parse(value: string | undefined, now: number): number {
    if (value === undefined || value === '' || value === '0') return 0;
    if (value === 'now') return now;
    if (value.length > SINCE_CHARS_MAX) throw malformedSince();
    let v = value;
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    if (v === '0') return 0;
    const m = SHAPE.exec(v);
    if (m) {
      const n = Number(m[1]);
      if (!Number.isSafeInteger(n)) throw malformedSince();
      if (m[2] === this.suffix) return n;
      if (isChaiseSuffix(m[2] as string)) return 0;
      throw malformedSince();
    }
    if (BARE.test(v) && this.legacyMax !== undefined) {
      const n = Number(v);
      if (n <= this.legacyMax) return n;
    }
    throw malformedSince();
  }
}
