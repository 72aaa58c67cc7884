import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateConfig } from './generate-config.js';
import { ConfigError, validateConfig } from './validate-config.js';

const UUID = '6e1295ed6c29495e54cc05947f18c8af';

function good(): Record<string, unknown> {
  return generateConfig({ urls: ['http://127.0.0.1:5985', 'http://127.0.0.1:5986', 'http://127.0.0.1:5987'], q: 8, n: 2, serverUuid: UUID }) as unknown as Record<string, unknown>;
}

function refused(raw: unknown, message: RegExp): void {
  assert.throws(() => validateConfig(raw), (e: unknown) => e instanceof ConfigError && message.test(e.message), `expected ${message}`);
}

test('a generated config validates, with CouchDB quorum defaults', () => {
  const c = validateConfig(good());
  assert.equal(c.q, 8);
  assert.equal(c.n, 2);
  assert.equal(c.r, 2);
  assert.equal(c.w, 2);
  assert.equal(c.map.ranges.length, 8);
  assert.equal(c.map.rangeOf('joan').name, 'e0000000-ffffffff');
  assert.deepEqual(Object.keys(c.nodes), ['n1', 'n2', 'n3']);
  assert.equal(c.serverUuid, UUID);
});

test('the generated layout spreads replicas evenly on distinct nodes', () => {
  const g = generateConfig({ urls: ['http://a:1', 'http://b:1', 'http://c:1'], q: 6, n: 2, serverUuid: UUID });
  const per: Record<string, number> = {};
  for (const r of g.ranges) {
    assert.equal(new Set(r.nodes).size, 2);
    for (const n of r.nodes) per[n] = (per[n] ?? 0) + 1;
  }
  assert.deepEqual(per, { n1: 4, n2: 4, n3: 4 });
});

test('ranges that do not tile the ring are refused with the gap or overlap named', () => {
  const raw = good();
  const ranges = raw.ranges as { range: string; nodes: string[] }[];
  refused({ ...raw, ranges: ranges.filter((r) => r.range !== '40000000-5fffffff'), q: 7 }, /gap: 40000000-5fffffff is not covered/);
  refused({ ...raw, ranges: [...ranges.slice(0, 7), { range: 'd0000000-ffffffff', nodes: ['n1', 'n2'] }] }, /overlap/);
  refused({ ...raw, ranges: [...ranges.slice(0, 7), { range: 'e0000000-fffffffe', nodes: ['n1', 'n2'] }] }, /gap: ffffffff-ffffffff/);
  refused({ ...raw, ranges: [...ranges.slice(0, 7), { range: 'E0000000-FFFFFFFF', nodes: ['n1', 'n2'] }] }, /must look like "00000000-1fffffff"/);
});

test('duplicate or unknown nodes in a range are refused by name', () => {
  const raw = good();
  const ranges = raw.ranges as { range: string; nodes: string[] }[];
  refused({ ...raw, ranges: ranges.map((r, i) => (i === 2 ? { ...r, nodes: ['n1', 'n1'] } : r)) }, /range 40000000-5fffffff lists node 'n1' twice/);
  refused({ ...raw, ranges: ranges.map((r, i) => (i === 0 ? { ...r, nodes: ['n1', 'n9'] } : r)) }, /range 00000000-1fffffff names unknown node 'n9' \(known nodes: n1, n2, n3\)/);
  refused({ ...raw, ranges: ranges.map((r, i) => (i === 0 ? { ...r, nodes: ['n1'] } : r)) }, /lists 1 node\(s\) but n is 2/);
});

test('r and w may not exceed n; q must match the ranges', () => {
  refused({ ...good(), w: 3 }, /w \(3\) must not exceed n \(2\)/);
  refused({ ...good(), r: 3 }, /r \(3\) must not exceed n \(2\)/);
  refused({ ...good(), q: 4 }, /q is 4 but 8 range\(s\) are listed/);
  refused({ ...good(), n: 0 }, /'n' must be a positive integer/);
});

test('missing or malformed fields are named', () => {
  refused([], /must be a JSON object/);
  refused({ ...good(), serverUuid: undefined }, /serverUuid/);
  refused({ ...good(), rangez: [] }, /unknown field 'rangez'/);
  refused({ ...good(), nodes: {} }, /'nodes' must be an object/);
  refused({ ...good(), nodes: { n1: { url: 'ftp://x' }, n2: { url: 'http://b:1' }, n3: { url: 'http://c:1' } } }, /node 'n1' url must be http/);
  refused({ ...good(), nodes: { n1: { url: 'http://a:1' }, n2: { url: 'http://a:1/' }, n3: { url: 'http://c:1' } } }, /nodes 'n1' and 'n2' have the same url/);
  refused({ ...good(), health: { failTreshold: 3 } }, /unknown field 'health.failTreshold'/);
  refused({ ...good(), service: { name: 'x' } }, /'service' must be/);
});
