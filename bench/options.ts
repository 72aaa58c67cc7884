// The bench's command line, parsed into plain options with no I/O (so it is unit-tested).
//
// `npm run bench -- [--docs N] [--rss-docs N] [--only a,b] [--peer URL] [--chaise URL] …`.
// Unknown flags and bad numbers are errors, not silently ignored: a typo must not turn a
// 100k-doc run into a default one that looks comparable.

import { parseArgs } from 'node:util';
import type { BenchOptions } from './workloads/workload.js';

export interface CliOptions extends BenchOptions {
  /** Workload names to run, in registry order; undefined = all. */
  only: string[] | undefined;
  /** Use this already-running server as "Chaise" instead of starting dist/server/cli.js. */
  chaiseUrl: string | undefined;
  chaiseInMemory: boolean;
  /** Measure this CouchDB-API URL as the peer instead of starting pouchdb-server. */
  peerUrl: string | undefined;
  /** pouchdb-server storage: 'auto' tries on-disk leveldb first. */
  peerInMemory: boolean | 'auto';
  /** Also write the results as JSON to this file. */
  jsonPath: string | undefined;
  help: boolean;
}

export const defaults: BenchOptions = {
  docs: 100_000,
  rssDocs: 1_000_000,
  concurrency: 32,
  repeat: 3,
  seed: 42,
  moveDocs: 100_000,
};

export const usage = `usage: npm run bench -- [options]

  --docs N            docs in the data set and the _bulk_docs insert (default ${defaults.docs})
  --rss-docs N        docs loaded before reading resident memory (default ${defaults.rssDocs})
  --only a,b          run only these workloads (names below)
  --peer URL          measure this CouchDB URL as the peer (credentials in the URL)
                      instead of starting pouchdb-server
  --peer-in-memory    start pouchdb-server with --in-memory (default: on disk if it works)
  --chaise URL        measure this running server as Chaise instead of starting one
  --chaise-in-memory  start Chaise with --in-memory (default: LMDB on disk)
  --concurrency N     concurrent requests for PUT/GET (default ${defaults.concurrency})
  --repeat N          repeats of each repeated measurement; the median is printed (default ${defaults.repeat})
  --seed N            seed for doc contents and random ids (default ${defaults.seed})
  --move-docs N       docs in the range the elastic lounge section moves (default ${defaults.moveDocs});
                      0 leaves that section out (it takes about a minute at the default)
  --json FILE         also write the results as JSON
  --help`;

export function parseCli(argv: readonly string[], workloadNames: readonly string[]): CliOptions {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      docs: { type: 'string' },
      'rss-docs': { type: 'string' },
      only: { type: 'string' },
      peer: { type: 'string' },
      'peer-in-memory': { type: 'boolean' },
      chaise: { type: 'string' },
      'chaise-in-memory': { type: 'boolean' },
      concurrency: { type: 'string' },
      repeat: { type: 'string' },
      seed: { type: 'string' },
      'move-docs': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (positionals.length > 0) throw new Error(`unexpected argument: ${positionals[0]}`);
  let only: string[] | undefined;
  if (values.only !== undefined) {
    only = values.only.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const unknown = only.filter((n) => !workloadNames.includes(n));
    if (unknown.length > 0) throw new Error(`unknown workload ${unknown.join(', ')}; known: ${workloadNames.join(', ')}`);
    if (only.length === 0) throw new Error('--only names no workload');
  }
  return {
    docs: positiveInt('docs', values.docs, defaults.docs),
    rssDocs: positiveInt('rss-docs', values['rss-docs'], defaults.rssDocs),
    concurrency: positiveInt('concurrency', values.concurrency, defaults.concurrency),
    repeat: positiveInt('repeat', values.repeat, defaults.repeat),
    seed: positiveInt('seed', values.seed, defaults.seed),
    moveDocs: values['move-docs']?.trim() === '0' ? 0 : positiveInt('move-docs', values['move-docs'], defaults.moveDocs),
    only,
    chaiseUrl: httpUrl('chaise', values.chaise),
    chaiseInMemory: values['chaise-in-memory'] ?? false,
    peerUrl: httpUrl('peer', values.peer),
    peerInMemory: values['peer-in-memory'] === true ? true : 'auto',
    jsonPath: values.json,
    help: values.help ?? false,
  };
}

function positiveInt(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  // Accept 100000, 100_000 and 100k / 1m, the way people write doc counts.
  const m = /^(\d[\d_]*)([km]?)$/i.exec(raw.trim());
  const n = m === null ? NaN : Number(m[1]!.replace(/_/g, '')) * ({ '': 1, k: 1_000, m: 1_000_000 } as const)[m[2]!.toLowerCase() as '' | 'k' | 'm'];
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${flag} needs a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

function httpUrl(flag: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`--${flag} needs a URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:') throw new Error(`--${flag}: only http:// URLs are supported`);
  return raw;
}
