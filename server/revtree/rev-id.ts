// New revision hashes, made as CouchDB makes them (couch_db:new_revid), so that an edit gets the
// same revision id on Chaise as on CouchDB, and the same edit made on two replicas of any kind gets
// the same id (replicating it later is then a no-op rather than a conflict):
//
//   md5(term_to_binary([Deleted, OldStart, OldRev, Body, Atts], [{minor_version, 1}]))
//
// - Deleted: the atom `true` or `false`.
// - OldStart, OldRev: the parent's position and hash; 0 and 0 for a document's first revision.
//   A 32-digit hex hash is its 16 bytes (couch_doc:parse_revid); any other hash, its text.
// - Body: the document without its `_` fields, as EJSON: `{[{Key, Value}, ...]}` in the order of
//   the document's members; strings are UTF-8 binaries, arrays lists, true/false/null atoms,
//   integers integers and other numbers floats.
// - Atts: `{Name, Type, Md5}` per attachment, in the reverse of the revision's attachment order
//   (new_revid folds them into a list from the front). Md5 is the attachment's digest: the md5 of
//   its bytes as stored (gzipped ones gzipped).
//
// term_to_binary's encoding (the Erlang external term format) is written out here for exactly
// these terms. Checked against revisions CouchDB 3.5 made (test/revtree/rev-id.test.ts).
//
// Where Chaise cannot match CouchDB, because JSON.parse has already dropped what CouchDB hashes:
// a number written with a fraction or exponent but an integer value (`1.0`, `1e3`) is hashed as
// an integer (CouchDB: a float); integers beyond 2^53 are hashed as the double they parsed to;
// members named by integers (`"1": …`) come first, in JavaScript's order, not the document's.

import { hash } from 'node:crypto';

export interface RevHashInput {
  /** The rev being edited ("N-hash"), or null for a document's first revision. */
  parentRev: string | null;
  deleted: boolean;
  /**
   * The document body WITHOUT its `_`-prefixed top-level fields (`_id`, `_rev`, `_attachments`,
   * `_deleted`, `_revisions`, ...). The caller strips them: they are metadata, and `_rev` in
   * particular would make every retry of an edit hash differently.
   */
  body: unknown;
  /** One entry per attachment (name, content type, digest "md5-<base64>"), in the revision's attachment order. */
  attachmentDigests: [name: string, contentType: string, digest: string][];
}

export function newRevHash(input: RevHashInput): string {
  const w = writer;
  w.at = 0;
  w.byte(VERSION);
  w.listHeader(5);
  w.atom(input.deleted ? 'true' : 'false');
  const parent = input.parentRev === null ? undefined : splitRev(input.parentRev);
  if (parent === undefined) {
    w.integer(0);
    w.integer(0);
  } else {
    w.integer(parent.pos);
    if (/^[0-9a-fA-F]{32}$/.test(parent.hash)) w.binary(Buffer.from(parent.hash, 'hex'));
    else w.string(parent.hash);
  }
  w.term(input.body);
  const atts = input.attachmentDigests;
  if (atts.length === 0) w.byte(NIL_EXT);
  else {
    w.listHeader(atts.length);
    for (let i = atts.length - 1; i >= 0; i--) {
      const [name, type, digest] = atts[i] as [string, string, string];
      w.tupleHeader(3);
      w.string(name);
      w.string(type);
      if (digest.startsWith('md5-')) w.binary(Buffer.from(digest.slice(4), 'base64'));
      else w.string(digest);
    }
    w.byte(NIL_EXT);
  }
  w.byte(NIL_EXT);
  return hash('md5', w.buf.subarray(0, w.at), 'hex');
}

function splitRev(rev: string): { pos: number; hash: string } {
  const dash = rev.indexOf('-');
  return { pos: Number(rev.slice(0, dash)), hash: rev.slice(dash + 1) };
}

// ---- the external term format, for JSON terms ----------------------------------------------

const VERSION = 131;
const NEW_FLOAT_EXT = 70;
const SMALL_INTEGER_EXT = 97;
const INTEGER_EXT = 98;
const ATOM_EXT = 100;
const SMALL_TUPLE_EXT = 104;
const NIL_EXT = 106;
const LIST_EXT = 108;
const BINARY_EXT = 109;
const SMALL_BIG_EXT = 110;

