// Mango selectors: validation, normalization and matching, as CouchDB's
// mango_selector.erl does them.
//
// A selector is first normalized in three passes, exactly like CouchDB, because
// several user-visible behaviours fall out of the normal form:
//   1. norm_ops     — validate every operator's argument; implicit $eq for bare
//                     values; several keys in one object become an implicit $and;
//   2. norm_fields  — push field names down to the terminal operators, joining
//                     nested objects into dotted paths ({a:{b:1}} → {"a.b":{$eq:1}});
//   3. norm_negations — push $not/$nor down with De Morgan's laws, so that
//                     {$not:{a:1}} becomes {a:{$ne:1}} (which, as in CouchDB, does
//                     not match documents that lack `a`).
// Matching then walks the normal form. Values compare with CouchDB collation,
// except `_id`, which compares raw (Erlang term order), as Mango does.
//
// Pure: no I/O. `compileSelector` validates once and returns a reusable matcher.

import { collate } from '../collation/collate.js';
import { rawCollate } from '../collation/raw-order.js';
import { CouchError } from '../errors/couch-error.js';
import { erlangFormat } from '../errors/erlang-format.js';

/** A normalized selector node: an object with exactly one key. */
export type NormSelector = Record<string, unknown>;

type Cmp = (a: unknown, b: unknown) => number;

