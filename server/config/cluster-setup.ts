// `/_cluster_setup` on one node, as CouchDB's setup app decides it (setup.erl, setup_httpd.erl):
// which state the node is in, and what an action changes. Pure: the caller hands in the facts
// (config values, which databases exist) and applies the plan it gets back.
//
// Where CouchDB crashes with a 500 (`{"error":"error", …}` from a thrown `{error, Reason}`), the
// plan is a 400 `bad_request` with CouchDB's reason. A single Chaise node cannot join others, so
// the actions that talk to another node (`enable_cluster` with `remote_node`, `add_node` on an
// enabled cluster, `receive_cookie`) are refused with a 400 saying so.

import { isIP } from 'node:net';

/** setup:cluster_system_dbs() in CouchDB 3.5. */
export const CLUSTER_SYSTEM_DBS: readonly string[] = ['_users', '_replicator'];

export type SetupState = 'single_node_enabled' | 'single_node_disabled' | 'cluster_disabled' | 'cluster_enabled' | 'cluster_finished';

/** What the decisions read from the node. */
export interface SetupFacts {
  /** `couchdb/single_node`, `cluster/n`, `chttpd/bind_address` as configured (undefined when unset). */
  singleNode: string | undefined;
  clusterN: string | undefined;
  bindAddress: string | undefined;
  /** Whether `[admins]` has anyone. */
  hasAdmins: boolean;
  /** Whether every named database exists. */
  dbsExist(dbs: readonly string[]): boolean;
}

/** A config change the action asks for; `admin` values are plain passwords or CouchDB hashes. */
export interface ConfigChange {
  section: string;
  key: string;
  value: string;
}

export type SetupPlan = { ok: true; config: ConfigChange[]; createDbs: string[] } | { ok: false; reason: string };

const SINGLE_NODE_ONLY = 'Chaise is a single node: it cannot join or add other nodes';

/** config:get_integer("cluster", "n", 3). */
function clusterN(f: SetupFacts): number {
  const t = f.clusterN?.trim();
  return t !== undefined && /^[+-]?\d+$/.test(t) ? Number(t) : 3;
}

/** setup:is_cluster_enabled/0: bind_address is not 127.0.0.1 and there is an admin. */
function clusterEnabled(f: SetupFacts): boolean {
  return f.bindAddress !== '127.0.0.1' && f.hasAdmins;
}

/**
 * setup_httpd GET. One deviation: with `couchdb/single_node = true` CouchDB answers
 * `single_node_enabled` unconditionally, which is true of a CouchDB 3 node (it does not start
 * without an admin and creates the system databases itself); a Chaise node may run as an admin
 * party on loopback and its system databases may be deleted, so it checks both, as CouchDB does
 * for `cluster/n = 1`.
 */
export function setupState(f: SetupFacts, dbs: readonly string[] = CLUSTER_SYSTEM_DBS): SetupState {
  if (f.singleNode?.trim() === 'true' || clusterN(f) === 1) return f.hasAdmins && f.dbsExist(dbs) ? 'single_node_enabled' : 'single_node_disabled';
  if (!clusterEnabled(f)) return 'cluster_disabled';
  return f.dbsExist(dbs) ? 'cluster_finished' : 'cluster_enabled';
}

type Body = Record<string, unknown>;

class Refused {
  constructor(readonly reason: string) {}
}

function str(body: Body, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && key === 'port') return String(v);
  throw new Refused(`${key} must be a string`);
}

/** `ensure_dbs_exist`: a list of database names, CouchDB's default when absent, null when malformed. */
export function ensureDbsList(v: unknown): string[] | null {
  if (v === undefined || v === null) return [...CLUSTER_SYSTEM_DBS];
  return Array.isArray(v) && v.every((d) => typeof d === 'string') ? (v as string[]) : null;
}

function dbList(v: unknown): string[] {
  const dbs = ensureDbsList(v);
  if (dbs === null) throw new Refused('ensure_dbs_exist must be a list of database names');
  return dbs;
}

