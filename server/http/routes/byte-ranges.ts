// Which bytes of an attachment a `Range` header asks for, decided exactly as CouchDB 3 does it
// (mochiweb_http:parse_range_request/1, then chttpd_db:parse_ranges/2 and the case in
// db_attachment_req that picks the answer). Pure: no I/O, no HTTP objects.
//
// The rules, in CouchDB's order:
//   - no header, a header mochiweb cannot parse, or `bytes=0-` first: the whole attachment (200);
//   - each range is clamped to the attachment (`a-b` past the end ends at the end, `a-` runs to the
//     end, `-n` is the last n bytes); the first range whose end falls before its start makes the
//     whole request unsatisfiable (416);
//   - one range: 206 with that slice; 2 to 9 ranges: 206 multipart/byteranges; 10 or more: 200 whole.
// Where CouchDB's arithmetic would produce a negative start (`-n` longer than the attachment), we
// start at 0, which is what RFC 9110 asks for and what mochiweb's own range code does.

import { CouchError } from '../../errors/catalog.js';

/** CouchDB serves at most this many ranges as multipart/byteranges; more get the whole body. */
export const MULTIPART_RANGES_MAX = 9;

/** Inclusive byte offsets. */
export type ByteRange = [start: number, end: number];

export type RangeAnswer = { kind: 'whole' } | { kind: 'ranges'; ranges: ByteRange[] };

const WHOLE: RangeAnswer = { kind: 'whole' };
const DIGITS = /^\d+$/;

type Spec = [number | null, number | null];

/** mochiweb's parse: `bytes=` then comma-separated `a-b`, `a-` or `-n`; null when malformed. */
function parseSpecs(header: string): Spec[] | null {
  if (!header.startsWith('bytes=')) return null;
  const specs: Spec[] = [];
  for (const raw of header.slice('bytes='.length).split(',')) {
    const r = raw.trim();
    if (r === '') continue;
    if (r.startsWith('-')) {
      const n = r.slice(1);
      if (!DIGITS.test(n)) return null;
      specs.push([null, Number(n)]);
      continue;
    }
    const parts = r.split('-').filter((p) => p !== '');
    if (parts.length === 0 || parts.length > 2 || !parts.every((p) => DIGITS.test(p))) return null;
    specs.push([Number(parts[0]), parts.length === 2 ? Number(parts[1]) : null]);
  }
  return specs;
}

/** Throws CouchDB's 416 `requested_range_not_satisfiable` when the ranges cannot be served. */
export function selectRanges(header: string | undefined, length: number): RangeAnswer {
  if (header === undefined || header === '' || header === 'bytes=0-') return WHOLE;
  const specs = parseSpecs(header);
  if (specs === null || specs.length === 0) return WHOLE;
  const first = specs[0] as Spec;
  if (first[0] === 0 && first[1] === null) return WHOLE;
  const ranges: ByteRange[] = [];
  for (const [from, to] of specs) {
    let start: number;
    let end: number;
    if (from === null) {
      start = Math.max(0, length - (to as number));
      end = length - 1;
    } else {
      start = from;
      end = to === null || to >= length ? length - 1 : to;
    }
    if (end < start) throw new CouchError('requested_range_not_satisfiable');
    ranges.push([start, end]);
  }
  if (ranges.length > MULTIPART_RANGES_MAX) return WHOLE;
  return { kind: 'ranges', ranges };
}

/** The `Content-Range` value for one served range. */
export function contentRange([start, end]: ByteRange, length: number): string {
  return `bytes ${start}-${end}/${length}`;
}
