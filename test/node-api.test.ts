// The node API as clients drive it (chttpd_node.erl is the spec): `/_node/{node}/_config` with
// CouchDB's answers and errors, settings that take effect without a restart, persisted changes
// that survive one (and transient ones that do not), session cookies with CouchDB's attributes,
// and the monitoring endpoints (`_stats`, `_system`, `_prometheus` read by a real Prometheus
// text parser).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { nodeForFile, type TestNode } from './helpers/in-process-node.js';
import { startChildNode, type ChildNode } from './helpers/child-node.js';
import { CONFIG_FILE_NAME } from '../server/config/file.js';
import { startNode } from '../server/node.js';

let t: TestNode;
nodeForFile((n) => (t = n), { admins: [{ name: 'root', password: 'rootpw' }], auth: { iterations: 1000 } });

const ADMIN: [string, string] = ['root', 'rootpw'];
const cfg = '/_node/_local/_config';

async function setConfig(path: string, value: string, persist = false) {
  const req = t.request.put(`${cfg}/${path}`).auth(...ADMIN).set('content-type', 'application/json');
  if (!persist) req.set('x-couch-persist', 'false');
  return req.send(JSON.stringify(value));
}

test('GET /_node/_local and /_node/{name}; another name is down; the API is for admins', async () => {
  const local = await t.request.get('/_node/_local').auth(...ADMIN).expect(200);
  const name = (local.body as { name: string }).name;
  await t.request.get(`/_node/${name}`).auth(...ADMIN).expect(200, { name });
  const down = await t.request.get('/_node/other@host/_config').auth(...ADMIN).expect(412);
  assert.deepEqual(down.body, { error: 'nodedown', reason: 'other@host is down' });
  const anon = await t.request.get('/_node/_local/_config').expect(401);
  assert.deepEqual(anon.body, { error: 'unauthorized', reason: 'You are not a server admin.' });
  await t.request.get('/_node').auth(...ADMIN).expect(400, /Incomplete path to _node request/);
});

test('_restart: POST only, admins only; a node that does not listen on its own cannot restart (test/node-restart.test.ts restarts a real one)', async () => {
  await t.request.get('/_node/_local/_restart').auth(...ADMIN).expect(405, { error: 'method_not_allowed', reason: 'Only POST allowed' });
  await t.request.post('/_node/_local/_restart').expect(401, { error: 'unauthorized', reason: 'You are not a server admin.' });
  const res = await t.request.post('/_node/_local/_restart').auth(...ADMIN).expect(503);
  assert.equal(res.body.error, 'service_unavailable');
});

test('config: whole, section and key; PUT and DELETE answer the old value; CouchDB errors', async () => {
  assert.equal((await setConfig('test_sec/k', 'v1')).body, '');
  assert.equal((await setConfig('test_sec/k', '  v2  ')).body, 'v1', 'the value is trimmed as CouchDB trims it');
  await t.request.get(`${cfg}/test_sec/k`).auth(...ADMIN).expect(200, '"v2"\n');
  await t.request.get(`${cfg}/test_sec`).auth(...ADMIN).expect(200, { k: 'v2' });
  const all = (await t.request.get(cfg).auth(...ADMIN).expect(200)).body as Record<string, Record<string, string>>;
  assert.equal(all.test_sec?.k, 'v2');
  assert.equal(all.couchdb?.single_node, 'true');
  assert.match(all.admins?.root ?? '', /^-pbkdf2:sha256-[0-9a-f]{64},[0-9a-f]{32},1000$/, 'admins are listed hashed');
  // Add-cors-to-couchdb sends `/_node/{node}//_config/...`, which CouchDB accepts.
  await t.request.get('/_node/_local//_config/test_sec/k').auth(...ADMIN).expect(200, '"v2"\n');
  assert.equal((await t.request.delete(`${cfg}/test_sec/k`).auth(...ADMIN).set('x-couch-persist', 'false').expect(200)).body, 'v2');
  const gone = await t.request.delete(`${cfg}/test_sec/k`).auth(...ADMIN).expect(404);
  assert.deepEqual(gone.body, { error: 'not_found', reason: 'unknown_config_value' });
  await t.request.get(`${cfg}/test_sec/k`).auth(...ADMIN).expect(404, { error: 'not_found', reason: 'unknown_config_value' });

  const notString = await t.request.put(`${cfg}/test_sec/n`).auth(...ADMIN).send('42').expect(400);
  assert.deepEqual(notString.body, { error: 'bad_request', reason: 'a JSON string expected' });
  await t.request.put(`${cfg}/test_sec/n`).auth(...ADMIN).send('bare').expect(400, { error: 'bad_request', reason: 'invalid UTF-8 JSON' });
  const injected = await setConfig('cors/origins', 'http://x\n[os_daemons]\nevil = rm -rf');
  assert.deepEqual([injected.status, injected.body], [400, { error: 'bad_request', reason: 'Invalid configuration value' }]);
  const key = await t.request.put(`${cfg}/test_sec/a%5Bb`).auth(...ADMIN).send('"x"').expect(400);
  assert.deepEqual(key.body, { error: 'bad_request', reason: 'Invalid configuration key' });
  const blacklisted = await t.request.put(`${cfg}/query_servers/js`).auth(...ADMIN).send('"/bin/sh"').expect(403);
  assert.deepEqual(blacklisted.body, { error: 'forbidden', reason: 'Config section blacklisted for modification over HTTP API.' });
  await t.request.post(`${cfg}/test_sec/k`).auth(...ADMIN).expect(405, { error: 'method_not_allowed', reason: 'Only GET,PUT,DELETE allowed' });
  await t.request.put(cfg).auth(...ADMIN).expect(405, { error: 'method_not_allowed', reason: 'Only GET allowed' });
});

