// The two non-ICU orders CouchDB uses next to view collation.
//
// - `compareIds`: document ids compare as raw UTF-8 bytes (Erlang binary order).
//   It breaks ties between view rows with equal keys, orders `_all_docs`, and is
//   Mango's order for `_id`. UTF-8 byte order equals code point order, which is
//   not JavaScript's UTF-16 `<` (that puts U+E000..U+FFFF after astral chars).
// - `rawCollate`: Erlang term order over CouchDB's EJSON, used by views with
//   `"options": {"collation": "raw"}`, by Mango's `_id` comparisons and to order
//   the values of one doc's duplicate emits (couch_mrview_updater sorts them with
//   `lists:sort`). Erlang order: number < atom (false < null < true, by name) <
//   object ({Props} tuple) < array (list) < string (binary); `[]` sorts before any
//   non-empty list but after objects.
//
// Pure functions, no I/O.

/** Compare two strings by Unicode code point (= UTF-8 byte order). */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) {
      // A surrogate (0xD800..0xDFFF) encodes a code point above 0xFFFF, which is
      // larger than any BMP unit; only the 0xE000..0xFFFF range needs fixing.
      const sa = ca >= 0xd800 && ca <= 0xdfff;
      const sb = cb >= 0xd800 && cb <= 0xdfff;
      if (sa !== sb) return sa ? 1 : -1;
      return ca - cb;
    }
  }
  return a.length - b.length;
}

function erlangRank(v: unknown): number {
  if (typeof v === 'number') return 0;
  if (v === null || v === undefined || typeof v === 'boolean') return 1;
  if (typeof v === 'string') return 5;
  if (Array.isArray(v)) return v.length === 0 ? 3 : 4;
  return 2;
}

function atomOrder(v: unknown): number {
  // Atoms sort by name: false < null < true.
  return v === false ? 0 : v === true ? 2 : 1;
}

/** Erlang term order over JSON values (CouchDB's raw collation). */
export function rawCollate(a: unknown, b: unknown): number {
  const ra = erlangRank(a);
  const rb = erlangRank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 1:
      return atomOrder(a) - atomOrder(b);
    case 5:
      return compareIds(a as string, b as string);
    case 3:
      return 0;
    case 4:
      return rawLists(a as unknown[], b as unknown[]);
    default: {
      // {Props}: a list of {Key, Value} tuples; tuples compare Key then Value.
      const ea = Object.entries(a as Record<string, unknown>);
      const eb = Object.entries(b as Record<string, unknown>);
      const n = Math.min(ea.length, eb.length);
      for (let i = 0; i < n; i++) {
        const [ka, va] = ea[i] as [string, unknown];
        const [kb, vb] = eb[i] as [string, unknown];
        const ck = compareIds(ka, kb);
        if (ck !== 0) return ck;
        const cv = rawCollate(va, vb);
        if (cv !== 0) return cv;
      }
      return ea.length - eb.length;
    }
  }
}

function rawLists(a: unknown[], b: unknown[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = rawCollate(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}
