// Field-level comparison and merging of document versions (conflicting leaves, or your edit and
// the revision someone saved meanwhile). Pure; merge.test.ts-style checks live in the browser test.

export type Doc = Record<string, unknown>;

/** Members that are about the revision, not the content: never compared or merged field by field. */
const META = new Set(['_id', '_rev', '_attachments', '_conflicts', '_deleted_conflicts', '_revisions', '_revs_info', '_deleted', '_local_seq']);

/** Marks a field one version does not have. */
export const ABSENT = Symbol('absent');
export type Cell = unknown | typeof ABSENT;

export interface FieldRow {
  key: string;
  values: Cell[];
  /** Not every version has the same value here. */
  differs: boolean;
}

/** JSON with object keys sorted, so equal values compare equal whatever their key order. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (v !== null && typeof v === 'object') {
    return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + canonical((v as Doc)[k])).join(',') + '}';
  }
  return JSON.stringify(v);
}

export function fieldRows(versions: Doc[]): FieldRow[] {
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const v of versions) for (const k of Object.keys(v)) if (!META.has(k) && !seen.has(k)) (seen.add(k), keys.push(k));
  return keys.map((key) => {
    const values = versions.map((v) => (Object.prototype.hasOwnProperty.call(v, key) ? v[key] : ABSENT));
    const first = values[0] === ABSENT ? '\0absent' : canonical(values[0]);
    const differs = values.some((x) => (x === ABSENT ? '\0absent' : canonical(x)) !== first);
    return { key, values, differs };
  });
}

/** For each field, which version's value to keep (an index into versions). */
export type Choice = Record<string, number>;

/** Starts from `base` for every field (the current winner, or your edit). */
export function initialChoice(rows: FieldRow[], base: number): Choice {
  return Object.fromEntries(rows.map((r) => [r.key, base]));
}

/** The merged content: each field from the version chosen for it (left out where that version lacks it). */
export function merged(rows: FieldRow[], choice: Choice): Doc {
  const out: Doc = {};
  for (const r of rows) {
    const v = r.values[choice[r.key] ?? 0];
    if (v !== ABSENT) out[r.key] = v;
  }
  return out;
}

export function show(v: Cell): string {
  if (v === ABSENT) return '(absent)';
  return JSON.stringify(v);
}
