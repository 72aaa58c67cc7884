// `chaise lounge add-node|remove-node|rebalance|split|moves`: the elastic lounge's admin API
// (http/handlers/elastic.ts) from a terminal or a script, against a running lounge.
//
//   chaise lounge add-node --url URL [--id ID]   add a node (it holds nothing until a rebalance)
//   chaise lounge remove-node ID                 drain the node, then remove it
//   chaise lounge rebalance                      even out replicas per node
//   chaise lounge split RANGE                    split a range in two
//   chaise lounge moves                          list every move and split
// Each takes --lounge URL (default http://127.0.0.1:6984, or CHAISE_LOUNGE) and admin
// credentials, --user name:password (or CHAISE_LOUNGE_USER). The commands that start moves
// wait for them: a progress bar on a terminal, one plain line per change otherwise (logs,
// CI). Exit 0 when every move is done, 1 when one failed or the lounge refused the request.

import { parseArgs } from 'node:util';
import type { MoveRecord } from './moves/move-types.js';

/** How often progress is polled. */
const POLL_MS = 500;
/** Width of the progress bar in characters. */
const BAR_WIDTH = 30;

export const ADMIN_COMMANDS = new Set(['add-node', 'remove-node', 'rebalance', 'split', 'moves']);

/** What `GET /_lounge/moves` lists. */
type Move = MoveRecord;

export interface AdminIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Rewrites the current terminal line (TTY only); undefined means plain lines. */
  bar?: (text: string) => void;
}

function defaultIo(): AdminIo {
  const tty = process.stdout.isTTY === true;
  return {
    out: (l) => process.stdout.write(`${tty ? '\r\x1b[K' : ''}${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
    ...(tty ? { bar: (t: string) => process.stdout.write(`\r\x1b[K${t}`) } : {}),
  };
}

export async function adminMain(command: string, args: string[], io: AdminIo = defaultIo()): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { lounge: { type: 'string' }, user: { type: 'string' }, url: { type: 'string' }, id: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const base = (values.lounge ?? process.env.CHAISE_LOUNGE ?? 'http://127.0.0.1:6984').replace(/\/+$/, '');
  const user = values.user ?? process.env.CHAISE_LOUNGE_USER;
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/json' };
  if (user) headers.authorization = `Basic ${Buffer.from(user).toString('base64')}`;
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(base + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // keep text
    }
    return { status: res.status, body: parsed };
  };
  const refuse = (r: { status: number; body: any }): number => {
    io.err(`chaise: the lounge answered ${r.status}: ${r.body?.reason ?? JSON.stringify(r.body)}`);
    return 1;
  };

  let started: Move[];
  switch (command) {
    case 'add-node': {
      if (!values.url) {
        io.err('chaise: add-node needs --url URL');
        return 1;
      }
      const id = values.id ?? positionals[0] ?? `n${Date.now().toString(36)}`;
      const r = await call('PUT', `/_lounge/nodes/${encodeURIComponent(id)}`, { url: values.url });
      if (r.status !== 201) return refuse(r);
      io.out(`added node ${id} (${r.body.url}); map epoch ${r.body.mapEpoch}. Run \`chaise lounge rebalance\` to give it ranges.`);
      return 0;
    }
    case 'remove-node': {
      const id = positionals[0];
      if (!id) {
        io.err('chaise: remove-node needs the node id');
        return 1;
      }
      const r = await call('DELETE', `/_lounge/nodes/${encodeURIComponent(id)}`);
      if (r.status !== 202) return refuse(r);
      started = r.body.moves;
      io.out(`draining ${id}: ${started.length} move(s)`);
      break;
    }
    case 'rebalance': {
      const r = await call('POST', '/_lounge/rebalance');
      if (r.status !== 202) return refuse(r);
      started = r.body.moves;
      io.out(started.length === 0 ? 'already balanced: nothing to move' : `rebalancing: ${started.length} move(s)`);
      break;
    }
    case 'split': {
      const range = positionals[0];
      if (!range) {
        io.err('chaise: split needs a range, like 00000000-1fffffff');
        return 1;
      }
      const r = await call('POST', '/_lounge/split', { range });
      if (r.status !== 202) return refuse(r);
      started = r.body.moves;
      io.out(`splitting ${range}`);
      break;
    }
    case 'moves': {
      const r = await call('GET', '/_lounge/moves');
      if (r.status !== 200) return refuse(r);
      for (const m of r.body.moves as Move[]) io.out(describe(m));
      return 0;
    }
    default:
      io.err(`chaise: unknown lounge command '${command}'`);
      return 1;
  }
  return follow(started.map((m) => m.id), call, io);
}

function describe(m: Move): string {
  const what = m.kind === 'split' ? `split ${m.range}` : `move ${m.range} ${m.from} → ${m.to}`;
  const docs = m.docsTotal > 0 ? ` ${m.docsCopied}/${m.docsTotal} docs` : '';
  const err = m.state === 'failed' && m.errors.length > 0 ? `: ${m.errors[m.errors.length - 1]}` : '';
  return `${m.id} ${what}: ${m.state}${docs}${err}`;
}

/** Polls the moves until each is done or failed, reporting progress. */
async function follow(ids: string[], call: (m: string, p: string) => Promise<{ status: number; body: any }>, io: AdminIo): Promise<number> {
  if (ids.length === 0) return 0;
  const last = new Map<string, string>();
  for (;;) {
    const r = await call('GET', '/_lounge/moves');
    if (r.status !== 200) {
      io.err(`chaise: cannot read progress: ${r.status}`);
      return 1;
    }
    const mine = (r.body.moves as Move[]).filter((m) => ids.includes(m.id));
    for (const m of mine) {
      const line = describe(m);
      if (last.get(m.id) !== `${m.state}`) {
        last.set(m.id, m.state);
        io.out(line);
      }
    }
    const finished = mine.filter((m) => m.state === 'done' || m.state === 'failed');
    if (io.bar) {
      const running = mine.find((m) => m.state !== 'done' && m.state !== 'failed' && m.state !== 'pending');
      const frac = (finished.length + (running && running.docsTotal > 0 ? Math.min(1, running.docsCopied / running.docsTotal) : 0)) / ids.length;
      const fill = Math.round(frac * BAR_WIDTH);
      io.bar(`[${'#'.repeat(fill)}${'.'.repeat(BAR_WIDTH - fill)}] ${finished.length}/${ids.length} moves${running ? ` · ${running.id} ${running.state}` : ''}`);
    }
    if (finished.length === ids.length) {
      const failed = mine.filter((m) => m.state === 'failed');
      io.out(failed.length === 0 ? `all ${ids.length} move(s) done` : `${failed.length} of ${ids.length} move(s) failed`);
      return failed.length === 0 ? 0 : 1;
    }
    await new Promise((res) => setTimeout(res, POLL_MS));
  }
}
