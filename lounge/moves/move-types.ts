// What the elastic lounge records about moves and splits, and validates when lounge.json
// is read back: the moves themselves (so a lounge killed mid-move resumes or rolls them
// back), the sequence translations made at each switch (so `_changes` tokens naming a
// replica that left a range resume on its successor instead of from 0), the old shards
// waiting to be deleted, and the nodes being drained.
//
// Pure: types and validation only.

export type MoveState = 'pending' | 'copying' | 'catching_up' | 'switching' | 'done' | 'failed';
export const MOVE_STATES: readonly MoveState[] = ['pending', 'copying', 'catching_up', 'switching', 'done', 'failed'];
/** States in which the target receives the range's writes (and a restart must resume or roll back). */
export const ACTIVE_STATES: ReadonlySet<MoveState> = new Set(['copying', 'catching_up', 'switching']);

export interface MoveRecord {
  id: string;
  kind: 'move' | 'split';
  /** The range moved, or the parent range of a split. */
  range: string;
  /** A move's old and new replica. */
  from?: string;
  to?: string;
  /** A split's two child ranges. */
  children?: [string, string];
  state: MoveState;
  /** Documents written to the new replica(s) so far, of the source shards' total at the start. */
  docsCopied: number;
  docsTotal: number;
  errors: string[];
  /** Why it was planned: an explicit request, a rebalance or a drain. */
  reason: 'request' | 'rebalance' | 'drain';
  created: string;
  updated: string;
}

/**
 * Made at a switch with the range's writes paused and the old and new replicas holding the
 * same documents: a position at or past `seq` on (`range`, `node`) is the position `toSeq`
 * on (`toRange`, `toNode`). `mem3_rep:find_source_seq` translates through the internal
 * replicator's checkpoints the same way.
 */
export interface SeqTranslation {
  db: string;
  range: string;
  node: string;
  seq: unknown;
  toRange: string;
  toNode: string;
  toSeq: unknown;
}

/** A replica that left its range: its shards are deleted after `after` (never before the switch). */
export interface RetiredShards {
  node: string;
  range: string;
  after: string;
  /** The node's URL at the switch: a node removed from the map since is still reached there (if it still runs). */
  url?: string;
}

export interface ElasticState {
  moves: MoveRecord[];
  translations: SeqTranslation[];
  retired: RetiredShards[];
  /** Nodes being drained: removed from the map once they hold nothing. */
  draining: string[];
}

export function emptyElasticState(): ElasticState {
  return { moves: [], translations: [], retired: [], draining: [] };
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates the persisted elastic state of lounge.json; returns a message naming the problem, or the state. */
export function parseElasticState(raw: Json): ElasticState | string {
  const out = emptyElasticState();
  const list = (field: string): unknown[] | string => {
    const v = raw[field];
    if (v === undefined) return [];
    return Array.isArray(v) ? v : `'${field}' must be an array`;
  };
  const moves = list('moves');
  if (typeof moves === 'string') return moves;
  for (const [i, m] of moves.entries()) {
    if (!isObject(m) || typeof m.id !== 'string' || (m.kind !== 'move' && m.kind !== 'split') || typeof m.range !== 'string') return `moves[${i}] needs an "id", a "kind" (move or split) and a "range"`;
    if (!MOVE_STATES.includes(m.state as MoveState)) return `moves[${i}].state must be one of ${MOVE_STATES.join(', ')}`;
    if (m.kind === 'move' && (typeof m.from !== 'string' || typeof m.to !== 'string')) return `moves[${i}] (a move) needs "from" and "to"`;
    if (m.kind === 'split' && !(Array.isArray(m.children) && m.children.length === 2 && m.children.every((c) => typeof c === 'string'))) return `moves[${i}] (a split) needs two "children"`;
    const defaults = { docsCopied: 0, docsTotal: 0, errors: [], reason: 'request', created: new Date(0).toISOString(), updated: new Date(0).toISOString() };
    out.moves.push(Object.assign(defaults, m) as unknown as MoveRecord);
  }
  const tr = list('translations');
  if (typeof tr === 'string') return tr;
  for (const [i, t] of tr.entries()) {
    if (!isObject(t) || !['db', 'range', 'node', 'toRange', 'toNode'].every((k) => typeof t[k] === 'string')) return `translations[${i}] needs db, range, node, seq, toRange, toNode, toSeq`;
    out.translations.push(t as unknown as SeqTranslation);
  }
  const retired = list('retired');
  if (typeof retired === 'string') return retired;
  for (const [i, r] of retired.entries()) {
    if (!isObject(r) || typeof r.node !== 'string' || typeof r.range !== 'string' || typeof r.after !== 'string') return `retired[${i}] needs node, range and after`;
    out.retired.push(r as unknown as RetiredShards);
  }
  const draining = list('draining');
  if (typeof draining === 'string') return draining;
  if (!draining.every((d) => typeof d === 'string')) return `'draining' must list node ids`;
  out.draining = draining as string[];
  return out;
}