const TYPE_NAMES = new Set(['null', 'boolean', 'number', 'string', 'array', 'object']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function only(sel: Record<string, unknown>): [string, unknown] {
  const k = Object.keys(sel)[0] as string;
  return [k, sel[k]];
}

function one(k: string, v: unknown): NormSelector {
  return { [k]: v };
}

function mangoError(status: number, error: string, reason: string): CouchError {
  return new CouchError(status, error, reason);
}

function badArg(op: string, arg: unknown): CouchError {
  return mangoError(400, 'bad_arg', `Bad argument for operator ${op}: ${erlangFormat(arg)}`);
}

// ---------------------------------------------------------------- norm_ops

const UNSUPPORTED = new Set(['$where', '$geoWithin', '$geoIntersects', '$near', '$nearSphere']);
const ANY_ARG = new Set(['$lt', '$lte', '$eq', '$ne', '$gte', '$gt']);

function normOps(sel: unknown): NormSelector {
  if (!isObject(sel)) return one('$eq', sel);
  const keys = Object.keys(sel);
  if (keys.length === 0) return one('$eq', sel);
  if (keys.length > 1) return one('$and', keys.map((k) => normOps(one(k, sel[k]))));
  const [op, arg] = only(sel);
  switch (op) {
    case '$and':
    case '$or':
    case '$nor':
      if (!Array.isArray(arg)) throw badArg(op, arg);
      return one(op, arg.map(normOps));
    case '$not':
    case '$elemMatch':
    case '$allMatch':
    case '$keyMapMatch':
      if (!isObject(arg)) throw badArg(op, arg);
      return one(op, normOps(arg));
    case '$in':
    case '$nin':
    case '$all':
      if (!Array.isArray(arg)) throw badArg(op, arg);
      return sel;
    case '$exists':
      if (typeof arg !== 'boolean') throw badArg(op, arg);
      return sel;
    case '$type':
      if (typeof arg !== 'string') throw badArg(op, arg);
      return sel;
    case '$mod':
      // Erlang would crash on a zero divisor; CouchDB answers 500 then. We reject it.
      if (
        !Array.isArray(arg) ||
        arg.length !== 2 ||
        !Number.isInteger(arg[0]) ||
        !Number.isInteger(arg[1]) ||
        arg[0] === 0
      ) {
        throw badArg(op, arg);
      }
      return sel;
    case '$regex':
      if (typeof arg !== 'string') throw badArg(op, arg);
      compileRegex(arg, () => badArg(op, arg));
      return sel;
    case '$size':
      if (!Number.isInteger(arg) || (arg as number) < 0) throw badArg(op, arg);
      return sel;
    case '$beginsWith':
      if (typeof arg !== 'string') throw badArg(op, arg);
      return sel;
    case '$text':
      if (typeof arg !== 'string' && typeof arg !== 'number' && typeof arg !== 'boolean') {
        throw badArg(op, arg);
      }
      return one('$default', one('$text', arg));
    case '$default':
      return sel;
    default:
      if (ANY_ARG.has(op)) return sel;
      if (UNSUPPORTED.has(op)) throw mangoError(400, 'not_supported', `Unsupported operator: ${op}`);
      if (op.startsWith('$')) throw mangoError(400, 'invalid_operator', `Invalid operator: ${op}`);
      return one(op, normOps(arg));
  }
}

// ------------------------------------------------------------- norm_fields

function normFields(sel: NormSelector, path = ''): NormSelector {
  const keys = Object.keys(sel);
  if (keys.length === 0) return path === '' ? sel : one(path, {});
  const [op, arg] = only(sel);
  switch (op) {
    case '$and':
    case '$or':
    case '$nor':
      return one(op, (arg as NormSelector[]).map((a) => normFields(a, path)));
    case '$not':
      return one(op, normFields(arg as NormSelector, path));
    case '$elemMatch':
    case '$allMatch':
    case '$keyMapMatch':
      return one(path, one(op, normFields(arg as NormSelector)));
    case '$default': {
      const inner = arg as NormSelector;
      if (path === '' && isObject(inner) && Object.keys(inner)[0] === '$text') return sel;
      throw mangoError(400, 'bad_field', `Invalid field normalization on selector: ${erlangFormat(sel)}`);
    }
    default:
      if (op.startsWith('$')) return one(path, sel);
      if (!isObject(arg)) {
        throw mangoError(400, 'bad_field', `Invalid field normalization on selector: ${erlangFormat(arg)}`);
      }
      return normFields(arg, path === '' ? op : `${path}.${op}`);
  }
}

// ---------------------------------------------------------- norm_negations

const NEGATED: Record<string, string> = {
  $lt: '$gte',
  $lte: '$gt',
  $eq: '$ne',
  $ne: '$eq',
  $gte: '$lt',
  $gt: '$lte',
  $in: '$nin',
  $nin: '$in',
};

function normNegations(sel: NormSelector): NormSelector {
  if (Object.keys(sel).length === 0) return sel;
  const [op, arg] = only(sel);
  switch (op) {
    case '$not':
      return negate(arg as NormSelector);
    case '$nor':
      return one('$and', (arg as NormSelector[]).map(negate));
    case '$and':
    case '$or':
      return one(op, (arg as NormSelector[]).map(normNegations));
    case '$elemMatch':
    case '$allMatch':
    case '$keyMapMatch':
      return one(op, normNegations(arg as NormSelector));
    default:
      return sel;
  }
}

function negate(sel: NormSelector): NormSelector {
  const [op, arg] = only(sel);
  switch (op) {
    case '$not':
      return normNegations(arg as NormSelector);
    case '$nor':
      return one('$or', (arg as NormSelector[]).map(normNegations));
    case '$and':
      return one('$or', (arg as NormSelector[]).map(negate));
    case '$or':
      return one('$and', (arg as NormSelector[]).map(negate));
    case '$default':
      throw badArg('$not', sel);
    case '$exists':
      return one('$exists', !arg);
    default: {
      const neg = NEGATED[op];
      if (neg !== undefined) return one(neg, arg);
      if (op.startsWith('$')) return one('$not', sel);
      return one(op, negate(arg as NormSelector));
    }
  }
}

/**
 * Validate and normalize a selector as CouchDB does. Throws a CouchDB-shaped 400
 * (`bad_arg`, `invalid_operator`, `not_supported`, `bad_field`,
 * `invalid_selector`) for malformed selectors.
 */
export function normalizeSelector(selector: unknown): NormSelector {
  if (isObject(selector) && Object.keys(selector).length === 0) return {};
  const norm = normNegations(normFields(normOps(selector)));
  if (Object.keys(norm).includes('')) {
    throw mangoError(400, 'invalid_selector', 'One or more conditions is missing a field name.');
  }
  return norm;
}

/** Throws a CouchDB-shaped 400 error when `selector` is not a valid Mango selector. */
export function validateSelector(selector: unknown): void {
  if (!isObject(selector)) {
    throw mangoError(400, 'invalid_selector_json', `Selector must be a JSON object, not: ${erlangFormat(selector)}`);
  }
  normalizeSelector(selector);
}

// ----------------------------------------------------------------- fields

const fieldCache = new Map<string, string[]>();
const FIELD_CACHE_MAX = 10_000; // distinct dotted paths kept parsed; bounded so hostile input cannot grow it

/** Split a dotted Mango field into its path, honouring `\.` escapes (mango_util:parse_field). */
export function parseField(field: string): string[] {
  const hit = fieldCache.get(field);
  if (hit !== undefined) return hit;
  const parts = field.includes('\\')
    ? field.split(/(?<!\\)\./).map((p) => (p === '' ? p : p.replace(/\\/g, '')))
    : field.split('.');
  if (parts.includes('')) {
    throw mangoError(400, 'invalid_field_name', `Invalid field name: ${field}`);
  }
  if (fieldCache.size >= FIELD_CACHE_MAX) fieldCache.clear();
  fieldCache.set(field, parts);
  return parts;
}

const NOT_FOUND = Symbol('not_found');
const BAD_PATH = Symbol('bad_path');

/** mango_doc:get_field: walk objects by key and arrays by numeric index. */
export function getField(value: unknown, path: readonly string[]): unknown {
  let v: unknown = value;
  for (const name of path) {
    if (Array.isArray(v)) {
      if (!/^[+-]?\d+$/.test(name)) return BAD_PATH;
      const pos = Number(name);
      if (pos < 0 || pos >= v.length) return BAD_PATH;
      v = v[pos];
    } else if (isObject(v)) {
      if (!Object.prototype.hasOwnProperty.call(v, name)) return NOT_FOUND;
      v = v[name];
    } else {
      return BAD_PATH;
    }
  }
  return v;
}

/** True when getField found nothing (missing key or a path through a non-container). */
export function isMissing(v: unknown): boolean {
  return v === NOT_FOUND || v === BAD_PATH;
}

// ----------------------------------------------------------------- match

const regexCache = new Map<string, RegExp>();
const REGEX_CACHE_MAX = 1_000; // compiled $regex patterns kept; bounded for the same reason

function compileRegex(src: string, onError: () => Error): RegExp {
  const hit = regexCache.get(src);
  if (hit !== undefined) return hit;
  let re: RegExp;
  try {
    re = new RegExp(src);
  } catch {
    throw onError();
  }
  if (regexCache.size >= REGEX_CACHE_MAX) regexCache.clear();
  regexCache.set(src, re);
  return re;
}

function mangoType(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  return Array.isArray(v) ? 'array' : 'object';
}

/** Exact JSON equality (Erlang `=:=` on EJSON), used by $all's lists:member. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k, i) => kb[i] === k && jsonEqual((a as never)[k], (b as never)[k]));
}

function match(sel: NormSelector, value: unknown, cmp: Cmp): boolean {
  const keys = Object.keys(sel);
  if (keys.length === 0) return true;
  const op = keys[0] as string;
  const arg = sel[op];
  switch (op) {
    case '$and':
      return (arg as NormSelector[]).every((s) => match(s, value, cmp));
    case '$or': {
      const args = arg as NormSelector[];
      return args.length === 0 || args.some((s) => match(s, value, cmp));
    }
    case '$not':
      return !match(arg as NormSelector, value, cmp);
    case '$all': {
      const args = arg as unknown[];
      if (args.length === 0) return false;
      if (args.length === 1 && Array.isArray(args[0]) && jsonEqual(args[0], value)) return true;
      if (!Array.isArray(value)) return false;
      return args.every((a) => value.some((v) => jsonEqual(a, v)));
    }
    case '':
      return match(arg as NormSelector, value, cmp);
    case '$elemMatch':
      return Array.isArray(value) && value.some((v) => match(arg as NormSelector, v, cmp));
    case '$allMatch':
      return Array.isArray(value) && value.length > 0 && value.every((v) => match(arg as NormSelector, v, cmp));
    case '$keyMapMatch':
      return isObject(value) && Object.keys(value).some((k) => match(arg as NormSelector, k, cmp));
    case '$lt':
      return cmp(value, arg) < 0;
    case '$lte':
      return cmp(value, arg) <= 0;
    case '$eq':
      return cmp(value, arg) === 0;
    case '$ne':
      return cmp(value, arg) !== 0;
    case '$gte':
      return cmp(value, arg) >= 0;
    case '$gt':
      return cmp(value, arg) > 0;
    case '$in': {
      const args = arg as unknown[];
      if (Array.isArray(value)) return args.some((a) => value.some((v) => cmp(v, a) === 0));
      return args.some((a) => cmp(value, a) === 0);
    }
    case '$nin': {
      const args = arg as unknown[];
      if (Array.isArray(value)) return args.every((a) => value.every((v) => cmp(v, a) !== 0));
      return args.every((a) => cmp(value, a) !== 0);
    }
    case '$exists':
      return arg === true; // reached only when the field exists; missing fields are handled below
    case '$type':
      return TYPE_NAMES.has(arg as string) && mangoType(value) === arg;
    case '$mod': {
      const [d, r] = arg as [number, number];
      return Number.isInteger(value) && (value as number) % d === r;
    }
    case '$regex':
      return typeof value === 'string' && compileRegex(arg as string, () => badArg(op, arg)).test(value);
    case '$beginsWith':
      return typeof value === 'string' && value.startsWith(arg as string);
    case '$size':
      return Array.isArray(value) && value.length === arg;
    case '$default':
      return true; // only a text index could answer $text; CouchDB trusts it
    default: {
      if (op.startsWith('$')) throw mangoError(400, 'invalid_operator', `Invalid operator: ${op}`);
      const cond = arg as NormSelector;
      const sub = getField(value, parseField(op));
      if (isMissing(sub)) {
        return sub === NOT_FOUND && Object.keys(cond)[0] === '$exists' && cond['$exists'] === false;
      }
      return match(cond, sub, op === '_id' ? rawCollate : cmp);
    }
  }
}

/** Match an already normalized selector (from normalizeSelector) against a document. */
export function matchNormalized(norm: NormSelector, doc: unknown): boolean {
  return match(norm, doc, collate);
}

/** Validate once and return a matcher; throws a CouchDB-shaped 400 for bad selectors. */
export function compileSelector(selector: unknown): (doc: unknown) => boolean {
  validateSelector(selector);
  const norm = normalizeSelector(selector);
  return (doc) => match(norm, doc, collate);
}

const compiled = new WeakMap<object, NormSelector>();

/**
 * Does `doc` match the Mango `selector`? Validates the selector (throwing a
 * CouchDB-shaped 400 if malformed); the normal form is cached per selector object,
 * so calling this once per change of a feed costs one normalization.
 */
export function matchSelector(selector: unknown, doc: unknown): boolean {
  let norm = isObject(selector) ? compiled.get(selector) : undefined;
  if (norm === undefined) {
    validateSelector(selector);
    norm = normalizeSelector(selector);
    compiled.set(selector as object, norm);
  }
  return match(norm, doc, collate);
}
