// Replays the 167 API calls recorded from Apache CouchDB 3.5 in test/fixtures/api-couchdb-2.json:
// string sequences, the node API, HTTP details, attachments as CouchDB stores them,
// show/list/update/rewrite and partitioned databases. The steps run in order on one node, so a
// step may rely on what earlier ones wrote.

import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { inProcessNode } from './helpers/in-process-node.js';
import { RevMap } from './helpers/rev-map.js';
import { replayStep, type Deviations, type Step } from './helpers/fixture-replay.js';

const fixture = JSON.parse(readFileSync('test/fixtures/api-couchdb-2.json', 'utf8')) as { steps: Step[] };

/** Why byte counts cannot match: an LMDB environment is not a couch_file; only their shape can agree. */
const SIZES_WHY = "bytes used by CouchDB's couch_file B-trees vs Chaise's LMDB pages: never equal";

/** Where Chaise knowingly differs from the recording, and why; everything else in the step is compared. */
const DEVIATIONS: Deviations = {
  '_local doc with _revisions': {
    paths: [],
    status: 400,
    response: { error: 'bad_request', reason: 'Invalid rev format' },
    why: 'CouchDB 3.5 fails this write with 500 {"error":"error","reason":"Invalid rev format"}; Chaise answers the matching 400 bad_request with the same reason (a client error is not a server fault).',
  },
  'bulk_docs new_edits not a boolean': {
    paths: [],
    status: 400,
    response: { error: 'bad_request', reason: '`new_edits` parameter must be a boolean.' },
    why: 'CouchDB 3.5 crashes with 500 unknown_error function_clause; Chaise answers 400 bad_request "`new_edits` parameter must be a boolean.", as later CouchDB (chttpd_db main) does.',
  },
  // Sequences: the db-info steps are about update_seq/purge_seq; their byte sizes are storage-specific.
  'db info of an empty db: update_seq is a string': { paths: ['sizes.file', 'sizes.active', 'sizes.external'], why: SIZES_WHY },
  'db info after writes': { paths: ['sizes.file', 'sizes.active', 'sizes.external'], why: SIZES_WHY },
  'db info sizes after writes': {
    paths: ['sizes.file', 'sizes.active', 'sizes.external'],
    why: SIZES_WHY + ' The sizes are real byte counts that follow writes and fall after compaction (test/db-sizes.test.ts; DbSizes in server/storage/records.ts says what each counts).',
  },
  _dbs_info: { paths: ['0.info.sizes.file', '0.info.sizes.active', '0.info.sizes.external'], why: SIZES_WHY },
  'info shows props.partitioned': { paths: ['sizes', 'cluster'], why: 'sizes are storage-specific; one Chaise node is one shard (q=1)' },
  'partition info': { paths: ['sizes.active'], why: 'Chaise keeps no per-partition on-disk size; active is the live data size (external)' },
  'partition _find': { paths: ['bookmark'], why: 'bookmarks are opaque; Chaise encodes its own resume point' },
  'global _find on a partitioned db': { paths: ['bookmark'], why: 'bookmarks are opaque; Chaise encodes its own resume point' },
};

/**
 * Steps not yet replayed, by the area that will serve them. Each area's list sits apart from the
 * others so that work on one does not touch the lines of another. A step leaves its list when
 * Chaise answers it as CouchDB did.
 */
const PENDING_SEQUENCES: number[] = [126];

const PENDING_NODE_API: number[] = [127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 156, 157, 158, 159, 160, 161];

const PENDING_HTTP: number[] = [];

const PENDING_ATTACHMENTS_AND_HISTORY: number[] = [166];

const PENDING_DESIGN_FUNCTIONS: number[] = [66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98];

const PENDING_PARTITIONS: number[] = [];

const PENDING = new Set([...PENDING_SEQUENCES, ...PENDING_NODE_API, ...PENDING_HTTP, ...PENDING_ATTACHMENTS_AND_HISTORY, ...PENDING_DESIGN_FUNCTIONS, ...PENDING_PARTITIONS]);

test('Chaise answers the second set of recorded CouchDB 3.5 calls the same way', async (t) => {
  const { request, close } = await inProcessNode();
  const revs = new RevMap();
  try {
    for (const [i, step] of fixture.steps.entries()) {
      const name = `#${i} ${step.method} ${step.path} — ${step.note}`;
      if (PENDING.has(i)) {
        // Still run it, so later steps see the same data; only its answer is not checked yet.
        await t.test(name, { todo: 'not yet served as CouchDB serves it' }, () => replayStep(request, step, revs, { names: { db: 'transcript2', pdb: 'transcript2p' }, deviations: DEVIATIONS, seqType: true, headers: true }));
        continue;
      }
      await t.test(name, () => replayStep(request, step, revs, { names: { db: 'transcript2', pdb: 'transcript2p' }, deviations: DEVIATIONS, seqType: true, headers: true }));
    }
  } finally {
    await close();
  }
});