test('_reload drops changes made with X-Couch-Persist: false and keeps persisted ones', async () => {
  await setConfig('reload_sec/transient', 'a');
  await setConfig('reload_sec/kept', 'b', true);
  await t.request.post(`${cfg}/_reload`).auth(...ADMIN).expect(200, { ok: true });
  await t.request.get(`${cfg}/reload_sec`).auth(...ADMIN).expect(200, { kept: 'b' });
  const file = JSON.parse(readFileSync(join(t.node.env.path, CONFIG_FILE_NAME), 'utf8')) as { sections: Record<string, unknown> };
  assert.deepEqual(file.sections.reload_sec, { kept: 'b' });
});

test('an admin set through config is hashed on write, can log in at once, and is gone once deleted', async () => {
  assert.equal((await setConfig('admins/cfgadmin', 'cfgpw')).body, '');
  const stored = (await t.request.get(`${cfg}/admins/cfgadmin`).auth(...ADMIN).expect(200)).body as string;
  assert.match(stored, /^-pbkdf2:sha256-[0-9a-f]{64},[0-9a-f]{32},1000$/);
  const ses = await t.request.get('/_session').auth('cfgadmin', 'cfgpw').expect(200);
  assert.deepEqual(ses.body.userCtx, { name: 'cfgadmin', roles: ['_admin'] });
  assert.equal((await t.request.delete(`${cfg}/admins/cfgadmin`).auth(...ADMIN).set('x-couch-persist', 'false')).body, stored);
  await t.request.get('/_session').auth('cfgadmin', 'cfgpw').expect(401);
});

test('live limits: max_document_size and max_http_request_size apply to the next request', async () => {
  await t.request.put('/limits_db').auth(...ADMIN).expect(201);
  const big = JSON.stringify({ text: 'x'.repeat(2000) });
  await setConfig('couchdb/max_document_size', '1000');
  const tooBig = await t.request.put('/limits_db/d1').auth(...ADMIN).set('content-type', 'application/json').send(big);
  assert.equal(tooBig.status, 413);
  assert.equal(tooBig.body.error, 'document_too_large');
  await t.request.delete(`${cfg}/couchdb/max_document_size`).auth(...ADMIN).set('x-couch-persist', 'false').expect(200);
  await t.request.put('/limits_db/d1').auth(...ADMIN).set('content-type', 'application/json').send(big).expect(201);
  await setConfig('chttpd/max_http_request_size', '500');
  const req = await t.request.put('/limits_db/d2').auth(...ADMIN).set('content-type', 'application/json').send(big);
  assert.equal(req.status, 413);
  await t.request.delete(`${cfg}/chttpd/max_http_request_size`).auth(...ADMIN).set('x-couch-persist', 'false').expect(200);
});

