// One JSON text per JSON value: object keys sorted (by UTF-16 code units, JavaScript's default
// sort) at every depth, no whitespace, everything else exactly as JSON.stringify writes it. Rev ids
// hash this, so two replicas that make the same edit to bodies whose keys arrived in a different
// order still make the same revision.

/**
 * Like JSON.stringify(value) with sorted keys. As in JSON.stringify, `undefined`, functions and
 * symbols are left out of objects and become null in arrays (and at the top level); `toJSON` is
 * honoured; non-finite numbers become null; a BigInt throws TypeError.
 */
export function canonicalJson(value: unknown): string {
  return write(value) ?? 'null';
}

function write(value: unknown): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return JSON.stringify(value);
    case 'object':
      break;
    case 'bigint':
      throw new TypeError('canonicalJson cannot encode a BigInt');
    default:
      return undefined;
  }
  const withToJson = value as { toJSON?: unknown };
  if (typeof withToJson.toJSON === 'function') return write((withToJson.toJSON as () => unknown)());
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += write(value[i]) ?? 'null';
    }
    return out + ']';
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const encoded = write(record[key]);
    if (encoded === undefined) continue;
    out += (first ? '' : ',') + JSON.stringify(key) + ':' + encoded;
    first = false;
  }
  return out + '}';
}
