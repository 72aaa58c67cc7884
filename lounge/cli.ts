// `chaise lounge` and `chaise cluster`: the node's CLI forwards both commands here.
//
//   chaise lounge --config lounge.json [--port 6984] [--host 127.0.0.1]
//   chaise lounge add-node|remove-node|rebalance|split|moves … --lounge URL --user name:password (admin-cli.ts)
//   chaise cluster [--nodes 3] [--q 8] [--n 2] [--port 6984] [--dir ./cluster] [--admin name:password] [--in-memory]
//
// A bad config, an unknown node in a range, or bad flags end the process with exit code 1
// and one line naming the problem; Ctrl-C or SIGTERM stops the lounge (and, for `cluster`,
// every node it started) before the process exits.

import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { loadConfig } from './config/load-config.js';
import { ConfigError } from './config/validate-config.js';
import { startLounge } from './lounge.js';
import { startCluster } from './cluster/cluster.js';
import { ADMIN_COMMANDS, adminMain } from './admin-cli.js';

function fail(message: string): never {
  console.error(`chaise: ${message}`);
  process.exit(1);
}

function intFlag(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}, not '${text}'`);
  return n;
}

function onStop(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    void stop().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error('chaise: error while stopping', e);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

async function lounge(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } }, strict: true });
  if (!values.config) fail('lounge needs --config lounge.json');
  let config;
  try {
    config = loadConfig(values.config);
  } catch (e) {
    if (e instanceof ConfigError) fail(`bad lounge config: ${e.message}`);
    throw e;
  }
  const port = intFlag('port', values.port ?? process.env.CHAISE_PORT, config.port, 0);
  const host = values.host ?? config.host;
  if (Object.keys(config.admins).length === 0 && !['127.0.0.1', 'localhost', '::1'].includes(host)) {
    fail(`refusing to listen on ${host} without an admin: add "admins" to ${values.config}`);
  }
  const running = await startLounge(config, { port, host, configPath: resolve(values.config) });
  const down = await running.lounge.unreachableNodes();
  console.log(`chaise: lounge listening on ${running.url} (${Object.keys(config.nodes).length} nodes, q=${config.q}, n=${config.n}, map epoch ${config.mapEpoch})`);
  // A node that is down is not a configuration error (the lounge is built to run without it),
  // but the operator should know at once.
  for (const d of down) console.error(`chaise: warning: node ${d} (${config.nodes[d]?.url}) is not answering GET /_up`);
  onStop(() => running.close());
}

async function cluster(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: 'string' },
      q: { type: 'string' },
      n: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      dir: { type: 'string' },
      admin: { type: 'string' },
      'in-memory': { type: 'boolean' },
    },
    strict: true,
  });
  const nodes = intFlag('nodes', values.nodes, 3, 1);
  const q = intFlag('q', values.q, 8, 1);
  const n = intFlag('n', values.n, Math.min(2, nodes), 1);
  if (n > nodes) fail(`--n (${n}) cannot exceed --nodes (${nodes})`);
  const port = intFlag('port', values.port ?? process.env.CHAISE_PORT, 6984, 0);
  const adminText = values.admin ?? process.env.CHAISE_ADMIN;
  let admin: { name: string; password: string } | undefined;
  if (adminText !== undefined) {
    const i = adminText.indexOf(':');
    if (i <= 0) fail('--admin must be name:password');
    admin = { name: adminText.slice(0, i), password: adminText.slice(i + 1) };
  }
  const host = values.host ?? '127.0.0.1';
  if (!admin && !['127.0.0.1', 'localhost', '::1'].includes(host)) fail(`refusing to listen on ${host} without --admin`);
  const dir = resolve(values.dir ?? process.env.CHAISE_DIR ?? './cluster');
  const running = await startCluster({
    nodes,
    q,
    n,
    port,
    host,
    dir,
    ...(admin ? { admin } : {}),
    ...(values['in-memory'] ? { inMemory: true } : {}),
    onOutput: (id, text) => {
      for (const line of text.split('\n')) if (line.trim() !== '' && !line.includes('listening on')) console.error(`[${id}] ${line}`);
    },
  });
  console.log(`chaise: cluster of ${nodes} nodes (q=${q}, n=${n}) in ${dir}`);
  for (const node of running.nodes) console.log(`chaise:   node ${node.id} on ${node.url} (pid ${node.pid})`);
  console.log(`chaise: lounge listening on ${running.lounge.url} (map in ${running.configPath})`);
  onStop(() => running.close());
}

/** Entry point used by the node's CLI (server/cli.ts). */
export async function main(command: 'lounge' | 'cluster', args: string[]): Promise<void> {
  try {
    if (command === 'lounge' && ADMIN_COMMANDS.has(args[0] ?? '')) process.exit(await adminMain(args[0] as string, args.slice(1)));
    if (command === 'lounge') await lounge(args);
    else await cluster(args);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    fail(e instanceof Error ? e.message : String(e));
  }
}