test('chttpd/require_valid_user turns anonymous requests away, login stays possible', async () => {
  await t.request.get('/').expect(200);
  await setConfig('chttpd/require_valid_user', 'true');
  try {
    await t.request.get('/').expect(401, { error: 'unauthorized', reason: 'Authentication required.' });
    await t.request.get('/_up').expect(401);
    await t.request.get('/').auth(...ADMIN).expect(200);
    await t.request.post('/_session').send({ name: 'root', password: 'rootpw' }).expect(200);
    await setConfig('chttpd/require_valid_user_except_for_up', 'true');
    await t.request.get('/_up').expect(200);
  } finally {
    await t.request.delete(`${cfg}/chttpd/require_valid_user_except_for_up`).auth(...ADMIN).set('x-couch-persist', 'false');
    await setConfig('chttpd/require_valid_user', 'false');
  }
  await t.request.get('/').expect(200);
});

test("session cookies carry CouchDB's attributes, following chttpd_auth live", async () => {
  const login = async () => String((await t.request.post('/_session').send({ name: 'root', password: 'rootpw' }).expect(200)).headers['set-cookie']);
  const plain = await login();
  assert.match(plain, /^AuthSession=[\w-]+; Version=1; Expires=\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT; Max-Age=600; Path=\/; HttpOnly$/);
  const expires = Date.parse(/Expires=([^;]+)/.exec(plain)?.[1] ?? '');
  assert.ok(Math.abs(expires - (Date.now() + 600_000)) < 5_000, 'Expires is Max-Age from now');
  await setConfig('chttpd_auth/timeout', '60');
  await setConfig('chttpd_auth/same_site', 'Strict');
  await setConfig('chttpd_auth/cookie_domain', 'example.org');
  try {
    assert.match(await login(), /; Max-Age=60; Domain=example.org; Path=\/; HttpOnly; SameSite=Strict$/);
    await setConfig('chttpd_auth/allow_persistent_cookies', 'false');
    assert.match(await login(), /^AuthSession=[\w-]+; Version=1; Domain=example.org; Path=\/; HttpOnly; SameSite=Strict$/);
  } finally {
    await t.request.post(`${cfg}/_reload`).auth(...ADMIN).expect(200);
  }
  const out = String((await t.request.delete('/_session').expect(200)).headers['set-cookie']);
  assert.match(out, /^AuthSession=; Version=1; Expires=[^;]+; Max-Age=600; Path=\/; HttpOnly$/, 'logout clears the cookie with the same attributes');
});

test('CORS follows chttpd/enable_cors and cors/* live', async () => {
  const preflight = () => t.request.options('/_all_dbs').set('origin', 'http://app.example').set('access-control-request-method', 'GET');
  assert.equal((await preflight()).headers['access-control-allow-origin'], undefined);
  await setConfig('chttpd/enable_cors', 'true');
  await setConfig('cors/origins', 'http://app.example');
  await setConfig('cors/credentials', 'true');
  const ok = await preflight().expect(204);
  assert.equal(ok.headers['access-control-allow-origin'], 'http://app.example');
  assert.equal(ok.headers['access-control-allow-credentials'], 'true');
  await setConfig('cors/origins', 'http://other.example');
  assert.equal((await preflight()).headers['access-control-allow-origin'], undefined);
  await setConfig('chttpd/enable_cors', 'false');
});

test('couch_peruser/enable takes effect live', async () => {
  await setConfig('couch_peruser/enable', 'true');
  try {
    await t.request.put('/_users/org.couchdb.user:pu').auth(...ADMIN).send({ name: 'pu', password: 'x', type: 'user', roles: [] }).expect(201);
    const dbName = 'userdb-' + Buffer.from('pu').toString('hex');
    for (let i = 0; i < 100 && !t.node.services.catalog.get(dbName); i++) await new Promise((r) => setTimeout(r, 20));
    await t.request.get('/' + dbName).auth(...ADMIN).expect(200);
  } finally {
    await setConfig('couch_peruser/enable', 'false');
  }
});

