// The documents the bench writes: about 300 bytes of JSON each, the same bytes for the same seed.
//
// Contents are chosen so the read workloads can count rows by tokens: no field or string value
// in a body is `id`, `key`, `value`, `doc`, `rev`, `seq`, `changes`, `error`, `ok` or `_id`-like,
// and ids are plain `[a-z0-9-]`. Bodies are serialized here, once, before any clock starts.

/** The approximate size of one doc's JSON, per the targets in shared/DESIGN.md. */
export const docBytesTarget = 300;

/** Docs per `_bulk_docs` request, as in DESIGN.md's target ("batches of 1000"). */
export const bulkBatchSize = 1000;

const words = [
  'amber', 'basil', 'cedar', 'delta', 'ember', 'fjord', 'glade', 'heron', 'iris', 'juniper',
  'kestrel', 'lumen', 'maple', 'nectar', 'opal', 'pine', 'quartz', 'raven', 'sage', 'tundra',
  'umber', 'vale', 'willow', 'xenon', 'yarrow', 'zephyr',
] as const;

/** A small seeded PRNG (mulberry32): enough spread for ids and words, and replayable. */
export function makeRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The id of data-set doc `i`; zero-padded so `_all_docs` order equals insertion order. */
export function docId(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(8, '0')}`;
}

/** One doc's fields other than `_id` (as JSON text without braces), padded to about docBytesTarget bytes with its id. */
export function docFields(i: number, random: () => number): string {
  const pick = (): string => words[Math.floor(random() * words.length)]!;
  const tags = [pick(), pick(), pick()];
  const base =
    `"type":"bench","n":${i},"score":${Math.floor(random() * 1_000_000)},` +
    `"name":"${pick()} ${pick()}","tags":${JSON.stringify(tags)},"active":${random() < 0.5},"text":"`;
  let text = '';
  // 24 bytes cover `{"_id":"d00000000",` + `"}`.
  while (base.length + text.length + 24 < docBytesTarget) text += pick() + ' ';
  return base + text.slice(0, Math.max(0, docBytesTarget - 24 - base.length)).trimEnd() + '"';
}

/** A complete doc body with its `_id`. */
export function docJson(id: string, i: number, random: () => number): string {
  return `{"_id":"${id}",${docFields(i, random)}}`;
}

/**
 * `_bulk_docs` request bodies for docs [from, from + count) with ids `prefix` + index, in batches
 * of bulkBatchSize. Returns Buffers, ready to send.
 */
export function bulkBodies(prefix: string, from: number, count: number, seed: number): Buffer[] {
  const random = makeRandom(seed ^ from);
  const bodies: Buffer[] = [];
  for (let start = from; start < from + count; start += bulkBatchSize) {
    const end = Math.min(from + count, start + bulkBatchSize);
    const docs: string[] = [];
    for (let i = start; i < end; i++) docs.push(docJson(docId(prefix, i), i, random));
    bodies.push(Buffer.from(`{"docs":[${docs.join(',')}]}`));
  }
  return bodies;
}
