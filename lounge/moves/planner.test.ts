// The planner's rules: rebalances even out replicas with few moves and never put two
// replicas of a range on one node; drains empty a node or say why they cannot; splits halve.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { generateRanges, parseRange } from '../placement/ranges.js';
import { planDrain, planRebalance, splitRange, type Assignment } from './planner.js';

function layout(q: number, n: number, nodes: string[]): Assignment[] {
  return generateRanges(q).map((r, i) => ({ range: r.name, nodes: Array.from({ length: n }, (_, k) => nodes[(i + k) % nodes.length] as string) }));
}

function apply(a: Assignment[], moves: { range: string; from: string; to: string }[]): Assignment[] {
  const out = a.map((x) => ({ range: x.range, nodes: [...x.nodes] }));
  for (const m of moves) {
    const r = out.find((x) => x.range === m.range) as { nodes: string[] };
    assert.ok(r.nodes.includes(m.from) && !r.nodes.includes(m.to), `move ${m.range} ${m.from}→${m.to} is valid`);
    r.nodes[r.nodes.indexOf(m.from)] = m.to;
  }
  return out;
}

function perNode(a: Assignment[], nodes: string[]): number[] {
  return nodes.map((n) => a.filter((x) => x.nodes.includes(n)).length);
}

test('a 4th node added to 3 (q=8, n=2) gets 4 replicas in 4 moves', () => {
  const a = layout(8, 2, ['n1', 'n2', 'n3']);
  const moves = planRebalance(a, ['n1', 'n2', 'n3', 'n4']);
  assert.equal(moves.length, 4);
  assert.deepEqual(perNode(apply(a, moves), ['n1', 'n2', 'n3', 'n4']), [4, 4, 4, 4]);
  assert.deepEqual(planRebalance(apply(a, moves), ['n1', 'n2', 'n3', 'n4']), [], 'an even layout needs nothing');
});

test('rebalance: any layout ends within one replica per node, with distinct replicas', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 3, max: 6 }), fc.integer({ min: 0, max: 3 }), (q, n, total, extra) => {
      const nodes = Array.from({ length: total }, (_, i) => `n${i + 1}`);
      const a = layout(q, n, nodes.slice(0, Math.max(n, total - extra)));
      const after = apply(a, planRebalance(a, nodes));
      const counts = perNode(after, nodes);
      assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `even: ${counts.join(',')}`);
      for (const r of after) assert.equal(new Set(r.nodes).size, n);
    }),
  );
});

test('a drain moves every replica off the node, or names the range that cannot move', () => {
  const a = layout(8, 2, ['n1', 'n2', 'n3', 'n4']);
  const moves = planDrain(a, 'n2', ['n1', 'n2', 'n3', 'n4']);
  assert.ok(Array.isArray(moves));
  const after = apply(a, moves);
  assert.equal(perNode(after, ['n2'])[0], 0);
  assert.deepEqual(perNode(after, ['n1', 'n3', 'n4']).sort(), [5, 5, 6]);
  const tight = layout(4, 2, ['n1', 'n2']);
  assert.match(planDrain(tight, 'n1', ['n1', 'n2']) as string, /fewer than 2 replicas/);
});

test('a split halves a range; the first half takes the middle', () => {
  const [a, b] = splitRange(parseRange('00000000-1fffffff')!)!;
  assert.equal(a.name, '00000000-0fffffff');
  assert.equal(b.name, '10000000-1fffffff');
  assert.deepEqual(splitRange(parseRange('e0000000-ffffffff')!)!.map((r) => r.name), ['e0000000-efffffff', 'f0000000-ffffffff']);
  assert.equal(splitRange(parseRange('00000005-00000005')!), undefined);
});
