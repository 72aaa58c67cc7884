// couchbackup (npm @cloudant/couchbackup), the backup tool CouchDB users reach for, run as a user
// would: its `couchbackup` and `couchrestore` commands against a node in a child process. It
// gzips every request body it sends and reads `_changes`, `_bulk_get` and `_bulk_docs` with
// `new_edits=false`, so a database with conflicts, deletions and a design doc must come back from
// a backup with every leaf, every tombstone and every revision history intact.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startChildNode, type ChildNode } from './helpers/child-node.js';

const BACKUP_BIN = resolve('node_modules/@cloudant/couchbackup/bin/couchbackup.bin.js');
const RESTORE_BIN = resolve('node_modules/@cloudant/couchbackup/bin/couchrestore.bin.js');
/** How long one couchbackup command may take (it finishes in about a second here). */
const TOOL_TIMEOUT_MS = 60_000;
/** Plain documents written besides the special ones: with a buffer of 10, several batches. */
const PLAIN_DOCS = 45;
const ADMIN = 'backup_admin:backup-secret';

let node: ChildNode;
let base = '';
let work = '';

before(async () => {
  node = await startChildNode({ admin: ADMIN });
  base = node.url.replace('http://', `http://${ADMIN}@`);
  work = mkdtempSync(join(tmpdir(), 'chaise-couchbackup-'));
});
after(async () => {
  await node?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const auth = { authorization: 'Basic ' + Buffer.from(ADMIN).toString('base64') };

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(node.url + path, {
    method,
    headers: { ...auth, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

/** Runs one of couchbackup's commands; stdin from a file when given. Resolves with its stderr. */
function run(bin: string, args: string[], stdinFile?: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const stdin = stdinFile === undefined ? 'ignore' : openSync(stdinFile, 'r');
    const child = spawn(process.execPath, [bin, ...args], { stdio: [stdin, 'ignore', 'pipe'], env: { ...process.env, COUCH_URL: '' } });
    if (typeof stdin === 'number') closeSync(stdin);
    let err = '';
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), TOOL_TIMEOUT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(err);
      else reject(new Error(`${bin} ${args.join(' ')} exited with ${code}:\n${err}\nnode output:\n${node.output}`));
    });
  });
}

/** Every document of a database (deleted ones too) as all its leaves, each with its history. */
async function snapshot(db: string): Promise<Record<string, unknown[]>> {
  const changes = await call('GET', `/${db}/_changes?style=all_docs`);
  const out: Record<string, unknown[]> = {};
  for (const row of changes.body.results as { id: string }[]) {
    const leaves = await call('GET', `/${db}/${encodeURIComponent(row.id)}?open_revs=all&revs=true`);
    out[row.id] = (leaves.body as { ok: { _rev: string } }[]).map((l) => l.ok).sort((a, b) => (a._rev < b._rev ? -1 : 1));
  }
  return out;
}

test('couchbackup backs up a database with conflicts, deletions and a design doc; couchrestore brings all of it back', async () => {
  assert.equal((await call('PUT', '/src')).status, 201);
  const plain = Array.from({ length: PLAIN_DOCS }, (_, i) => ({ _id: `doc${String(i).padStart(3, '0')}`, i, text: 'ü€ 😀 '.repeat(i % 5) }));
  assert.equal((await call('POST', '/src/_bulk_docs', { docs: plain })).status, 201);

  // A history three edits deep.
  let rev = (await call('PUT', '/src/edited', { n: 1 })).body.rev as string;
  rev = (await call('PUT', `/src/edited?rev=${rev}`, { n: 2 })).body.rev as string;
  await call('PUT', `/src/edited?rev=${rev}`, { n: 3 });
  // A conflict: a second branch written as a replicator would.
  assert.equal((await call('PUT', '/src/conflicted', { side: 'a' })).status, 201);
  const branch = await call('POST', '/src/_bulk_docs', {
    new_edits: false,
    docs: [{ _id: 'conflicted', _rev: '2-0123456789abcdef0123456789abcdef', _revisions: { start: 2, ids: ['0123456789abcdef0123456789abcdef', 'fedcba9876543210fedcba9876543210'] }, side: 'b' }],
  });
  assert.equal(branch.status, 201);
  // A deletion, and a deleted conflict branch.
  const gone = (await call('PUT', '/src/gone', { bye: true })).body.rev as string;
  assert.equal((await call('DELETE', `/src/gone?rev=${gone}`)).status, 200);
  // A design doc with a view.
  assert.equal((await call('PUT', '/src/_design/app', { views: { by_i: { map: 'function (doc) { if (doc.i !== undefined) emit(doc.i, null); }' } } })).status, 201);

  const backup = join(work, 'src.txt');
  await run(BACKUP_BIN, ['--url', base, '--db', 'src', '--output', backup, '--log', join(work, 'src.log'), '--buffer-size', '10', '--quiet']);
  const lines = readFileSync(backup, 'utf8').trim().split('\n');
  assert.match(lines[0] as string, /"name":"@cloudant\/couchbackup"/, 'the backup starts with its header line');

  assert.equal((await call('PUT', '/dst')).status, 201);
  await run(RESTORE_BIN, ['--url', base, '--db', 'dst', '--buffer-size', '10', '--quiet'], backup);

  const [src, dst] = [await snapshot('src'), await snapshot('dst')];
  assert.equal(Object.keys(src).length, PLAIN_DOCS + 4);
  assert.deepEqual(dst, src, 'every document, leaf, tombstone and history is restored');

  const conflicts = await call('GET', '/dst/conflicted?conflicts=true');
  assert.equal(conflicts.body._conflicts.length, 1, 'the conflict is still a conflict');
  assert.deepEqual((await call('GET', '/dst/gone')).body, { error: 'not_found', reason: 'deleted' });
  const [srcInfo, dstInfo] = [(await call('GET', '/src')).body, (await call('GET', '/dst')).body];
  assert.deepEqual([dstInfo.doc_count, dstInfo.doc_del_count], [srcInfo.doc_count, srcInfo.doc_del_count]);
  const view = await call('GET', '/dst/_design/app/_view/by_i?limit=3');
  assert.deepEqual(view.body.rows.map((r: { key: number }) => r.key), [0, 1, 2], 'the restored design doc serves its view');
});
