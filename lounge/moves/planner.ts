// Plans the moves of a rebalance or a drain, and the halves of a split. Pure: from an
// assignment (range → nodes) to a list of moves; nothing is touched.
//
// Rules every plan keeps: a range never has two replicas on one node, never fewer than its
// current number of replicas, and a move only goes to a node that does not hold the range.

import { makeRange, type Range } from '../placement/ranges.js';

export interface PlannedMove {
  range: string;
  from: string;
  to: string;
}

export interface Assignment {
  range: string;
  nodes: readonly string[];
}

function loads(assignments: readonly Assignment[], nodes: readonly string[]): Map<string, number> {
  const load = new Map(nodes.map((n) => [n, 0]));
  for (const a of assignments) for (const n of a.nodes) if (load.has(n)) load.set(n, (load.get(n) as number) + 1);
  return load;
}

/**
 * The fewest moves that even out replicas per node among `nodes` (every node ends with
 * floor or ceil of the average): each move takes a replica from a most-loaded node to a
 * least-loaded one that does not hold that range. Ranges already being moved are left alone.
 */
export function planRebalance(assignments: readonly Assignment[], nodes: readonly string[], busy: ReadonlySet<string> = new Set()): PlannedMove[] {
  const current = assignments.map((a) => ({ range: a.range, nodes: [...a.nodes] }));
  const load = loads(current, nodes);
  const moves: PlannedMove[] = [];
  for (let guard = 0; guard < current.length * nodes.length + 1; guard++) {
    const sorted = [...load.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const [hi, hiLoad] = sorted[0] as [string, number];
    let done = true;
    // The least-loaded node that can take one of hi's ranges.
    for (const [lo, loLoad] of [...sorted].reverse()) {
      if (hiLoad - loLoad <= 1) break;
      const a = current.find((x) => !busy.has(x.range) && x.nodes.includes(hi) && !x.nodes.includes(lo));
      if (!a) continue;
      a.nodes[a.nodes.indexOf(hi)] = lo;
      load.set(hi, hiLoad - 1);
      load.set(lo, loLoad + 1);
      moves.push({ range: a.range, from: hi, to: lo });
      done = false;
      break;
    }
    if (done) break;
  }
  return moves;
}

/**
 * Moves every replica `node` holds to the least-loaded other node that does not hold the
 * range, or a message naming the range that has nowhere to go.
 */
export function planDrain(assignments: readonly Assignment[], node: string, nodes: readonly string[]): PlannedMove[] | string {
  const others = nodes.filter((n) => n !== node);
  const current = assignments.map((a) => ({ range: a.range, nodes: [...a.nodes] }));
  const load = loads(current, others);
  const moves: PlannedMove[] = [];
  for (const a of current) {
    if (!a.nodes.includes(node)) continue;
    const to = [...load.entries()].filter(([n]) => !a.nodes.includes(n)).sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1))[0]?.[0];
    if (to === undefined) return `range ${a.range} would be left with fewer than ${a.nodes.length} replicas: every other node already holds it`;
    a.nodes[a.nodes.indexOf(node)] = to;
    load.set(to, (load.get(to) as number) + 1);
    moves.push({ range: a.range, from: node, to });
  }
  return moves;
}

/** The two halves of a range, as CouchDB's `_reshard` splits one (the first takes the middle). */
export function splitRange(range: Range): [Range, Range] | undefined {
  if (range.end === range.begin) return undefined;
  const mid = range.begin + Math.floor((range.end - range.begin) / 2);
  return [makeRange(range.begin, mid), makeRange(mid + 1, range.end)];
}