/** setup:require_admins/2 and the admin half of setup_node/4. */
function adminChange(f: SetupFacts, body: Body): ConfigChange[] {
  const username = str(body, 'username');
  const password = str(body, 'password_hash') ?? str(body, 'password');
  if (username === undefined && password === undefined) {
    if (!f.hasAdmins) throw new Refused('Cluster setup requires admin account to be configured');
    return [];
  }
  // CouchDB crashes on half a credential; say what is missing instead.
  if (username === undefined || password === undefined || username === '') throw new Refused('Cluster setup requires both username and password');
  return [{ section: 'admins', key: username, value: password }];
}

function validBindAddress(address: string): void {
  if (isIP(address) === 0) throw new Refused(`Setup requires a valid IP bind_address. "${address}" is invalid.`);
}

/** The rest of setup_node/4: bind address and port as given, `cluster/n`. */
function nodeChanges(bindAddress: string | undefined, port: string | undefined, n: number): ConfigChange[] {
  const out: ConfigChange[] = [];
  if (bindAddress !== undefined) {
    validBindAddress(bindAddress);
    out.push({ section: 'chttpd', key: 'bind_address', value: bindAddress });
  }
  out.push({ section: 'cluster', key: 'n', value: String(Math.min(n, 3)) });
  if (port !== undefined) {
    if (!/^\d+$/.test(port) || Number(port) > 65535) throw new Refused(`Setup requires a valid port. "${port}" is invalid.`);
    out.push({ section: 'chttpd', key: 'port', value: port });
  }
  return out;
}

function plan(f: SetupFacts, body: Body): SetupPlan {
  const action = body.action === undefined ? 'missing' : body.action;
  switch (action) {
    case 'enable_single_node': {
      // Always ok once the admin check passes: CouchDB ignores finish_cluster_int's answer here.
      const config = [...adminChange(f, body), ...nodeChanges(str(body, 'bind_address'), str(body, 'port'), 1)];
      const dbs = dbList(body.ensure_dbs_exist);
      return { ok: true, config, createDbs: f.dbsExist(dbs) ? [] : dbs };
    }
    case 'enable_cluster': {
      if (body.remote_node !== undefined) throw new Refused(SINGLE_NODE_ONLY);
      if (clusterEnabled(f)) return { ok: false, reason: 'Cluster is already enabled' };
      const admins = adminChange(f, body);
      const bind = str(body, 'bind_address');
      // setup:require_remote_bind_address/2
      if (bind === '127.0.0.1' || bind === '::1' || (bind === undefined && (f.bindAddress === '127.0.0.1' || f.bindAddress === '::1'))) {
        throw new Refused('Cluster setup requires a remote bind_address (not 127.0.0.1 nor ::1)');
      }
      const count = body.node_count;
      const n = typeof count === 'number' ? count : typeof count === 'string' && /^\d+$/.test(count) ? Number(count) : undefined;
      if (count === undefined || count === null) throw new Refused('Cluster setup requires node_count to be configured');
      if (n === undefined || !Number.isInteger(n) || n < 1) throw new Refused('node_count must be a positive integer');
      // setup_node/4 binds to 0.0.0.0 when no address is given.
      return { ok: true, config: [...admins, ...nodeChanges(bind ?? '0.0.0.0', str(body, 'port'), n)], createDbs: [] };
    }
    case 'finish_cluster': {
      const dbs = dbList(body.ensure_dbs_exist);
      if (f.dbsExist(dbs)) return { ok: false, reason: 'Cluster is already finished' };
      return { ok: true, config: [], createDbs: dbs };
    }
    case 'add_node':
      if (!clusterEnabled(f)) return { ok: false, reason: 'Cluster is not enabled.' };
      throw new Refused(SINGLE_NODE_ONLY);
    case 'remove_node':
      // CouchDB only logs it and answers ok.
      return { ok: true, config: [], createDbs: [] };
    case 'receive_cookie':
      throw new Refused(SINGLE_NODE_ONLY);
    default:
      return { ok: false, reason: "Invalid Action'" };
  }
}

/** setup_httpd POST: the changes an action makes, or CouchDB's 400 reason. */
export function planSetup(f: SetupFacts, body: unknown): SetupPlan {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, reason: "Missing JSON body'" };
  try {
    return plan(f, body as Body);
  } catch (e) {
    if (e instanceof Refused) return { ok: false, reason: e.reason };
    throw e;
  }
}
