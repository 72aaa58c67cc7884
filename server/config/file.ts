// The persisted half of the node's configuration: changes made through `/_node/{node}/_config`
// without `X-Couch-Persist: false`, kept in the data directory as `local-config.json` and laid over
// the `--config` file at start-up (as CouchDB lays local.ini over default.ini). It is replaced
// atomically: the new text goes to a temporary file that is fsynced, then renamed over the old
// one and the directory fsynced, so a crash at any point leaves either the old or the new file.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Overlay } from './store.js';

export const CONFIG_FILE_NAME = 'local-config.json';

export function configFilePath(dir: string): string {
  return join(dir, CONFIG_FILE_NAME);
}

/** The overlay in `file`, or an empty one when the file does not exist yet. */
export function readOverlay(file: string): Overlay {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  const parsed = JSON.parse(text) as { sections?: unknown };
  const out: Overlay = {};
  const sections = parsed.sections;
  if (typeof sections !== 'object' || sections === null) throw new Error(`${file}: expected {"sections": {…}}`);
  for (const [section, keys] of Object.entries(sections as Record<string, unknown>)) {
    if (typeof keys !== 'object' || keys === null) continue;
    const s: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(keys as Record<string, unknown>)) if (typeof v === 'string' || v === null) s[k] = v;
    out[section] = s;
  }
  return out;
}

/** Replaces `file` with the overlay, atomically and durably. */
export function writeOverlay(file: string, dir: string, overlay: Overlay): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const text = JSON.stringify({ sections: overlay }, null, 2) + '\n';
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean up
    }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, file);
  // The rename itself is durable only once the directory entry is on disk.
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
