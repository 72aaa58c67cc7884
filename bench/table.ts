// Turns the results of one bench run into the printed table (pure: strings in, string out).
//
// Columns: workload | Chaise | peer | ratio | target. The ratio always reads ">1 = Chaise
// better": Chaise/peer for throughput, peer/Chaise where smaller is better (memory). A failed cell
// reads `FAILED (reason)` and gets no ratio; the full reasons are listed under the table, so a
// broken server can never show a number. The environment heads the table.

import type { Measurement } from './workloads/workload.js';

/** A 1-minute load average above this before the run means other processes were busy. */
const busyLoadAverage = 1.0;

/** Reasons are cut to this many characters inside a cell; the full text follows the table. */
const cellReasonMax = 48;

export interface TableRow {
  title: string;
  unit: string;
  better: 'higher' | 'lower';
  target: number | undefined;
  /** A heading the row is printed under (consecutive rows with one section share it). */
  section?: string;
  /** undefined = not run on that side (e.g. a Chaise-only workload). */
  chaise: Measurement | undefined;
  peer: Measurement | undefined;
}

export interface Environment {
  date: string;
  commit: string;
  node: string;
  cpus: string;
  memory: string;
  /** 1-minute load averages when the run started and ended: others' work on a shared machine shows here. */
  load: string;
  /** The 1-minute load average just before the run started. */
  loadAtStart: number;
  docs: number;
  rssDocs: number;
  concurrency: number;
  repeat: number;
  chaise: string;
  peer: string;
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toPrecision(3);
}

/** Chaise's advantage as a factor (>1 = Chaise better), or undefined if either side has no number. */
export function ratio(row: Pick<TableRow, 'better' | 'chaise' | 'peer'>): number | undefined {
  if (row.chaise?.kind !== 'measured' || row.peer?.kind !== 'measured') return undefined;
  const [num, den] = row.better === 'higher' ? [row.chaise.value, row.peer.value] : [row.peer.value, row.chaise.value];
  return den > 0 ? num / den : undefined;
}

/** Whether Chaise meets the target: undefined when there is no target or no Chaise number. */
export function meetsTarget(row: Pick<TableRow, 'better' | 'target' | 'chaise'>): boolean | undefined {
  if (row.target === undefined || row.chaise?.kind !== 'measured') return undefined;
  return row.better === 'higher' ? row.chaise.value >= row.target : row.chaise.value <= row.target;
}

export function formatTable(rows: readonly TableRow[], env: Environment): string {
  const notes: string[] = [];
  // The same text (e.g. a server that did not start) gets one note, cited by every cell.
  const cite = (text: string): number => {
    const at = notes.indexOf(text);
    return at >= 0 ? at + 1 : notes.push(text);
  };
  const cell = (m: Measurement | undefined, unit: string): string => {
    if (m === undefined) return '—';
    switch (m.kind) {
      case 'measured':
        return `${formatNumber(m.value)} ${unit}` + (m.note === undefined ? '' : ` [${cite(m.note)}]`);
      case 'not-applicable':
        return `n/a (${m.reason})`;
      case 'failed': {
        const note = cite(m.reason);
        const short = m.reason.length > cellReasonMax ? m.reason.slice(0, cellReasonMax - 1) + '…' : m.reason;
        return `FAILED [${note}] (${short})`;
      }
    }
  };
  const header = ['workload', 'Chaise', 'peer', 'ratio', 'target (DESIGN.md)'];
  const body = rows.map((row): string[] => {
    const r = ratio(row);
    const met = meetsTarget(row);
    const target =
      row.target === undefined
        ? '—'
        : `${row.better === 'higher' ? '≥' : '≤'} ${formatNumber(row.target)}${met === undefined ? '' : met ? ' met' : ' MISSED'}`;
    return [row.title, cell(row.chaise, row.unit), cell(row.peer, row.unit), r === undefined ? '—' : `${r.toFixed(2)}×`, target];
  });
  // A section's heading is a row of its own, before its first row.
  const withSections: string[][] = [];
  body.forEach((cells, i) => {
    const section = rows[i]!.section;
    if (section !== undefined && section !== rows[i - 1]?.section) withSections.push([`${section}:`, '', '', '', '']);
    withSections.push(cells);
  });
  const widths = header.map((h, c) => Math.max(h.length, ...withSections.map((line) => line[c]!.length)));
  const line = (cells: readonly string[]): string =>
    '| ' + cells.map((text, c) => (c === 0 ? text.padEnd(widths[c]!) : text.padStart(widths[c]!))).join(' | ') + ' |';
  const rule = '|' + widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  const out = [
    `Chaise bench, ${env.date}, commit ${env.commit}`,
    `environment: node ${env.node}, ${env.cpus}, ${env.memory}, load average ${env.load}`,
    `docs: ${env.docs.toLocaleString('en-US')} of ~300 B (rss: ${env.rssDocs.toLocaleString('en-US')}), ` +
      `concurrency ${env.concurrency}, median of ${env.repeat} where repeated`,
    `Chaise: ${env.chaise}`,
    `peer:   ${env.peer}`,
    '',
    line(header),
    rule,
    ...withSections.map(line),
    '',
    'ratio: >1 means Chaise is better (Chaise/peer; peer/Chaise for memory).',
  ];
  if (env.loadAtStart > busyLoadAverage) {
    out.push(
      `warning: load average ${env.loadAtStart.toFixed(2)} before the bench started: other work shares this machine's ` +
        'CPUs, so numbers are low and noisy (and ratios too, since the two sides ran one after the other).',
    );
  }
  notes.forEach((n, i) => out.push(`[${i + 1}] ${n}`));
  return out.join('\n');
}
