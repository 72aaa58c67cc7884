import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changeHead, leadingId } from './row-fields.js';

test('ids are read from the front of _all_docs rows, escapes included', () => {
  assert.equal(leadingId('{"id":"a","key":"a","value":{"rev":"1-x"}}'), 'a');
  assert.equal(leadingId('{"id":"q\\"uote\\u00e9","key":"x"}'), 'q"uote\u00e9');
  assert.equal(leadingId('{"key":"a","error":"not_found"}'), undefined, 'other shapes fall back');
});

test('seq and id are read from the front of _changes rows', () => {
  const row = '{"seq":12,"id":"doc\\/1","changes":[{"rev":"1-a"}]}';
  const h = changeHead(row);
  assert.deepEqual(h, { seq: 12, id: 'doc/1', rest: ',"id":"doc\\/1","changes":[{"rev":"1-a"}]}' });
  assert.deepEqual(JSON.parse('{"seq":"tok"' + h?.rest), { seq: 'tok', id: 'doc/1', changes: [{ rev: '1-a' }] });
  assert.deepEqual(changeHead('{"seq":"3-g1A\\"x","id":"b","changes":[]}')?.seq, '3-g1A"x');
  assert.equal(changeHead('{"id":"b","seq":3}'), undefined);
  assert.equal(changeHead('{"seq":[1,"x"],"id":"b"}'), undefined, 'CouchDB 1.x array seqs fall back');
});
