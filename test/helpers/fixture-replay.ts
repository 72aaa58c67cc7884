// Replaying API calls recorded from Apache CouchDB 3.5 against Chaise, and comparing the answers:
// status, key headers and body. Rev hashes, uuids, request ids and instance times are
// implementation-specific: each CouchDB rev is mapped to the one Chaise produced (so later steps
// that quote it use ours) and only generations must agree; sequences compare by their numeric
// prefix and their JSON type, and each CouchDB sequence string is mapped to ours like a rev.
// Shared by both fixture files' replays.

import assert from 'node:assert/strict';
import type supertest from 'supertest';
import { REV, RevMap } from './rev-map.js';

export interface Step {
  note: string;
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  responseHeaders: Record<string, string>;
  response: unknown;
  /** The recording kept only the type skeleton of a large answer ("string", "number", …). */
  shapeOnly?: boolean;
}

/**
 * Where Chaise knowingly differs from a recorded step: JSON paths left out, and why; or, where
 * CouchDB answers a server error for a client's mistake, the status and body Chaise answers instead.
 * `byId` names an array of rows (e.g. `results`) whose order comes from CouchDB's shards: both
 * sides are sorted by `id` before they are compared.
 */
export type Deviations = Record<string, { paths: string[]; why: string; status?: number; response?: unknown; byId?: string }>;

export interface CompareOptions {
  /** Sequences must have the recorded JSON type too (CouchDB 3 hands out strings). */
  seqType: boolean;
}

const SEQ_KEYS = new Set(['seq', 'last_seq', 'update_seq', 'purge_seq']);
const SHAPE_ONLY = new Set(['instance_start_time', 'uuids']);
const HASH = /^[0-9a-f]{32}$/;

function seqNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  return Number(String(v).split('-')[0]);
}

export function compare(expected: unknown, actual: unknown, where: string, revs: RevMap, skip: Set<string>, opts: CompareOptions): void {
  const key = where.split('.').pop() ?? '';
  if (skip.has(where.replace(/^body\.?/, ''))) return;
  if (SEQ_KEYS.has(key) && expected !== null) {
    if (opts.seqType) assert.equal(typeof actual, typeof expected, `${where}: sequence type of ${JSON.stringify(actual)}`);
    assert.equal(seqNumber(actual), seqNumber(expected), `${where}: sequence`);
    if (typeof expected === 'string' && typeof actual === 'string') revs.noteSeq(expected, actual);
    return;
  }
  if (SHAPE_ONLY.has(key)) return assert.equal(typeof actual, typeof expected, `${where}: type`);
  if (typeof expected === 'string' && REV.test(expected) && !/^\d+-([0-9a-f])\1{31}$/.test(expected)) {
    assert.equal(typeof actual, 'string', `${where}: expected a string`);
    return revs.compare(expected, actual as string, where);
  }
  if (typeof expected === 'string' && HASH.test(expected) && where.includes('.ids.')) {
    return revs.compareHash(expected, actual as string, where);
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected an array, got ${JSON.stringify(actual)}`);
    if (key === 'uuids') return;
    assert.equal(actual.length, expected.length, `${where}: length of ${JSON.stringify(actual)}`);
    expected.forEach((e, i) => compare(e, actual[i], `${where}.${i}`, revs, skip, opts));
    return;
  }
  if (typeof expected === 'object' && expected !== null) {
    assert.ok(typeof actual === 'object' && actual !== null && !Array.isArray(actual), `${where}: expected an object, got ${JSON.stringify(actual)}`);
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    const missing = Object.keys(e).filter((k) => !(k in a) && !skip.has(`${where}.${k}`.replace(/^body\.?/, '')));
    const extra = Object.keys(a).filter((k) => !(k in e));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${where}: members of ${JSON.stringify(actual)}`);
    for (const k of Object.keys(e)) compare(e[k], a[k], `${where}.${k}`, revs, skip, opts);
    return;
  }
  assert.deepEqual(actual, expected, where);
}

/**
 * A shape-only step: each recorded leaf names a JSON type ("string", "number", "boolean"), arrays
 * hold one sample element. Members the recording has must be there with that type, save those
 * `skip` names; members it lacks are allowed (Chaise may measure more or less than CouchDB).
 */
