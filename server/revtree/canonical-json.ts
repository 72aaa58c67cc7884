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
  // Fast path: a copy with keys inserted in sorted order, written by the native serializer, costs
  // about two thirds of the walk below. It applies to plain JSON data without integer-like keys
  // (objects list those first, in numeric order, whatever the insertion order).
  const sorted = sortedCopy(value);
  if (sorted !== NOT_PLAIN) return JSON.stringify(sorted) ?? 'null';
  return write(value) ?? 'null';
}

const NOT_PLAIN = Symbol('not plain');

/** `value` with every object's keys in sorted order (arrays without objects are shared), or NOT_PLAIN. */
function sortedCopy(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return typeof value === 'bigint' ? NOT_PLAIN : value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const sorted = sortedCopy(item);
      if (sorted === NOT_PLAIN) return NOT_PLAIN;
      if (sorted !== item) (copy ??= value.slice())[i] = sorted;
    }
    return copy ?? value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  // Other prototypes may carry toJSON; an own `__proto__` key cannot be copied by assignment.
  if ((proto !== Object.prototype && proto !== null) || Object.hasOwn(value, '__proto__')) return NOT_PLAIN;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  const copy: Record<string, unknown> = {};
  for (const key of keys) {
    const first = key.charCodeAt(0);
    if (first >= 48 && first <= 57) return NOT_PLAIN; // a digit: maybe an integer-like key
    const sorted = sortedCopy(record[key]);
    if (sorted === NOT_PLAIN) return NOT_PLAIN;
    copy[key] = sorted;
  }
  return copy;
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
