// `npm run bench -- [options]`: measures Chaise and a peer server with the same workloads on
// this machine, in this run, and prints one table of both with their ratio and DESIGN.md's target.
//
// The two sides run one after the other, never at once: on a 2-core machine a second server's
// background work (LevelDB compaction, say) would otherwise be measured as the first one's
// slowness. Progress goes to stderr; the table alone goes to stdout.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { parseCli, usage, type CliOptions } from './options.js';
import { chaiseSpec, pouchdbServerSpec, repoRoot, urlSpec, type ServerSpec } from './servers.js';
import { runSide } from './side-runner.js';
import { formatTable, ratio, type Environment, type TableRow } from './table.js';
import { workloads } from './workloads/index.js';

async function main(argv: readonly string[]): Promise<number> {
  let cli: CliOptions;
  try {
    cli = parseCli(argv, workloads.map((w) => w.name));
    if (cli.peerUrl !== undefined && cli.peerInMemory === true) throw new Error('--peer-in-memory applies only to the pouchdb-server the bench starts, not to --peer URL');
    if (cli.chaiseUrl !== undefined && cli.chaiseInMemory) throw new Error('--chaise-in-memory applies only to the Chaise the bench starts, not to --chaise URL');
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${usage}\n`);
    return 2;
  }
  if (cli.help) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  const chosen = (cli.only === undefined ? workloads : workloads.filter((w) => cli.only!.includes(w.name))).filter((w) => w.enabled?.(cli) ?? true);
  const log = (m: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

  const chaise: ServerSpec = cli.chaiseUrl !== undefined ? urlSpec('chaise', cli.chaiseUrl) : chaiseSpec({ inMemory: cli.chaiseInMemory });
  const peer: ServerSpec = cli.peerUrl !== undefined ? urlSpec('peer', cli.peerUrl) : pouchdbServerSpec({ inMemory: cli.peerInMemory });

  const loadAtStart = os.loadavg()[0] ?? 0;
  const chaiseSide = await runSide(chaise, chosen, cli, log);
  const peerSide = await runSide(peer, chosen, cli, log);

  const rows: TableRow[] = chosen.map((w) => ({
    title: typeof w.title === 'string' ? w.title : w.title(cli),
    ...(w.section === undefined ? {} : { section: w.section }),
    unit: w.unit,
    better: w.better,
    target: w.target,
    chaise: chaiseSide.results.get(w.name),
    peer: peerSide.results.get(w.name),
  }));
  const cpus = os.cpus();
  const env: Environment = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    commit: commitDescription(),
    node: process.version,
    cpus: `${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown'})`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB RAM`,
    loadAtStart,
    load: `${loadAtStart.toFixed(2)} at start, ${(os.loadavg()[0] ?? 0).toFixed(2)} at end`,
    docs: cli.docs,
    rssDocs: cli.rssDocs,
    concurrency: cli.concurrency,
    repeat: cli.repeat,
    chaise: chaiseSide.label + (chaise.started ? ', started by the bench' : ''),
    peer: peerSide.label + (peer.started ? ', started by the bench' : ''),
  };
  process.stdout.write('\n' + formatTable(rows, env) + '\n');

  if (cli.jsonPath !== undefined) {
    const json = {
      environment: env,
      results: rows.map((r) => ({ ...r, ratio: ratio(r) ?? null })),
    };
    fs.writeFileSync(cli.jsonPath, JSON.stringify(json, null, 2) + '\n');
  }
  // A FAILED cell is a finding to read in the table, not a crash of the bench.
  return 0;
}

/** The commit measured (read-only git queries), so a table can be tied to the code it ran. */
function commitDescription(): string {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: repoRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const sha = git('rev-parse', '--short', 'HEAD');
    return git('--no-optional-locks', 'status', '--porcelain') === '' ? sha : `${sha} + uncommitted changes`;
  } catch {
    return 'unknown (no git)';
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
