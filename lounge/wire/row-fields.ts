// Reading the one or two fields the proxy needs from a row without parsing the whole row.
//
// Merging `_all_docs` needs only each row's id, and a `_changes` row only its seq and id;
// rows may carry whole documents (`include_docs`), so parsing every row in full was most of
// the proxy's CPU on big reads. Nodes (CouchDB and Chaise alike) write these rows with the
// fields first: `{"id":"…",` and `{"seq":…,"id":"…",`. When a row does not start that way the
// caller falls back to JSON.parse, so this is only ever a shortcut. Pure.

/** A JSON string literal starting at `at` (which must be a quote): its end index (exclusive), or -1. */
function stringEnd(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i + 1;
  }
  return -1;
}

/** The id of an `_all_docs`-shaped row (`{"id":"…",…`), or undefined to parse in full. */
export function leadingId(text: string): string | undefined {
  if (!text.startsWith('{"id":"')) return undefined;
  const end = stringEnd(text, 6);
  if (end < 0) return undefined;
  const raw = text.slice(6, end);
  return raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
}

export interface ChangeHead {
  seq: unknown;
  id: string;
  /** The text after the seq value (starting with `,"id":`), to splice a new seq in front of. */
  rest: string;
}

const SEQ_PREFIX = '{"seq":';

/** The seq and id of a `_changes` row (`{"seq":…,"id":"…",…`), or undefined to parse in full. */
export function changeHead(text: string): ChangeHead | undefined {
  if (!text.startsWith(SEQ_PREFIX)) return undefined;
  let i = SEQ_PREFIX.length;
  let seqEnd: number;
  if (text.charCodeAt(i) === 0x22) {
    seqEnd = stringEnd(text, i);
    if (seqEnd < 0) return undefined;
  } else {
    seqEnd = i;
    while (seqEnd < text.length && /[-0-9.eE+]/.test(text[seqEnd] as string)) seqEnd++;
    if (seqEnd === i) return undefined;
  }
  const seqText = text.slice(i, seqEnd);
  if (!text.startsWith(',"id":"', seqEnd)) return undefined;
  i = seqEnd + 6;
  const idEnd = stringEnd(text, i);
  if (idEnd < 0) return undefined;
  const raw = text.slice(i, idEnd);
  const id = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
  return { seq: JSON.parse(seqText) as unknown, id, rest: text.slice(seqEnd) };
}
