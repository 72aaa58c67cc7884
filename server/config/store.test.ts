// The config core's rules: layering (base, persisted overlay, transient changes), what PUT and
// DELETE return, CouchDB's validation, reload, transforms and subscribers.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigRejected, ConfigStore, INVALID_KEY, INVALID_SECTION, INVALID_VALUE, type ConfigChange, type Overlay, type Sections } from './store.js';

function store(base: Sections = { couchdb: { uuid: "u" } }, file: Overlay = {}) {
  const disk = { overlay: file, writes: 0 };
  const s = new ConfigStore({
    base,
    load: () => JSON.parse(JSON.stringify(disk.overlay)) as Overlay,
    save: (o) => {
      disk.overlay = JSON.parse(JSON.stringify(o)) as Overlay;
      disk.writes++;
    },
  });
  return { s, disk };
}

test('set returns the old value, or "" when there was none; delete returns the old value', () => {
  const { s } = store();
  assert.equal(s.set('a', 'k', 'v1'), '');
  assert.equal(s.set('a', 'k', 'v2'), 'v1');
  assert.equal(s.get('a', 'k'), 'v2');
  assert.equal(s.delete('a', 'k'), 'v2');
  assert.equal(s.delete('a', 'k'), undefined);
  assert.deepEqual(s.section('a'), {});
});

test('persisted changes are written; transient ones are not, and a reload drops them', () => {
  const { s, disk } = store();
  s.set('a', 'kept', 'x');
  s.set('a', 'transient', 'y', false);
  assert.deepEqual(disk.overlay, { a: { kept: 'x' } });
  assert.equal(s.get('a', 'transient'), 'y');
  s.reload();
  assert.equal(s.get('a', 'transient'), undefined);
  assert.equal(s.get('a', 'kept'), 'x');
});

test('a persisted delete of a base value leaves a tombstone, so a restart does not bring it back', () => {
  const { s, disk } = store({ couchdb: { uuid: 'u', single_node: 'true' } });
  s.delete('couchdb', 'single_node');
  assert.deepEqual(disk.overlay, { couchdb: { single_node: null } });
  const again = store({ couchdb: { uuid: 'u', single_node: 'true' } }, disk.overlay).s;
  assert.equal(again.get('couchdb', 'single_node'), undefined);
  assert.equal(again.get('couchdb', 'uuid'), 'u');
  // Deleting a key only the overlay had needs no tombstone.
  s.set('x', 'y', 'z');
  s.delete('x', 'y');
  assert.deepEqual(disk.overlay, { couchdb: { single_node: null } });
});

test('the overlay wins over the base; setBase does not override a persisted value', () => {
  const { s } = store({ chttpd: { port: '5984' } }, { chttpd: { port: '6000' } });
  assert.equal(s.get('chttpd', 'port'), '6000');
  s.setBase('chttpd', 'port', '7000');
  assert.equal(s.get('chttpd', 'port'), '6000');
  s.setBase('chttpd', 'bind_address', '0.0.0.0');
  assert.equal(s.get('chttpd', 'bind_address'), '0.0.0.0');
});

test("CouchDB's validation: no line breaks or control characters, no brackets in sections and keys", () => {
  const { s, disk } = store();
  const reason = (f: () => void) => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof ConfigRejected);
      return e.reason;
    }
    return 'accepted';
  };
  assert.equal(reason(() => s.set('sect[ion', 'k', 'v')), INVALID_SECTION);
  assert.equal(reason(() => s.set('section\n', 'k', 'v')), INVALID_SECTION);
  assert.equal(reason(() => s.set('s', 'key]', 'v')), INVALID_KEY);
  assert.equal(reason(() => s.set('s', 'key\r', 'v')), INVALID_KEY);
  assert.equal(reason(() => s.set('s', 'k', 'value\n[os_daemons]\nx=y')), INVALID_VALUE);
  assert.equal(reason(() => s.set('s', 'k', 'tabs\tand [brackets] are fine')), 'accepted');
  assert.equal(reason(() => s.set('s', 'k', '')), 'accepted');
  assert.equal(disk.writes, 2);
});

test('a failed write changes nothing', () => {
  const s = new ConfigStore({
    base: {},
    load: () => ({}),
    save: () => {
      throw new Error('disk full');
    },
  });
  assert.throws(() => s.set('a', 'k', 'v'), /disk full/);
  assert.equal(s.get('a', 'k'), undefined);
  assert.equal(s.set('a', 'k', 'v', false), '');
});

test('the transform rewrites a value before it is stored and persisted', () => {
  const disk: Overlay[] = [];
  const s = new ConfigStore({ base: {}, load: () => ({}), save: (o) => disk.push(o), transform: (sec, _k, v) => (sec === 'admins' ? `hashed(${v})` : v) });
  s.set('admins', 'bob', 'secret');
  assert.equal(s.get('admins', 'bob'), 'hashed(secret)');
  assert.doesNotMatch(JSON.stringify(disk), /"secret"/);
});

test('subscribers hear sets, deletes and what a reload changed', () => {
  const { s } = store({ a: { base: '1' } });
  const heard: ConfigChange[] = [];
  s.subscribe((c) => heard.push(c));
  s.set('a', 'k', 'v', false);
  s.set('a', 'base', '2', false);
  s.delete('a', 'k', false);
  s.set('a', 'gone', 'x', false);
  s.reload();
  assert.deepEqual(heard, [
    { section: 'a', key: 'k', value: 'v' },
    { section: 'a', key: 'base', value: '2' },
    { section: 'a', key: 'k', value: undefined },
    { section: 'a', key: 'gone', value: 'x' },
    { section: 'a', key: 'base', value: '1' },
    { section: 'a', key: 'gone', value: undefined },
  ]);
});

test('all() and section() list keys sorted', () => {
  const { s } = store({ b: { z: '1', a: '2' }, a: { k: 'v' } });
  assert.deepEqual(Object.keys(s.all()), ['a', 'b']);
  assert.deepEqual(Object.keys(s.section('b')), ['a', 'z']);
});