test('_stats counts requests by method and status, with request_time as a histogram', async () => {
  const stat = async (path: string) => (await t.request.get(`/_node/_local/_stats/${path}`).auth(...ADMIN).expect(200)).body as { value: unknown; type: string; desc: string };
  const before = (await stat('couchdb/httpd_request_methods/GET')).value as number;
  const notFound = (await stat('couchdb/httpd_status_codes/404')).value as number;
  await t.request.get('/no_such_db_here').auth(...ADMIN).expect(404);
  assert.equal((await stat('couchdb/httpd_request_methods/GET')).value, before + 3, 'the 404-count read, the 404 and this read');
  assert.equal((await stat('couchdb/httpd_status_codes/404')).value, notFound + 1);
  const rt = await stat('couchdb/request_time');
  assert.equal(rt.type, 'histogram');
  assert.equal(rt.desc, 'length of a request inside CouchDB without MochiWeb');
  const v = rt.value as { n: number; min: number; max: number; median: number; percentile: [number, number][] };
  assert.ok(v.n > 0 && v.min >= 0 && v.max >= v.median && v.median >= v.min);
  assert.deepEqual(v.percentile.map(([p]) => p), [50, 75, 90, 95, 99, 999]);
  const hits = await stat('couchdb/auth_cache_hits');
  assert.equal(hits.type, 'counter');
  assert.ok((hits.value as number) > 0, 'admin credentials come from the cache after the first check');
  const reads = await stat('couchdb/database_reads');
  assert.deepEqual([reads.type, reads.desc], ['counter', 'number of times a document was read from a database']);
  const open = await stat('couchdb/open_databases');
  assert.ok((open.value as number) >= 2, '_users and _replicator at least');
  assert.deepEqual(await stat('couch_replicator/jobs/running'), { value: 0, type: 'gauge', desc: 'replicator scheduler running jobs' });
  assert.equal((await t.request.get('/_node/_local/_stats/couchdb/no_such_metric').auth(...ADMIN).expect(200)).text.trim(), 'null');
});

test('document writes, reads and view builds are counted', async () => {
  const stat = async (path: string) => ((await t.request.get(`/_node/_local/_stats/${path}`).auth(...ADMIN).expect(200)).body as { value: number }).value;
  await t.request.put('/stats_db').auth(...ADMIN).expect(201);
  const [writes, inserts, reads, mapped] = [await stat('couchdb/document_writes'), await stat('couchdb/document_inserts'), await stat('couchdb/database_reads'), await stat('couchdb/mrview/map_doc')];
  await t.request.post('/stats_db/_bulk_docs').auth(...ADMIN).send({ docs: [{ _id: 'a', n: 1 }, { _id: 'b', n: 2 }] }).expect(201);
  await t.request.get('/stats_db/a').auth(...ADMIN).expect(200);
  await t.request.put('/stats_db/_design/d').auth(...ADMIN).send({ views: { v: { map: 'function (doc) { if (doc.n) { emit(doc.n, null); emit(-doc.n, null); } }' } } }).expect(201);
  await t.request.get('/stats_db/_design/d/_view/v').auth(...ADMIN).expect(200);
  assert.equal(await stat('couchdb/document_writes'), writes + 3);
  assert.equal(await stat('couchdb/document_inserts'), inserts + 3);
  assert.ok((await stat('couchdb/database_reads')) > reads);
  assert.equal(await stat('couchdb/mrview/map_doc'), mapped + 2, 'the design doc itself is not mapped');
  assert.ok((await stat('couchdb/mrview/emits')) >= 4);
  assert.ok((await stat('couchdb/httpd/bulk_requests')) >= 1);
  assert.ok((await stat('couchdb/httpd/view_reads')) >= 1);
});