export function compareShape(expected: unknown, actual: unknown, where: string, skip: Set<string>): void {
  if (skip.has(where.replace(/^body\.?/, ''))) return;
  if (typeof expected === 'string') {
    return assert.equal(expected === 'null' ? (actual === null ? 'null' : typeof actual) : typeof actual, expected, `${where}: type of ${JSON.stringify(actual)}`);
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected an array, got ${JSON.stringify(actual)}`);
    if (expected.length > 0) for (const [i, a] of actual.entries()) compareShape(expected[0], a, `${where}.${i}`, skip);
    return;
  }
  if (typeof expected === 'object' && expected !== null) {
    assert.ok(typeof actual === 'object' && actual !== null && !Array.isArray(actual), `${where}: expected an object, got ${JSON.stringify(actual)}`);
    const a = actual as Record<string, unknown>;
    for (const [k, e] of Object.entries(expected)) {
      const path = `${where}.${k}`;
      if (skip.has(path.replace(/^body\.?/, ''))) continue;
      assert.ok(k in a, `${path}: missing from ${JSON.stringify(actual).slice(0, 300)}`);
      compareShape(e, a[k], path, skip);
    }
    return;
  }
  assert.deepEqual(actual, expected, where);
}

export interface ReplayOptions extends CompareOptions {
  /** Replaces the recording's placeholders (`{db}`, `{pdb}`) in paths: the recorded names, so bodies and locations match. */
  names: Record<string, string>;
  deviations: Deviations;
  /** Compare the recorded `cache-control` and request-id headers too. */
  headers: boolean;
}

/** Sends one recorded step and checks the answer; `revs` carries rev translations between steps. */
export async function replayStep(request: ReturnType<typeof supertest>, step: Step, revs: RevMap, opts: ReplayOptions): Promise<void> {
  let path = step.path;
  for (const [k, v] of Object.entries(opts.names)) path = path.split(`{${k}}`).join(v);
  path = revs.translate(path);
  let req = request[step.method.toLowerCase() as 'get'](path) as supertest.Test;
  for (const [h, v] of Object.entries(step.headers ?? {})) req = req.set(h, revs.translate(v));
  if (step.body !== undefined) {
    const b = step.body as { type?: string; data?: number[] };
    // A recorded raw string body went out as JSON unless the step names another type.
    if (typeof step.body === 'string') req = (step.headers?.['content-type'] ? req : req.set('content-type', 'application/json')).send(step.body);
    else if (b.type === 'Buffer' && Array.isArray(b.data)) req = req.send(Buffer.from(b.data));
    else {
      if (!step.headers?.['content-type']) req = req.set('content-type', 'application/json');
      req = req.send(revs.translate(JSON.stringify(step.body)));
    }
  }
  req = req.buffer(true).parse((res, cb) => {
    let data = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (data += c));
    res.on('end', () => cb(null, data));
  });
  const res = await req;
  const text = res.body as string;
  const deviation = opts.deviations[step.note];
  if (deviation?.status !== undefined) step = { ...step, status: deviation.status, response: deviation.response ?? step.response };
  assert.equal(res.status, step.status, `status (body ${text})`);
  const skip = new Set(opts.deviations[step.note]?.paths ?? []);
  const want = step.responseHeaders;
  const expectedType = want['content-type'];
  if (expectedType && !skip.has('header.content-type')) {
    assert.equal(String(res.headers['content-type']).split(';')[0], expectedType.split(';')[0], 'content-type');
  }
  if (opts.headers) {
    if (want['cache-control'] && !skip.has('header.cache-control')) assert.equal(res.headers['cache-control'], want['cache-control'], 'cache-control');
    const sentId = step.headers?.['x-couch-request-id'];
    if (sentId) assert.equal(res.headers['x-couch-request-id'], sentId, 'x-couch-request-id echoed');
    else if (want['x-couch-request-id']) assert.equal(typeof res.headers['x-couch-request-id'], 'string', 'x-couch-request-id');
    if (step.status === 304) assert.equal(res.headers['content-length'], '0', 'content-length of a 304');
  }
  const etag = want.etag;
  if (etag && REV.test(etag.replace(/^W\//, '').replace(/"/g, ''))) {
    revs.compare(etag.replace(/"/g, ''), String(res.headers.etag).replace(/"/g, ''), 'etag');
  }
  if (want.location) {
    assert.equal(new URL(String(res.headers.location)).pathname, new URL(revs.translate(want.location)).pathname, 'location');
  }
  if (step.method === 'HEAD' || step.status === 304) return;
  if (step.shapeOnly) return compareShape(step.response, JSON.parse(text), 'body', skip);
  if (typeof step.response === 'string' && expectedType !== 'application/json') {
    if (!skip.has('raw')) assert.equal(text, step.response, 'raw body');
  } else if (typeof step.response === 'string' && isJsonString(text)) {
    // A JSON string answer (config values).
    compare(step.response, JSON.parse(text), 'body', revs, skip, opts);
  } else if (typeof step.response === 'string') {
    // A continuous feed: one JSON value per line.
    const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
    compare(lines(step.response), lines(text), 'body', revs, skip, opts);
  } else {
    const byId = opts.deviations[step.note]?.byId;
    const actual = JSON.parse(text) as Record<string, unknown>;
    if (byId) {
      const sorted = (rows: unknown) => [...(rows as { id: string }[])].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const expected = step.response as Record<string, unknown>;
      return compare({ ...expected, [byId]: sorted(expected[byId]) }, { ...actual, [byId]: sorted(actual[byId]) }, 'body', revs, skip, opts);
    }
    compare(step.response, actual, 'body', revs, skip, opts);
  }
}

function isJsonString(text: string): boolean {
  try {
    return typeof JSON.parse(text) === 'string';
  } catch {
    return false;
  }
}
