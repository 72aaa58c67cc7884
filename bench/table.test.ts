// The table's ratio must always read ">1 = Chaise better", and a failed cell must never show a
// number or a ratio.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatNumber, formatTable, meetsTarget, ratio, type Environment, type TableRow } from './table.js';

const env: Environment = {
  date: '2026-11-22T00:00:00Z',
  commit: 'abc1234',
  node: 'v20.0.0',
  cpus: '2 cores (test)',
  memory: '24 GiB RAM',
  load: '0.00 at start, 0.00 at end',
  loadAtStart: 0,
  docs: 100_000,
  rssDocs: 1_000_000,
  concurrency: 32,
  repeat: 3,
  chaise: 'Chaise 0.1.0',
  peer: 'pouchdb-server 4.2.0 (leveldb on disk)',
};

const throughput = { title: '_bulk_docs insert', unit: 'docs/s', better: 'higher', target: 60_000 } as const;
const memory = { title: 'resident memory', unit: 'MiB', better: 'lower', target: undefined } as const;

test('ratio is Chaise/peer for throughput and peer/Chaise for memory', () => {
  const t = ratio({ ...throughput, chaise: { kind: 'measured', value: 60_000 }, peer: { kind: 'measured', value: 7_500 } });
  assert.equal(t, 8);
  const m = ratio({ ...memory, chaise: { kind: 'measured', value: 100 }, peer: { kind: 'measured', value: 400 } });
  assert.equal(m, 4);
});

test('no ratio and no target verdict when a side failed', () => {
  const row: TableRow = { ...throughput, chaise: { kind: 'failed', reason: 'doc_count is 99 after inserting 100' }, peer: { kind: 'measured', value: 7_500 } };
  assert.equal(ratio(row), undefined);
  assert.equal(meetsTarget(row), undefined);
  const text = formatTable([row], env);
  const line = text.split('\n').find((l) => l.startsWith('| _bulk_docs'))!;
  assert.match(line, /FAILED \[1\] \(doc_count is 99 after inserting 100\)/);
  assert.match(line, /\| +— \|/); // the ratio cell
  assert.doesNotMatch(line, /met|MISSED/);
  assert.match(text, /^\[1\] doc_count is 99 after inserting 100$/m);
});

test('target verdicts', () => {
  assert.equal(meetsTarget({ ...throughput, chaise: { kind: 'measured', value: 60_000 } }), true);
  assert.equal(meetsTarget({ ...throughput, chaise: { kind: 'measured', value: 59_999 } }), false);
  assert.equal(meetsTarget({ ...memory, chaise: { kind: 'measured', value: 1 } }), undefined);
});

test('one shared reason gets one note', () => {
  const failed = { kind: 'failed', reason: 'server did not start: boom' } as const;
  const text = formatTable([{ ...throughput, chaise: failed, peer: undefined }, { ...memory, chaise: failed, peer: undefined }], env);
  assert.equal(text.match(/^\[\d\] /gm)?.length, 1);
  assert.equal(text.match(/FAILED \[1\]/g)?.length, 2);
});

test('rows print with the environment and the measured numbers', () => {
  const text = formatTable(
    [{ ...throughput, chaise: { kind: 'measured', value: 61_234.5 }, peer: { kind: 'measured', value: 7_512 } }],
    env,
  );
  assert.match(text, /node v20\.0\.0, 2 cores/);
  assert.match(text, /docs: 100,000 of ~300 B/);
  assert.match(text, /pouchdb-server 4\.2\.0 \(leveldb on disk\)/);
  assert.match(text, /\| _bulk_docs insert +\| +61,235 docs\/s \| +7,512 docs\/s \| +8\.15× \| +≥ 60,000 met \|/);
});

test('a busy machine is called out, an idle one is not', () => {
  const rows: TableRow[] = [{ ...throughput, chaise: { kind: 'measured', value: 1 }, peer: { kind: 'measured', value: 1 } }];
  assert.doesNotMatch(formatTable(rows, env), /warning/);
  assert.match(formatTable(rows, { ...env, loadAtStart: 3.2 }), /^warning: load average 3\.20 before the bench started/m);
});

test('number formatting', () => {
  assert.equal(formatNumber(150_000), '150,000');
  assert.equal(formatNumber(88.04), '88.0');
  assert.equal(formatNumber(1.234), '1.23');
});

test('a section heads its rows once, as a row of its own', () => {
  const move = { title: 'move one range', unit: 'docs/s', better: 'higher', target: undefined, section: 'elastic lounge' } as const;
  const text = formatTable(
    [
      { ...throughput, chaise: { kind: 'measured', value: 1 }, peer: undefined },
      { ...move, chaise: { kind: 'measured', value: 7_000 }, peer: undefined },
      { ...move, title: 'GET p50', chaise: { kind: 'measured', value: 2 }, peer: undefined },
    ],
    env,
  );
  const lines = text.split('\n').filter((l) => l.startsWith('| '));
  assert.equal(lines.filter((l) => l.startsWith('| elastic lounge:')).length, 1);
  const at = lines.findIndex((l) => l.startsWith('| elastic lounge:'));
  assert.match(lines[at - 1]!, /^\| _bulk_docs insert/);
  assert.match(lines[at + 1]!, /^\| move one range/);
  assert.match(lines[at]!, /^\| elastic lounge: +\| +\| +\| +\| +\|$/);
});