test('endpoint metrics: bulk_docs sizes, dbinfo time, purges, partition queries, validate_doc_update, Mango', async () => {
  type M = { value: number | { n: number; max: number; min: number }; type: string; desc: string };
  const stat = async (path: string) => (await t.request.get(`/_node/_local/_stats/${path}`).auth(...ADMIN).expect(200)).body as M;
  const n = async (path: string) => (await stat(path)).value as number;
  const hist = async (path: string) => (await stat(path)).value as { n: number; max: number; min: number };
  await t.request.put('/ep_db').auth(...ADMIN).expect(201);
  await t.request.put('/ep_part?partitioned=true').auth(...ADMIN).expect(201);
  const before = {
    bulk: await n('couchdb/httpd/bulk_requests'),
    bulkDocs: (await hist('couchdb/httpd/bulk_docs')).n,
    dbinfo: (await hist('couchdb/dbinfo')).n,
    purges: await n('couchdb/database_purges'),
    purged: await n('couchdb/document_purges/total'),
    purgedOk: await n('couchdb/document_purges/success'),
    pAllDocs: await n('couchdb/httpd/partition_all_docs_requests'),
    pView: await n('couchdb/httpd/partition_view_requests'),
    pFind: await n('couchdb/httpd/partition_find_requests'),
    pExplain: await n('couchdb/httpd/partition_explain_requests'),
    rejects: await n('couchdb/query_server/vdu_rejects'),
    vdu: (await hist('couchdb/query_server/vdu_process_time')).n,
    docsExamined: await n('mango/docs_examined'),
    results: await n('mango/results_returned'),
    unindexed: await n('mango/unindexed_queries'),
    invalidIndex: await n('mango/query_invalid_index'),
    queryTime: (await hist('mango/query_time')).n,
  };
  // Two _bulk_docs (3 docs, then 5) and one _bulk_get: bulk requests, and the docs per _bulk_docs.
  await t.request.post('/ep_db/_bulk_docs').auth(...ADMIN).send({ docs: [{ _id: 'a', k: 1 }, { _id: 'b', k: 2 }, { _id: 'c', k: 3 }] }).expect(201);
  await t.request.post('/ep_db/_bulk_docs').auth(...ADMIN).send({ docs: [1, 2, 3, 4, 5].map((k) => ({ k })) }).expect(201);
  await t.request.post('/ep_db/_bulk_get').auth(...ADMIN).send({ docs: [{ id: 'a' }] }).expect(200);
  assert.equal(await n('couchdb/httpd/bulk_requests'), before.bulk + 3);
  const sizes = await hist('couchdb/httpd/bulk_docs');
  assert.equal(sizes.n, before.bulkDocs + 2);
  assert.equal(sizes.max, 5);
  assert.deepEqual(Object.fromEntries(Object.entries(await stat('couchdb/httpd/bulk_docs')).filter(([k]) => k !== 'value')), { type: 'histogram', desc: 'distribution of the number of docs in _bulk_docs requests' });
  await t.request.get('/ep_db').auth(...ADMIN).expect(200);
  assert.equal((await hist('couchdb/dbinfo')).n, before.dbinfo + 1);
  // A purge naming two documents, one of them unknown: both answered, so both succeed.
  await t.request.post('/ep_db/_purge').auth(...ADMIN).send({ a: [(await t.request.get('/ep_db/a').auth(...ADMIN)).body._rev], nope: ['1-x'] }).expect(201);
  assert.equal(await n('couchdb/database_purges'), before.purges + 1);
  assert.equal(await n('couchdb/document_purges/total'), before.purged + 2);
  assert.equal(await n('couchdb/document_purges/success'), before.purgedOk + 2);
  assert.deepEqual(await stat('couchdb/document_purges/failure'), { value: 0, type: 'counter', desc: 'number of failed document purge operations' });
  // Partition queries, each kind counted.
  await t.request.put('/ep_part/p:1').auth(...ADMIN).send({ k: 1 }).expect(201);
  await t.request.put('/ep_part/_design/d').auth(...ADMIN).send({ views: { v: { map: 'function (doc) { emit(doc.k, null); }' } } }).expect(201);
  await t.request.get('/ep_part/_partition/p/_all_docs').auth(...ADMIN).expect(200);
  await t.request.get('/ep_part/_partition/p/_design/d/_view/v').auth(...ADMIN).expect(200);
  await t.request.post('/ep_part/_partition/p/_find').auth(...ADMIN).send({ selector: { k: 1 } }).expect(200);
  await t.request.post('/ep_part/_partition/p/_explain').auth(...ADMIN).send({ selector: { k: 1 } }).expect(200);
  assert.deepEqual(
    [await n('couchdb/httpd/partition_all_docs_requests'), await n('couchdb/httpd/partition_view_requests'), await n('couchdb/httpd/partition_find_requests'), await n('couchdb/httpd/partition_explain_requests')],
    [before.pAllDocs + 1, before.pView + 1, before.pFind + 1, before.pExplain + 1],
  );
  // validate_doc_update: one write passes, one is rejected; each validated document is timed.
  await t.request.put('/ep_db/_design/guard').auth(...ADMIN).send({ validate_doc_update: 'function (doc) { if (doc.bad) throw({ forbidden: "no" }); }' }).expect(201);
  await t.request.put('/ep_db/good').auth(...ADMIN).send({}).expect(201);
  await t.request.put('/ep_db/bad').auth(...ADMIN).send({ bad: true }).expect(403);
  assert.equal(await n('couchdb/query_server/vdu_rejects'), before.rejects + 1);
  assert.equal((await hist('couchdb/query_server/vdu_process_time')).n, before.vdu + 2);
  // Mango: two queries without an index (the partition's _find above was the first such), one
  // of them naming an index that does not exist.
  const found = await t.request.post('/ep_db/_find').auth(...ADMIN).send({ selector: { k: { $gt: 1 } }, execution_stats: true }).expect(200);
  const es = found.body.execution_stats as { total_docs_examined: number; results_returned: number };
  const named = await t.request.post('/ep_db/_find').auth(...ADMIN).send({ selector: { k: 2 }, use_index: 'nope' }).expect(200);
  assert.equal(await n('mango/unindexed_queries'), before.unindexed + 3);
  assert.equal(await n('mango/query_invalid_index'), before.invalidIndex + 1);
  assert.ok((await n('mango/docs_examined')) >= before.docsExamined + es.total_docs_examined);
  assert.equal(await n('mango/evaluate_selector'), await n('mango/docs_examined'), 'each examined document is matched once');
  assert.equal(await n('mango/results_returned'), before.results + 1 + es.results_returned + (named.body.docs as unknown[]).length);
  assert.equal((await hist('mango/query_time')).n, before.queryTime + 3);
  assert.deepEqual((await stat('mango/too_many_docs_scanned')).desc, 'number of mango queries that generated an index scan warning');
  // The process's open files, on systems that list them.
  if (process.platform === 'linux') assert.ok((await n('couchdb/open_os_files')) > 0);
  // And the Prometheus exposition carries them under CouchDB's names.
  const families = new Map(parsePrometheusTextFormat((await t.request.get('/_node/_local/_prometheus').auth(...ADMIN).expect(200)).text).map((f) => [f.name, f]));
  assert.equal(families.get('couchdb_httpd_bulk_docs_seconds')?.type, 'SUMMARY');
  assert.equal(families.get('couchdb_dbinfo_seconds')?.type, 'SUMMARY');
  assert.equal(families.get('couchdb_document_purges_total')?.type, 'COUNTER', 'couch_prometheus_util:counter_metric adds no second _total');
  assert.equal(families.get('couchdb_httpd_partition_find_requests_total')?.type, 'COUNTER');
  assert.equal(families.get('couchdb_query_server_vdu_rejects_total')?.type, 'COUNTER');
  assert.equal(families.get('couchdb_mango_unindexed_queries_total')?.type, 'COUNTER');
  assert.equal(families.get('couchdb_mango_query_time_seconds')?.type, 'SUMMARY');
  if (process.platform === 'linux') assert.equal(families.get('couchdb_open_os_files')?.type, 'GAUGE');
});

