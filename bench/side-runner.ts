// Runs the chosen workloads against one side (Chaise or the peer), one after another, and
// always leaves that side as it found it.
//
// It starts the server (or wraps the URL), gives each workload a WorkloadContext, turns anything a
// workload throws into a FAILED cell, restarts a started server for workloads that need a fresh
// process, and in the end deletes the databases it made (on a URL server) and stops every process
// it started (removing their temp dirs), whatever happened.

import { HttpClient, isSuccess, snippet } from './http-client.js';
import type { RunningServer, ServerSpec } from './servers.js';
import { loadDataset } from './workloads/dataset.js';
import type { BenchOptions, Measurement, Workload, WorkloadContext } from './workloads/workload.js';

export interface SideResult {
  label: string;
  results: Map<string, Measurement>;
}

/** Distinguishes this run's databases from any others on a shared server. */
const runId = `${Date.now().toString(36)}-${process.pid.toString(36)}`;

export async function runSide(
  spec: ServerSpec,
  chosen: readonly Workload[],
  options: BenchOptions,
  log: (m: string) => void,
): Promise<SideResult> {
  const results = new Map<string, Measurement>();
  const servers: RunningServer[] = [];
  const clients: HttpClient[] = [];
  const createdDbs: { client: HttpClient; db: string }[] = [];
  let dbCounter = 0;
  let label = '(did not start)';

  const start = async (): Promise<{ server: RunningServer; client: HttpClient }> => {
    const server = await spec.start();
    servers.push(server);
    const client = new HttpClient(server.url, options.concurrency);
    clients.push(client);
    return { server, client };
  };

  const contextFor = (server: RunningServer, client: HttpClient): WorkloadContext => {
    let datasetDb: Promise<string> | undefined;
    let sibling: Promise<RunningServer> | undefined;
    const createDb = async (tag: string): Promise<string> => {
      const db = `bench-${runId}-${spec.role}-${tag}-${++dbCounter}`;
      const res = await client.request('PUT', `/${encodeURIComponent(db)}`);
      if (!isSuccess(res.status)) throw new Error(`PUT /${db} answered ${res.status}: ${snippet(res.body)}`);
      createdDbs.push({ client, db });
      return db;
    };
    return {
      server,
      client,
      options,
      createDb,
      dataset() {
        datasetDb ??= (async () => {
          const db = await createDb('data');
          await loadDataset(client, db, options.docs, options.seed, (m) => log(`${spec.role}: ${m}`));
          return db;
        })();
        return datasetDb;
      },
      offerDataset(db) {
        datasetDb ??= Promise.resolve(db);
      },
      sibling() {
        sibling ??= spec.started ? start().then((s) => s.server) : Promise.resolve(server);
        return sibling;
      },
      log: (m) => log(`${spec.role}: ${m}`),
    };
  };

  try {
    let current = await start();
    label = current.server.label;
    let ctx = contextFor(current.server, current.client);
    let used = false;
    for (const workload of chosen) {
      if (spec.role === 'peer' && workload.chaiseOnly === true) continue;
      try {
        if (workload.freshServer === true && spec.started && used) {
          log(`${spec.role}: restarting for a fresh process`);
          await stopAll(servers.splice(0));
          current = await start();
          ctx = contextFor(current.server, current.client);
        }
        used = true;
        log(`${spec.role}: ${workload.name}…`);
        const m = await workload.run(ctx);
        results.set(workload.name, m);
        log(`${spec.role}: ${workload.name}: ${describe(m, workload.unit)}`);
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        results.set(workload.name, { kind: 'failed', reason });
        log(`${spec.role}: ${workload.name}: FAILED: ${reason}`);
      }
    }
  } catch (e) {
    // The server did not start: every workload of this side fails with that reason.
    const reason = `${spec.started ? 'server did not start' : 'server unreachable'}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
    log(`${spec.role}: ${e instanceof Error ? e.message : String(e)}`);
    for (const w of chosen) if (!results.has(w.name)) results.set(w.name, { kind: 'failed', reason });
  } finally {
    if (!spec.started) {
      for (const { client, db } of createdDbs) {
        await client.request('DELETE', `/${encodeURIComponent(db)}`).catch(() => undefined);
      }
    }
    for (const c of clients) c.close();
    await stopAll(servers);
  }
  return { label, results };
}

async function stopAll(servers: readonly RunningServer[]): Promise<void> {
  for (const s of servers) await s.stop();
}

function describe(m: Measurement, unit: string): string {
  switch (m.kind) {
    case 'measured':
      return `${Math.round(m.value * 10) / 10} ${unit}`;
    case 'failed':
      return `FAILED: ${m.reason}`;
    case 'not-applicable':
      return `n/a: ${m.reason}`;
  }
}
