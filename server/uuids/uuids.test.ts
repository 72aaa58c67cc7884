// The uuid algorithms as CouchDB's uuids_test.exs checks them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newUuidWith, uuidSettings } from './uuids.js';

const many = (algorithm: string, n: number, suffix?: string) => {
  const settings = uuidSettings(algorithm, suffix);
  return Array.from({ length: n }, () => newUuidWith(settings));
};

test('sequential (the default, and for unknown names): 32 hex digits, each larger than the last', () => {
  for (const algorithm of ['sequential', 'bogus']) {
    const ids = many(algorithm, 1000);
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
    let rollovers = 0;
    for (let i = 1; i < ids.length; i++) if (!((ids[i - 1] as string) < (ids[i] as string))) rollovers++;
    // A new random prefix comes at most once in 1000 (the counter starts below 0xfff).
    assert.ok(rollovers <= 1);
  }
});

test('random: 32 hex digits, no duplicates', () => {
  const ids = many('random', 1000);
  for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(new Set(ids).size, ids.length);
});

test('utc_random: 14 hex digits of microseconds, then 18 random; ordered by the time part', () => {
  const before = Date.now() * 1000;
  const ids = many('utc_random', 1000);
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
  const first = parseInt((ids[0] as string).slice(0, 14), 16);
  assert.ok(Math.abs(first - before) < 5_000_000, 'the prefix is the time in microseconds');
  assert.ok((ids[1] as string).slice(0, 14) < (ids[999] as string).slice(0, 14));
});

test('utc_id: the time prefix then the configured suffix, strictly increasing', () => {
  const ids = many('utc_id', 10, 'frog');
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as string;
    assert.equal(id.length, 14 + 'frog'.length);
    assert.equal(id.slice(14), 'frog');
    if (i > 0) assert.ok(id > (ids[i - 1] as string));
  }
});