test('_system reports uptime, Node memory and event-loop delay', async () => {
  const sys = (await t.request.get('/_node/_local/_system').auth(...ADMIN).expect(200)).body as { uptime: number; memory: Record<string, number>; event_loop_delay: Record<string, number> };
  assert.equal(typeof sys.uptime, 'number');
  assert.ok(sys.memory.rss! > 0 && sys.memory.heap_used! > 0);
  assert.ok(sys.event_loop_delay.max! >= sys.event_loop_delay.min!);
});

test('_versions and the single-node answers', async () => {
  const v = (await t.request.get('/_node/_local/_versions').auth(...ADMIN).expect(200)).body as { javascript_engine: { name: string } };
  assert.equal(v.javascript_engine.name, 'v8');
  await t.request.get('/_reshard').auth(...ADMIN).expect(200, { state: 'running', state_reason: null, completed: 0, failed: 0, running: 0, stopped: 0, total: 0 });
  await t.request.get('/_cluster_setup').auth(...ADMIN).expect(200, { state: 'single_node_enabled' });
  const root = (await t.request.get('/').expect(200)).body as { features: string[] };
  assert.ok(!root.features.includes('reshard'), 'a single node does not reshard');
});

test('_prometheus parses as the Prometheus text format with CouchDB metric names', async () => {
  const res = await t.request.get('/_node/_local/_prometheus').auth(...ADMIN).expect(200);
  assert.equal(res.headers['content-type'], 'text/plain; version=2.0');
  const families = parsePrometheusTextFormat(res.text);
  const byName = new Map(families.map((f) => [f.name, f]));
  const methods = byName.get('couchdb_httpd_request_methods');
  assert.equal(methods?.type, 'COUNTER');
  assert.ok(Number(methods?.metrics.find((m) => m.labels?.method === 'GET')?.value) > 0);
  assert.ok(byName.get('couchdb_httpd_status_codes')?.metrics.some((m) => m.labels?.code === '200'));
  const rt = byName.get('couchdb_request_time_seconds');
  assert.equal(rt?.type, 'SUMMARY');
  assert.ok(Number(rt?.metrics[0]?.count) > 0);
  assert.deepEqual(Object.keys(rt?.metrics[0]?.quantiles ?? {}), ['0.5', '0.75', '0.9', '0.95', '0.99', '0.999']);
  assert.equal(byName.get('couchdb_open_databases')?.type, 'GAUGE');
  assert.equal(byName.get('couchdb_httpd_clients_requesting_changes')?.type, 'GAUGE');
  assert.equal(byName.get('couchdb_database_reads_total')?.type, 'COUNTER');
  assert.equal(byName.get('couchdb_couch_replicator_jobs_running')?.type, 'GAUGE');
  assert.equal(byName.get('couchdb_uptime_seconds')?.type, 'COUNTER');
  // Names are unique per family, as the format requires.
  assert.equal(byName.size, families.length);
});

