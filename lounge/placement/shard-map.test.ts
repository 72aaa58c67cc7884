import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateRanges } from './ranges.js';
import { parseShardName, shardName, ShardMap } from './shard-map.js';

const map = new ShardMap(generateRanges(8).map((range, i) => ({ range, nodes: [`n${(i % 3) + 1}`, `n${((i + 1) % 3) + 1}`] })));

test('documents land where CouchDB puts them with q=8 (sharding.rst example)', () => {
  assert.equal(map.rangeOf('joan').name, 'e0000000-ffffffff');
  assert.equal(map.rangeOf('robert').name, '60000000-7fffffff');
});

test('replicas are the range nodes rotated per database, so leaders spread', () => {
  const range = map.rangeOf('joan');
  const leaders = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const reps = map.replicas(`db${i}`, range);
    assert.deepEqual([...reps].sort(), [...map.nodesOf(range)].sort());
    leaders.add(reps[0] as string);
  }
  assert.equal(leaders.size, 2, 'both replicas lead for some database');
  assert.deepEqual(map.replicas('db1', range), map.replicas('db1', range), 'stable');
});

test('shard names round-trip', () => {
  assert.equal(shardName('00000000-1fffffff', 'a/b', 'shards'), 'shards/00000000-1fffffff/a/b');
  assert.equal(shardName('00000000-1fffffff', 'a/b', 'flat'), 'lounge_00000000-1fffffff_a/b');
  assert.deepEqual(parseShardName('lounge_00000000-1fffffff_a/b', 'flat'), { range: '00000000-1fffffff', db: 'a/b' });
  assert.deepEqual(parseShardName('shards/00000000-1fffffff/a/b'), { range: '00000000-1fffffff', db: 'a/b' });
  assert.equal(parseShardName('lounge_registry'), undefined);
});

test('foreign design copies are recognised by the home range of their id', () => {
  const home = map.rangeOf('_design/foo');
  assert.equal(home.name, 'c0000000-dfffffff'); // crc32 ca58923f
  assert.equal(map.isForeignDesignCopy('_design/foo', home), false);
  assert.equal(map.isForeignDesignCopy('_design/foo', map.rangeOf('joan')), true);
  assert.equal(map.isForeignDesignCopy('joan', map.rangeOf('robert')), false);
  assert.equal(map.rangesOfNode('n1').length, 5); // ranges 0, 2, 3, 5, 6
});
