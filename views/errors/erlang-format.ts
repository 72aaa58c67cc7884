// Renders a JSON value the way Erlang's `io_lib:format("~w", [EJSON])` does.
//
// Mango's error reasons embed the offending argument with `~w`, e.g.
// `Bad argument for operator $in: {[{<<"a">>,1}]}`. Clients and tests compare
// these strings, so we reproduce the format: strings as binaries, objects as
// `{[{Key,Value}]}`, null/true/false as atoms, no spaces. Pure.

export function erlangFormat(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return erlangNumber(v);
  if (typeof v === 'string') return erlangBinary(v);
  if (Array.isArray(v)) return `[${v.map(erlangFormat).join(',')}]`;
  const props = Object.entries(v as Record<string, unknown>).map(
    ([k, val]) => `{${erlangBinary(k)},${erlangFormat(val)}}`,
  );
  return `{[${props.join(',')}]}`;
}

function erlangNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  // Erlang prints floats shortest-round-trip with a mandatory ".0" mantissa.
  const s = String(n);
  const [mant, exp] = s.split('e') as [string, string | undefined];
  const m = mant.includes('.') ? mant : `${mant}.0`;
  return exp === undefined ? m : `${m}e${exp.replace('+', '')}`;
}

function erlangBinary(s: string): string {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.every((b) => b >= 32 && b < 127)) {
    return `<<"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}">>`;
  }
  return `<<${Array.from(bytes).join(',')}>>`;
}