const children: ChildNode[] = [];
after(async () => {
  for (const c of children) await c.stop();
});

test('persisted config survives a crash and restart; transient changes and plain passwords do not reach the disk', async () => {
  const node = await startChildNode({ admin: 'boss:bosspw' });
  children.push(node);
  const auth = { authorization: 'Basic ' + Buffer.from('boss:bosspw').toString('base64') };
  const put = (path: string, value: string, headers: Record<string, string> = {}) =>
    fetch(`${node.url}/_node/_local/_config/${path}`, { method: 'PUT', headers: { ...auth, ...headers }, body: JSON.stringify(value) });
  assert.equal((await put('persist_test/kept', 'yes')).status, 200);
  assert.equal((await put('persist_test/transient', 'no', { 'x-couch-persist': 'false' })).status, 200);
  assert.equal((await put('admins/second', 'secondpw')).status, 200);
  assert.equal((await put('chttpd_auth/timeout', '1234')).status, 200);
  const fileText = readFileSync(join(node.dir, CONFIG_FILE_NAME), 'utf8');
  assert.doesNotMatch(fileText, /secondpw|bosspw/, 'no clear password on disk');

  await node.restart(); // SIGKILL, then start on the same directory
  const section = (await (await fetch(`${node.url}/_node/_local/_config/persist_test`, { headers: auth })).json()) as Record<string, string>;
  assert.deepEqual(section, { kept: 'yes' });
  const second = await fetch(`${node.url}/_session`, { headers: { authorization: 'Basic ' + Buffer.from('second:secondpw').toString('base64') } });
  assert.deepEqual(((await second.json()) as { userCtx: unknown }).userCtx, { name: 'second', roles: ['_admin'] });
  const login = await fetch(`${node.url}/_session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'boss', password: 'bosspw' }) });
  assert.match(login.headers.get('set-cookie') ?? '', /Max-Age=1234;/, 'the persisted session timeout is in effect');
  const port = (await (await fetch(`${node.url}/_node/_local/_config/chttpd/port`, { headers: auth })).json()) as string;
  assert.equal(port, String(node.port), 'chttpd/port is the port the node listens on');
});

test('replicator/max_jobs and replicator/interval apply to running replications', async () => {
  const node = await startChildNode({ inMemory: true });
  children.push(node);
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(node.url + path, { method, headers: { 'content-type': 'application/json', ...headers }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const setCfg = (key: string, value: string) => call('PUT', `/_node/_local/_config/replicator/${key}`, value, { 'x-couch-persist': 'false' });
  for (const db of ['src', 'dst1', 'dst2']) assert.equal((await call('PUT', `/${db}`)).status, 201);
  assert.equal((await setCfg('max_jobs', '1')).status, 200);
  for (const [id, target] of [['r1', 'dst1'], ['r2', 'dst2']]) {
    assert.equal((await call('PUT', `/_replicator/${id}`, { source: `${node.url}/src`, target: `${node.url}/${target}`, continuous: true })).status, 201);
  }
  const states = async () => {
    const docs = (await call('GET', '/_scheduler/docs/_replicator')).body.docs as { doc_id: string; state: string }[];
    return Object.fromEntries(docs.map((d) => [d.doc_id, d.state]));
  };
  const until = async (want: (s: Record<string, string>) => boolean, what: string) => {
    const deadline = Date.now() + 15_000;
    let s = await states();
    while (!want(s)) {
      if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 50));
      s = await states();
    }
    return s;
  };
  const running = (s: Record<string, string>) => Object.keys(s).filter((k) => s[k] === 'running');
  const one = await until((s) => running(s).length === 1 && Object.values(s).includes('pending'), 'one job runs, one waits');
  await setCfg('max_jobs', '2');
  await until((s) => running(s).length === 2, 'a second slot starts the waiting job');
  await setCfg('max_jobs', '1');
  await until((s) => running(s).length === 1, 'one slot again: the newest job stops');
  // With a short interval the scheduler rotates: the waiting job gets its turn.
  await setCfg('interval', '300');
  const first = running(one)[0];
  const seen = new Set<string>();
  const deadline = Date.now() + 15_000;
  while (seen.size < 2 && Date.now() < deadline) {
    for (const id of running(await states())) seen.add(id);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual([...seen].sort(), ['r1', 'r2'], `both jobs ran in turn (first ${first})`);
  const stat = async (name: string) => (await call('GET', `/_node/_local/_stats/couch_replicator/jobs/${name}`)).body.value as number;
  assert.ok((await stat('adds')) >= 2, 'two jobs added');
  assert.ok((await stat('starts')) >= 3, 'started, a second slot, and a rotation');
  assert.ok((await stat('stops')) >= 2, 'stopped for max_jobs and rotated out');
  assert.equal(await stat('running'), 1);
});

test('replicator metrics: requests and answers, checkpoints, and completed document states', async () => {
  const node = await startNode({ port: 0, inMemory: true, admins: [{ name: 'rep', password: 'reppw' }], auth: { iterations: 1000 } });
  try {
    const headers = { authorization: 'Basic ' + Buffer.from('rep:reppw').toString('base64'), 'content-type': 'application/json' };
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(node.url + path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const stat = async (path: string) => (await call('GET', `/_node/_local/_stats/couch_replicator/${path}`)).body as { value: number; type: string; desc: string };
    assert.deepEqual(await stat('requests'), { value: 0, type: 'counter', desc: 'number of HTTP requests made by the replicator' });
    assert.equal((await call('PUT', '/rsrc')).status, 201);
    assert.equal((await call('POST', '/rsrc/_bulk_docs', { docs: [{ _id: 'x' }, { _id: 'y' }] })).status, 201);
    const src = `${node.url}/rsrc`.replace('//', '//rep:reppw@');
    const tgt = `${node.url}/rtgt`.replace('//', '//rep:reppw@');
    const one = await call('POST', '/_replicate', { source: src, target: tgt, create_target: true });
    assert.equal(one.status, 200);
    const requests = (await stat('requests')).value;
    assert.ok(requests > 3, `a replication makes requests (${requests})`);
    // Every request got an answer (the 404s of a first run's checkpoint lookups too).
    assert.equal((await stat('responses/success')).value + (await stat('responses/failure')).value, requests);
    assert.equal((await stat('responses/failure')).value, 0);
    assert.equal((await stat('checkpoints/success')).value, 1, 'the final checkpoint');
    assert.equal((await stat('workers_started')).value, 4, "CouchDB's default worker_processes for the one session");
    assert.deepEqual(await stat('checkpoints/failure'), { value: 0, type: 'counter', desc: 'number of failed checkpoint saves' });
    // A _replicator document that completes has its state written back, and counted.
    assert.equal((await call('PUT', '/_replicator/once', { source: src, target: `${node.url}/rtgt2`.replace('//', '//rep:reppw@'), create_target: true })).status, 201);
    const deadline = Date.now() + 15_000;
    while ((await stat('docs/completed_state_updates')).value < 1) {
      if (Date.now() > deadline) assert.fail('the _replicator document never completed');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await call('GET', '/_replicator/once')).body._replication_state, 'completed');
    assert.equal((await stat('docs/failed_state_updates')).value, 0);
    const prom = new Map(parsePrometheusTextFormat(await (await fetch(node.url + '/_node/_local/_prometheus', { headers })).text()).map((f) => [f.name, f]));
    assert.equal(prom.get('couchdb_couch_replicator_requests_total')?.type, 'COUNTER');
    assert.equal(prom.get('couchdb_couch_replicator_checkpoints_success_total')?.type, 'COUNTER');
  } finally {
    await node.close();
  }
});
