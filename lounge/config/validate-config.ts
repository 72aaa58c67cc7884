// Turns the raw JSON of lounge.json into a LoungeConfig, or refuses it with a ConfigError
// whose message names the problem (the field, the range, the node), because a lounge that
// starts on a bad map would put documents where no other proxy will find them.
//
// Checked: known fields only; node ids and URLs; q, n, r, w (r, w ≤ n); every range parses,
// the ranges tile the ring exactly once, there are q of them, each lists n distinct known
// nodes; a stable serverUuid. Pure: no I/O.

import { parseRange, tilingProblem, type Range } from '../placement/ranges.js';
import { SHARD_NAME_SCHEMES, ShardMap, type ShardNameScheme } from '../placement/shard-map.js';
import { parseElasticState } from '../moves/move-types.js';
import {
  DEFAULT_ELASTIC,
  DEFAULT_HEALTH,
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_SYNC,
  DEFAULT_TIMEOUTS,
  type ElasticConfig,
  type HealthConfig,
  type LoungeConfig,
  type NodeConfig,
  type SyncConfig,
  type TimeoutConfig,
} from './lounge-config.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const TOP_LEVEL = new Set([
  'version', 'mapEpoch', 'serverUuid', 'nodes', 'q', 'n', 'r', 'w', 'ranges',
  'service', 'admins', 'port', 'host', 'health', 'timeouts', 'sync',
  'elastic', 'shardNames', 'moves', 'translations', 'retired', 'draining',
]);
const NODE_ID = /^[A-Za-z0-9_.@-]{1,64}$/;
const UUID = /^[0-9a-f]{32}$/;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function positiveInt(raw: Json, field: string, fallback?: number): number {
  const v = raw[field] ?? fallback;
  if (v === undefined) throw new ConfigError(`'${field}' is missing`);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ConfigError(`'${field}' must be a positive integer, not ${JSON.stringify(v)}`);
  return v;
}

function numbers<T extends object>(raw: unknown, field: string, defaults: T): T {
  if (raw === undefined) return { ...defaults };
  if (!isObject(raw)) throw new ConfigError(`'${field}' must be an object`);
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [k, v] of Object.entries(raw)) {
    if (!(k in defaults)) throw new ConfigError(`unknown field '${field}.${k}' (known: ${Object.keys(defaults).join(', ')})`);
    const d = (defaults as Record<string, unknown>)[k];
    if (typeof d === 'boolean') {
      if (typeof v !== 'boolean') throw new ConfigError(`'${field}.${k}' must be true or false`);
    } else if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new ConfigError(`'${field}.${k}' must be a positive number, not ${JSON.stringify(v)}`);
    }
    out[k] = v;
  }
  return out as T;
}

