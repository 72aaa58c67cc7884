#!/usr/bin/env node
// The `chaise` command. `serve` runs one node; `lounge` and `cluster` belong to lounge/ and are
// loaded on demand, so the server part does not depend on the lounge (dependencies point one way:
// this file is only the composition root that names them).

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startNode, type NodeOptions, type RunningNode } from './node.js';

const USAGE = `usage:
  chaise serve [--port 5984] [--host 127.0.0.1] [--dir ./data] [--admin name:password]
               [--cors ORIGIN[,ORIGIN]] [--config chaise.json] [--in-memory] [--name chaise@127.0.0.1]
  chaise lounge --config lounge.json [--port 6984]
  chaise lounge add-node --url URL [--id ID] | remove-node ID | rebalance | split RANGE | moves  [--lounge URL] [--user name:password]
  chaise cluster [--nodes 3] [--q 8] [--n 2] [--port 6984] [--dir ./cluster] [--admin name:password]

Environment: CHAISE_PORT, CHAISE_DIR, CHAISE_ADMIN and CHAISE_NAME stand for --port, --dir, --admin and --name.`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'lounge':
    case 'cluster': {
      // A runtime path, not a static import: the lounge is an optional part of the install.
      const modulePath = '../lounge/cli.js';
      const mod = (await import(modulePath)) as { main(command: string, args: string[]): Promise<void> };
      return mod.main(command, rest);
    }
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      console.log(USAGE);
      return;
    default:
      console.error(`chaise: unknown command '${command}'\n${USAGE}`);
      process.exit(2);
  }
}

interface ConfigFile {
  port?: number;
  /** The node's name in `/_node/{name}` and `_membership` (CouchDB's `-name` in vm.args). */
  name?: string;
  host?: string;
  dir?: string;
  admins?: Record<string, string>;
  cors?: { origins?: string[]; credentials?: boolean; headers?: string[]; methods?: string[]; max_age?: number };
  limits?: NodeOptions['limits'];
  auth?: { public_signup?: boolean; iterations?: number; timeout?: number; peruser?: { enable?: boolean; delete_dbs?: boolean } };
}

interface ServeFlags {
  port?: string | undefined;
  host?: string | undefined;
  dir?: string | undefined;
  admin?: string[] | undefined;
  cors?: string | undefined;
  config?: string | undefined;
  'in-memory'?: boolean | undefined;
  name?: string | undefined;
}

/** The node's options from the flags, the environment and the `--config` file (read each call). */
function serveOptions(values: ServeFlags): NodeOptions {
  let file: ConfigFile = {};
  if (values.config) {
    try {
      file = JSON.parse(readFileSync(values.config, 'utf8')) as ConfigFile;
    } catch (e) {
      throw new Error(`cannot read config file ${values.config}: ${(e as Error).message}`);
    }
  }
  const portText = values.port ?? process.env.CHAISE_PORT;
  const port = portText !== undefined ? Number(portText) : file.port ?? 5984;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port '${portText}'`);
  const admins: { name: string; password: string }[] = [];
  for (const spec of values.admin ?? (process.env.CHAISE_ADMIN ? [process.env.CHAISE_ADMIN] : [])) {
    const i = spec.indexOf(':');
    if (i <= 0) throw new Error(`--admin must be name:password`);
    admins.push({ name: spec.slice(0, i), password: spec.slice(i + 1) });
  }
  for (const [name, password] of Object.entries(file.admins ?? {})) admins.push({ name, password });
  const nodeName = values.name ?? process.env.CHAISE_NAME ?? file.name;
  if (nodeName !== undefined && !/^[^@\s]+@[^@\s]+$/.test(nodeName)) throw new Error(`--name must be name@host, not '${nodeName}'`);
  const corsOrigins = values.cors !== undefined ? values.cors.split(',').map((o) => o.trim()).filter(Boolean) : file.cors?.origins;
  return {
    port,
    host: values.host ?? file.host ?? '127.0.0.1',
    dir: values.dir ?? process.env.CHAISE_DIR ?? file.dir ?? './data',
    inMemory: values['in-memory'] === true,
    admins,
    ...(nodeName !== undefined ? { nodeName } : {}),
    ...(file.limits ? { limits: file.limits } : {}),
    ...(file.auth
      ? {
          auth: {
            ...(file.auth.public_signup !== undefined ? { publicSignup: file.auth.public_signup } : {}),
            ...(file.auth.iterations !== undefined ? { iterations: file.auth.iterations } : {}),
            ...(file.auth.timeout !== undefined ? { sessionTimeoutSeconds: file.auth.timeout } : {}),
            ...(file.auth.peruser ? { peruser: { enable: file.auth.peruser.enable ?? false, deleteDbs: file.auth.peruser.delete_dbs ?? false } } : {}),
          },
        }
      : {}),
    ...(corsOrigins && corsOrigins.length > 0
      ? {
          cors: {
            origins: corsOrigins,
            credentials: file.cors?.credentials ?? true,
            headers: file.cors?.headers ?? ['accept', 'authorization', 'content-type', 'origin', 'referer', 'x-csrf-token'],
            methods: file.cors?.methods ?? ['GET', 'PUT', 'POST', 'HEAD', 'DELETE', 'COPY', 'OPTIONS'],
            maxAgeSeconds: file.cors?.max_age ?? 600,
          },
        }
      : {}),
  };
}

function listeningLine(node: RunningNode, opts: NodeOptions): string {
  return `listening on ${node.url} (${opts.inMemory ? 'in memory' : `data in ${opts.dir}`}${(opts.admins ?? []).length === 0 ? ', admin party' : ''})`;
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      dir: { type: 'string' },
      admin: { type: 'string', multiple: true },
      cors: { type: 'string' },
      config: { type: 'string' },
      'in-memory': { type: 'boolean' },
      name: { type: 'string' },
    },
    strict: true,
  });
  let opts: NodeOptions;
  try {
    opts = serveOptions(values);
  } catch (e) {
    fail((e as Error).message);
  }
  let node: RunningNode;
  try {
    // `POST /_node/_local/_restart` restarts the node in this process, reading the config file
    // again, as CouchDB's init:restart() does; a restart that cannot listen again exits with 1 so
    // a supervisor (systemd, Docker's restart policy) starts the node afresh.
    node = await startNode(opts, {}, {
      reloadOptions: () => {
        try {
          opts = serveOptions(values);
        } catch (e) {
          console.error(`chaise: ${(e as Error).message}; restarting with the previous options`);
        }
        return opts;
      },
      onRestarted: (n) => console.log(`chaise: restarted, ${listeningLine(n, opts)}`),
      onRestartFailed: (e) => fail(`restart failed: ${e instanceof Error ? e.message : String(e)}`),
    });
  } catch (e) {
    fail((e as Error).message);
  }
  console.log(`chaise: ${listeningLine(node, opts)}`);
  const stop = () => {
    void node.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

function fail(message: string): never {
  console.error(`chaise: ${message}`);
  process.exit(1);
}

process.on('unhandledRejection', (e) => {
  console.error('chaise: unhandled rejection', e);
});

main(process.argv.slice(2)).catch((e: unknown) => fail(e instanceof Error ? e.message : String(e)));
