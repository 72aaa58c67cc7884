// A throwaway LMDB environment for tests: a unique temp dir, the same `views`
// sub-database the server opens, removed on close.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';

export interface TempLmdb {
  root: RootDatabase;
  db: Database;
  path: string;
  close(): Promise<void>;
}

export function tempLmdb(): TempLmdb {
  const path = mkdtempSync(join(tmpdir(), 'chaise-views-'));
  const root = open({ path });
  const db = root.openDB({ name: 'views' });
  return {
    root,
    db,
    path,
    close: async () => {
      await root.close();
      rmSync(path, { recursive: true, force: true });
    },
  };
}
