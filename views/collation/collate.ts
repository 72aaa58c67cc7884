// CouchDB view collation: the one total order every view key, range bound and
// Mango comparison in Chaise is sorted by.
//
// The order is CouchDB's `couch_ejson_compare`:
//   null < false < true < numbers < strings < arrays < objects
// - numbers compare by value (1 and 1.0 are equal);
// - strings compare with ICU's root collation (UCA, tertiary strength, punctuation
//   not ignored). `Intl.Collator('en')` is the same CLDR root table and matches
//   CouchDB 3.5 on every string of the golden `collationOrder` fixture;
// - arrays compare element by element, a shorter prefix first;
// - objects compare their key/value pairs in order: key by ICU, then value,
//   fewer pairs first.
// Anything that is not JSON (undefined, functions) sorts as null would never be
// produced by JSON.parse, so callers only ever pass JSON values.
//
// Pure: no I/O, no state beyond one shared collator.

/** The ICU root collator. `en` has no tailoring, so it is CLDR root. */
const icu = new Intl.Collator('en');

/**
 * A bound that sorts after every JSON value (CouchDB's mango_json:max()).
 * Range queries use it for "no upper limit" inside array keys; it is never stored.
 */
export const MAX_KEY: Readonly<Record<string, never>> = Object.freeze({});

/** Rank of each JSON type in CouchDB's order. */
export function typeRank(v: unknown): number {
  if (v === null || v === undefined) return 0;
  switch (typeof v) {
    case 'boolean':
      return v ? 2 : 1;
    case 'number':
      return 3;
    case 'string':
      return 4;
    default:
      return Array.isArray(v) ? 5 : v === MAX_KEY ? 7 : 6;
  }
}

/** Compare two strings with ICU root collation (CouchDB's `compare_strings`). */
export function collateStrings(a: string, b: string): number {
  if (a === b) return 0;
  return icu.compare(a, b);
}

/**
 * CouchDB view collation of two JSON values. Returns a negative number, 0 or a
 * positive number. Values that collate equal (0) may still differ (1 vs 1.0,
 * NFC vs NFD spellings of one string): CouchDB treats them as the same key.
 */
export function collate(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
    case 1:
    case 2:
      return 0;
    case 3:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 4:
      return collateStrings(a as string, b as string);
    case 5:
      return collateArrays(a as unknown[], b as unknown[]);
    case 7:
      return 0;
    default:
      return collateObjects(a as Record<string, unknown>, b as Record<string, unknown>);
  }
}

function collateArrays(a: unknown[], b: unknown[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = collate(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function collateObjects(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const keyA = ka[i] as string;
    const keyB = kb[i] as string;
    const ck = collateStrings(keyA, keyB);
    if (ck !== 0) return ck;
    const cv = collate(a[keyA], b[keyB]);
    if (cv !== 0) return cv;
  }
  return ka.length - kb.length;
}
