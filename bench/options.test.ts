// The command line must reject what it does not understand: a typo must not silently fall back
// to defaults and print a table that looks comparable to a full run.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaults, parseCli } from './options.js';

const names = ['bulk_docs', 'put', 'get', 'changes', 'all_docs', 'rss'];

test('defaults match the assignment: 100k docs, 1M for rss, 32 concurrent', () => {
  const o = parseCli([], names);
  assert.equal(o.docs, 100_000);
  assert.equal(o.rssDocs, 1_000_000);
  assert.equal(o.concurrency, 32);
  assert.equal(o.only, undefined);
  assert.equal(o.peerUrl, undefined);
  assert.equal(o.peerInMemory, 'auto');
  assert.deepEqual({ docs: o.docs, rssDocs: o.rssDocs, concurrency: o.concurrency, repeat: o.repeat, seed: o.seed, moveDocs: o.moveDocs }, defaults);
});

test('counts accept 2000, 2_000, 2k and 1m', () => {
  assert.equal(parseCli(['--docs', '2000'], names).docs, 2000);
  assert.equal(parseCli(['--docs', '2_000'], names).docs, 2000);
  assert.equal(parseCli(['--docs', '2k'], names).docs, 2000);
  assert.equal(parseCli(['--rss-docs', '1m'], names).rssDocs, 1_000_000);
});

test('--move-docs sizes the elastic lounge section; 0 leaves it out', () => {
  assert.equal(parseCli([], names).moveDocs, 100_000);
  assert.equal(parseCli(['--move-docs', '5k'], names).moveDocs, 5_000);
  assert.equal(parseCli(['--move-docs', '0'], names).moveDocs, 0);
  assert.throws(() => parseCli(['--move-docs', 'many'], names), /positive integer/);
});

test('bad counts, unknown flags and unknown workloads are errors', () => {
  assert.throws(() => parseCli(['--docs', '0'], names), /positive integer/);
  assert.throws(() => parseCli(['--docs', 'lots'], names), /positive integer/);
  assert.throws(() => parseCli(['--dosc', '10'], names));
  assert.throws(() => parseCli(['--only', 'get,gett'], names), /unknown workload gett/);
  assert.throws(() => parseCli(['--peer', 'https://example.test'], names), /only http/);
});

test('--only and --peer', () => {
  const o = parseCli(['--only', 'get, changes', '--peer', 'http://admin:pw@127.0.0.1:5984'], names);
  assert.deepEqual(o.only, ['get', 'changes']);
  assert.equal(o.peerUrl, 'http://admin:pw@127.0.0.1:5984');
});
