// CouchDB's couch_peruser: when enabled, each user document in `_users` gets a private database
// `userdb-<hex(utf8 name)>` whose members and admins are that user; with `deleteDbs`, deleting the
// user deletes it. It follows `_users` through its changes feed, so it also sees replicated users.

import type { Catalog } from '../storage/catalog.js';
import { USER_PREFIX, USERS_DB } from './users.js';

export interface PeruserConfig {
  enable: boolean;
  deleteDbs: boolean;
}

export function userDbName(name: string): string {
  return 'userdb-' + Buffer.from(name, 'utf8').toString('hex');
}

/** Starts following `_users`; returns a stop function. */
export function startPeruser(catalog: Catalog, cfg: PeruserConfig): () => void {
  if (!cfg.enable) return () => {};
  const users = catalog.get(USERS_DB);
  if (!users) return () => {};
  const cursorKey = ['_node', 'peruser_seq'];
  let cursor = (catalog.env.stores.meta.get(cursorKey) as number | undefined) ?? 0;
  let running = false;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        for (const { seq, id, info } of users.changes(cursor)) {
          cursor = seq;
          if (!id.startsWith(USER_PREFIX)) continue;
          const dbName = userDbName(id.slice(USER_PREFIX.length));
          if (info.deleted) {
            if (cfg.deleteDbs && catalog.get(dbName)) await catalog.delete(dbName).catch(() => undefined);
            continue;
          }
          let db = catalog.get(dbName);
          if (!db) db = await catalog.create(dbName).catch(() => catalog.get(dbName));
          const name = id.slice(USER_PREFIX.length);
          if (db) await db.setSecurity({ admins: { names: [name], roles: [] }, members: { names: [name], roles: [] } });
        }
        await catalog.env.stores.meta.put(cursorKey, cursor);
      } while (again);
    } catch (e) {
      console.error('couch_peruser: failed to create a user database', e);
    } finally {
      running = false;
    }
  };
  const stop = users.onChange(() => void run());
  void run();
  return stop;
}