/** One buffer, grown as needed and reused by every hash (hashing is synchronous). */
class TermWriter {
  buf = Buffer.allocUnsafe(64 * 1024);
  at = 0;

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.at++] = b;
  }

  listHeader(n: number): void {
    this.room(5);
    this.buf[this.at] = LIST_EXT;
    this.buf.writeUInt32BE(n, this.at + 1);
    this.at += 5;
  }

  tupleHeader(n: number): void {
    this.room(2);
    this.buf[this.at] = SMALL_TUPLE_EXT;
    this.buf[this.at + 1] = n;
    this.at += 2;
  }

  atom(name: 'true' | 'false' | 'null'): void {
    this.room(3 + name.length);
    this.buf[this.at] = ATOM_EXT;
    this.buf.writeUInt16BE(name.length, this.at + 1);
    this.buf.write(name, this.at + 3, 'latin1');
    this.at += 3 + name.length;
  }

  binary(bytes: Buffer): void {
    this.room(5 + bytes.length);
    this.buf[this.at] = BINARY_EXT;
    this.buf.writeUInt32BE(bytes.length, this.at + 1);
    bytes.copy(this.buf, this.at + 5);
    this.at += 5 + bytes.length;
  }

  /** A string as a UTF-8 binary. */
  string(s: string): void {
    this.room(5 + s.length * 3);
    const n = this.buf.write(s, this.at + 5, 'utf8');
    this.buf[this.at] = BINARY_EXT;
    this.buf.writeUInt32BE(n, this.at + 1);
    this.at += 5 + n;
  }

  integer(n: number): void {
    if (n >= 0 && n <= 255) {
      this.room(2);
      this.buf[this.at] = SMALL_INTEGER_EXT;
      this.buf[this.at + 1] = n;
      this.at += 2;
    } else if (n >= -2147483648 && n <= 2147483647) {
      this.room(5);
      this.buf[this.at] = INTEGER_EXT;
      this.buf.writeInt32BE(n, this.at + 1);
      this.at += 5;
    } else {
      // SMALL_BIG_EXT: byte count, sign, then the magnitude's bytes from the least significant.
      let m = BigInt(Math.abs(n));
      const digits: number[] = [];
      while (m > 0n) {
        digits.push(Number(m & 0xffn));
        m >>= 8n;
      }
      this.room(3 + digits.length);
      this.buf[this.at] = SMALL_BIG_EXT;
      this.buf[this.at + 1] = digits.length;
      this.buf[this.at + 2] = n < 0 ? 1 : 0;
      for (let i = 0; i < digits.length; i++) this.buf[this.at + 3 + i] = digits[i] as number;
      this.at += 3 + digits.length;
    }
  }

  float(x: number): void {
    this.room(9);
    this.buf[this.at] = NEW_FLOAT_EXT;
    this.buf.writeDoubleBE(x, this.at + 1);
    this.at += 9;
  }

  /** A JSON value as jiffy decodes it (objects as `{[{K, V}, ...]}`). */
  term(v: unknown): void {
    if (v === null || v === undefined) this.atom('null');
    else if (v === true) this.atom('true');
    else if (v === false) this.atom('false');
    else if (typeof v === 'string') this.string(v);
    else if (typeof v === 'number') {
      if (Number.isInteger(v)) this.integer(v);
      else this.float(v);
    } else if (Array.isArray(v)) {
      if (v.length === 0) this.byte(NIL_EXT);
      else {
        this.listHeader(v.length);
        for (const x of v) this.term(x);
        this.byte(NIL_EXT);
      }
    } else {
      const keys = Object.keys(v as object);
      this.tupleHeader(1);
      if (keys.length === 0) this.byte(NIL_EXT);
      else {
        this.listHeader(keys.length);
        for (const k of keys) {
          this.tupleHeader(2);
          this.string(k);
          this.term((v as Record<string, unknown>)[k]);
        }
        this.byte(NIL_EXT);
      }
    }
  }
}

const writer = new TermWriter();
