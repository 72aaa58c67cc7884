// CouchDB 3.4's disk monitor (couch_disk_monitor.erl, `[disk_monitor]`): when enabled and the
// disk holding the data is fuller than a threshold (percent used), interactive document writes
// and view index updates made for a query are refused with 507 insufficient_storage. Replicated
// writes (new_edits=false), reads and queries of the index as it stands still work. Chaise has
// no background indexer, so `background_view_indexing_threshold` is accepted and has no effect.

import { statfsSync } from 'node:fs';
import { CouchError } from '../errors/catalog.js';

export interface DiskMonitorConfig {
  enable: boolean;
  /** Percent used above which a query may not update its view index. */
  interactiveViewIndexing: number;
  /** Percent used above which interactive document writes are refused. */
  interactiveWrites: number;
}

/** CouchDB's defaults (docs: config/disk-monitor). */
export const DEFAULT_DISK_MONITOR: DiskMonitorConfig = { enable: false, interactiveViewIndexing: 90, interactiveWrites: 90 };

/** How long a measured percentage is reused: a statfs per write would cost a syscall each. */
const MEASURE_EVERY_MS = 1000;

export class DiskMonitor {
  config: DiskMonitorConfig = { ...DEFAULT_DISK_MONITOR };
  private measured = { percent: 0, at: -Infinity };

  constructor(private readonly dir: string) {}

  /** The data directory's disk, percent used (rounded up, as `df` reports it); 0 when unknown. */
  percentUsed(now = Date.now()): number {
    if (now - this.measured.at < MEASURE_EVERY_MS) return this.measured.percent;
    let percent = 0;
    try {
      const s = statfsSync(this.dir);
      if (s.blocks > 0) percent = Math.ceil(((s.blocks - s.bfree) / s.blocks) * 100);
    } catch {
      percent = 0;
    }
    this.measured = { percent, at: now };
    return percent;
  }

  /** Throws 507 when interactive writes are blocked (couch_disk_monitor:block_interactive_database_writes). */
  checkWrite(): void {
    if (this.config.enable && this.percentUsed() > this.config.interactiveWrites) {
      throw new CouchError('insufficient_storage', 'database_dir is too full');
    }
  }

  /** Throws 507 when a query may not update its index (block_interactive_view_indexing). */
  checkViewIndexing(): void {
    if (this.config.enable && this.percentUsed() > this.config.interactiveViewIndexing) {
      throw new CouchError('insufficient_storage', 'view_index_dir is too full');
    }
  }
}
