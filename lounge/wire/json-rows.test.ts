import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonRowsParser } from './json-rows.js';

function parseAll(text: string, split: number[], keys = ['rows']): { rows: string[]; meta: Record<string, unknown> } {
  const p = new JsonRowsParser(keys);
  const rows: string[] = [];
  let at = 0;
  for (const s of [...split, text.length]) {
    rows.push(...p.push(text.slice(at, s)));
    at = s;
  }
  p.end();
  return { rows, meta: p.meta };
}

const VIEW = '{"total_rows":3,"offset":1,"rows":[\r\n{"id":"a","key":["x,]}",{"y":"\\"}"}],"value":1},\r\n{"id":"b","key":null,"value":[1,2]}\r\n],"update_seq":"3-abc"}\n';

test('rows come out verbatim and members land in meta, whatever the chunking', () => {
  const want = {
    rows: ['{"id":"a","key":["x,]}",{"y":"\\"}"}],"value":1}', '{"id":"b","key":null,"value":[1,2]}'],
    meta: { total_rows: 3, offset: 1, update_seq: '3-abc' },
  };
  assert.deepEqual(parseAll(VIEW, []), want);
  for (let i = 1; i < VIEW.length; i++) assert.deepEqual(parseAll(VIEW, [i]), want, `split at ${i}`);
  for (let i = 1; i < VIEW.length - 5; i += 3) assert.deepEqual(parseAll(VIEW, [i, i + 1, i + 5]), want);
});

test('changes answers: results array, members after it, scalar rows', () => {
  const text = '{"results":[\n{"seq":1,"id":"a","changes":[{"rev":"1-x"}]}\n],\n"last_seq":1,"pending":0}';
  assert.deepEqual(parseAll(text, [5, 30], ['results']), {
    rows: ['{"seq":1,"id":"a","changes":[{"rev":"1-x"}]}'],
    meta: { last_seq: 1, pending: 0 },
  });
  assert.deepEqual(parseAll('{"rows":[1, 2 ,true],"x":[1]}', [11]), { rows: ['1', '2', 'true'], meta: { x: [1] } });
  assert.deepEqual(parseAll('{"rows":[]}', []), { rows: [], meta: {} });
});

test('truncated or malformed answers are errors', () => {
  const p = new JsonRowsParser(['rows']);
  p.push('{"rows":[{"a":1}');
  assert.throws(() => p.end(), /ended before/);
  assert.throws(() => new JsonRowsParser(['rows']).push('[1]'), /expected \{/);
  assert.throws(() => new JsonRowsParser(['rows']).push('{"rows":[1 2]}'), /expected , or \]/);
});