function validateNodes(raw: unknown): Record<string, NodeConfig> {
  if (!isObject(raw) || Object.keys(raw).length === 0) {
    throw new ConfigError(`'nodes' must be an object of node ids, e.g. {"n1": {"url": "http://127.0.0.1:5984"}}`);
  }
  const nodes: Record<string, NodeConfig> = {};
  const byUrl = new Map<string, string>();
  for (const [id, spec] of Object.entries(raw)) {
    if (!NODE_ID.test(id)) throw new ConfigError(`node id '${id}' must be 1-64 letters, digits or _.@-`);
    const url = isObject(spec) ? spec.url : undefined;
    if (typeof url !== 'string') throw new ConfigError(`node '${id}' needs a "url"`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(`node '${id}' has an invalid url '${url}'`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`node '${id}' url must be http: or https:, not '${url}'`);
    if (parsed.pathname !== '/' || parsed.search || parsed.hash) throw new ConfigError(`node '${id}' url must be a server root, not '${url}'`);
    if (parsed.username || parsed.password) throw new ConfigError(`node '${id}' url must not carry credentials; use "service"`);
    const base = parsed.origin;
    const other = byUrl.get(base);
    if (other !== undefined) throw new ConfigError(`nodes '${other}' and '${id}' have the same url ${base}`);
    byUrl.set(base, id);
    for (const k of Object.keys(spec as Json)) if (k !== 'url') throw new ConfigError(`unknown field 'nodes.${id}.${k}'`);
    nodes[id] = { url: base };
  }
  return nodes;
}

function validateRanges(raw: unknown, nodes: Record<string, NodeConfig>, q: number, n: number): { range: Range; nodes: string[] }[] {
  if (!Array.isArray(raw)) throw new ConfigError(`'ranges' must be an array of {"range": "00000000-7fffffff", "nodes": ["n1", ...]}`);
  const known = Object.keys(nodes);
  const out: { range: Range; nodes: string[] }[] = [];
  for (const [i, entry] of raw.entries()) {
    if (!isObject(entry)) throw new ConfigError(`ranges[${i}] must be an object with "range" and "nodes"`);
    const text = entry.range;
    const range = typeof text === 'string' ? parseRange(text) : undefined;
    if (!range) throw new ConfigError(`ranges[${i}]: range ${JSON.stringify(text)} must look like "00000000-1fffffff" (lowercase hex, begin ≤ end)`);
    const list = entry.nodes;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw new ConfigError(`range ${range.name}: "nodes" must be an array of node ids`);
    for (const id of list) {
      if (!(id in nodes)) throw new ConfigError(`range ${range.name} names unknown node '${id}' (known nodes: ${known.join(', ')})`);
    }
    const dup = list.find((id, j) => list.indexOf(id) !== j);
    if (dup !== undefined) throw new ConfigError(`range ${range.name} lists node '${dup}' twice: replicas of a range must be on distinct nodes`);
    if (list.length !== n) throw new ConfigError(`range ${range.name} lists ${list.length} node(s) but n is ${n}`);
    for (const k of Object.keys(entry)) if (k !== 'range' && k !== 'nodes') throw new ConfigError(`unknown field 'ranges[${i}].${k}'`);
    out.push({ range, nodes: list as string[] });
  }
  const problem = tilingProblem(out.map((r) => r.range));
  if (problem) throw new ConfigError(problem);
  if (out.length !== q) throw new ConfigError(`q is ${q} but ${out.length} range(s) are listed`);
  return out;
}

/** Validates parsed lounge.json. `where` prefixes messages (usually the file name). */
export function validateConfig(raw: unknown): LoungeConfig {
  if (!isObject(raw)) throw new ConfigError('the config must be a JSON object');
  for (const k of Object.keys(raw)) {
    if (!TOP_LEVEL.has(k)) throw new ConfigError(`unknown field '${k}' (known: ${[...TOP_LEVEL].join(', ')})`);
  }
  if (raw.version !== undefined && raw.version !== 1) throw new ConfigError(`'version' must be 1, not ${JSON.stringify(raw.version)}`);
  const uuid = raw.serverUuid;
  if (typeof uuid !== 'string' || !UUID.test(uuid)) {
    throw new ConfigError(`'serverUuid' must be 32 lowercase hex digits and never change (PouchDB builds replication ids from it)`);
  }
  const epoch = raw.mapEpoch ?? 1;
  if (typeof epoch !== 'string' && typeof epoch !== 'number') throw new ConfigError(`'mapEpoch' must be a string or a number`);
  const nodes = validateNodes(raw.nodes);
  const q = positiveInt(raw, 'q');
  const n = positiveInt(raw, 'n');
  const quorum = Math.floor(n / 2) + 1;
  const r = positiveInt(raw, 'r', Math.min(quorum, n));
  const w = positiveInt(raw, 'w', Math.min(quorum, n));
  if (r > n) throw new ConfigError(`r (${r}) must not exceed n (${n})`);
  if (w > n) throw new ConfigError(`w (${w}) must not exceed n (${n})`);
  if (n > Object.keys(nodes).length) throw new ConfigError(`n is ${n} but only ${Object.keys(nodes).length} node(s) are defined`);
  const ranges = validateRanges(raw.ranges, nodes, q, n);
  const shardNames = raw.shardNames ?? 'shards';
  if (!SHARD_NAME_SCHEMES.includes(shardNames as ShardNameScheme)) throw new ConfigError(`'shardNames' must be one of ${SHARD_NAME_SCHEMES.join(', ')}, not ${JSON.stringify(shardNames)}`);
  const state = parseElasticState(raw);
  if (typeof state === 'string') throw new ConfigError(state);
  for (const m of state.moves) {
    for (const node of [m.from, m.to]) if (node !== undefined && !(node in nodes)) throw new ConfigError(`move ${m.id} names unknown node '${node}'`);
  }

  let service: LoungeConfig['service'];
  if (raw.service !== undefined) {
    const s = raw.service;
    if (!isObject(s) || typeof s.name !== 'string' || typeof s.password !== 'string' || s.name === '') {
      throw new ConfigError(`'service' must be {"name": "...", "password": "..."}: the credential the lounge uses on the nodes`);
    }
    service = { name: s.name, password: s.password };
  }
  const admins: Record<string, string> = {};
  if (raw.admins !== undefined) {
    if (!isObject(raw.admins)) throw new ConfigError(`'admins' must be an object of name → password`);
    for (const [name, pw] of Object.entries(raw.admins)) {
      if (typeof pw !== 'string' || name === '') throw new ConfigError(`admin '${name}' must have a string password`);
      admins[name] = pw;
    }
  }
  const port = raw.port === undefined ? DEFAULT_PORT : raw.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`'port' must be 0-65535`);
  const host = raw.host ?? DEFAULT_HOST;
  if (typeof host !== 'string' || host === '') throw new ConfigError(`'host' must be a host name or address`);

  return {
    version: 1,
    mapEpoch: String(epoch),
    serverUuid: uuid,
    nodes,
    q,
    n,
    r,
    w,
    map: new ShardMap(ranges, shardNames as ShardNameScheme),
    service,
    admins,
    port,
    host,
    health: numbers<HealthConfig>(raw.health, 'health', DEFAULT_HEALTH),
    timeouts: numbers<TimeoutConfig>(raw.timeouts, 'timeouts', DEFAULT_TIMEOUTS),
    sync: numbers<SyncConfig>(raw.sync, 'sync', DEFAULT_SYNC),
    elastic: numbers<ElasticConfig>(raw.elastic, 'elastic', DEFAULT_ELASTIC),
    shardNames: shardNames as ShardNameScheme,
    state,
    source: raw,
  };
}
