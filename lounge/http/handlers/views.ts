// View and Mango endpoints: `/_design/d/_view/v` (GET, POST with `keys` or `queries`),
// `/_design/d/_info`, `_find`, `_index`, `_explain`. Merging is in view-query/ and merge/.

import type { Handler, Req } from '../app.js';
import type { Route } from '../route-path.js';
import type { Range } from '../../placement/ranges.js';
import { badRequest, LoungeError, methodNotAllowed } from '../../errors/lounge-error.js';
import { dbPath } from '../../upstream/node-client.js';
import { queryView } from '../../view-query/view-query.js';
import { openEach } from '../../reads/fan-out.js';
import { everyShard } from '../../db/lifecycle.js';
import { mergeSorted } from '../../merge/k-way-merge.js';
import { window } from '../../merge/view-rows.js';
import { decodeBookmark, encodeBookmark, fieldsForMerge, findOrder, parseSort, stripFields } from '../../merge/find-order.js';
import { readJsonObject, requireJsonType } from '../body.js';
import { send, sendRows } from '../respond.js';

/** Mango's default page size (mango_opts: limit 25). */
const FIND_DEFAULT_LIMIT = 25;

export const viewHandler: Handler<'view'> = async ({ ctx, lounge, route }) => {
  const q = new URLSearchParams(ctx.querystring);
  let keys: unknown[] | undefined;
  if (ctx.method === 'POST') {
    requireJsonType(ctx);
    const body = await readJsonObject(ctx);
    if (Array.isArray(body.queries)) {
      const results: unknown[] = [];
      for (const one of body.queries) {
        if (typeof one !== 'object' || one === null) throw badRequest('each query must be an object');
        const qq = new URLSearchParams(q);
        let kk: unknown[] | undefined;
        for (const [k, v] of Object.entries(one as Record<string, unknown>)) {
          if (k === 'keys') kk = v as unknown[];
          else qq.set(k, typeof v === 'string' && !isJsonParam(k) ? v : JSON.stringify(v));
        }
        const a = await queryView(lounge, { db: route.db, ddoc: route.ddoc, view: route.view, q: qq, keys: kk });
        let text = a.head;
        let first = true;
        for await (const r of a.rows) {
          text += (first ? '' : ',') + r;
          first = false;
        }
        results.push(JSON.parse(text + a.tail()));
      }
      send(ctx, 200, { results });
      return;
    }
    if (body.keys !== undefined) {
      if (!Array.isArray(body.keys)) throw new LoungeError(400, 'query_parse_error', '`keys` member must be an array.');
      keys = body.keys;
    }
    for (const [k, v] of Object.entries(body)) if (k !== 'keys') q.set(k, typeof v === 'string' && !isJsonParam(k) ? v : JSON.stringify(v));
  } else if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw methodNotAllowed('GET,POST,HEAD');
  const answer = await queryView(lounge, { db: route.db, ddoc: route.ddoc, view: route.view, q, keys });
  sendRows(ctx, 200, answer.head, answer.rows, answer.tail);
};

/** View parameters whose values are JSON (a string value must stay quoted). */
function isJsonParam(k: string): boolean {
  return ['key', 'keys', 'startkey', 'endkey', 'start_key', 'end_key'].includes(k);
}

export const designInfoHandler: Handler<'designInfo'> = async ({ ctx, lounge, route }) => {
  if (ctx.method !== 'GET') throw methodNotAllowed('GET');
  const infos = await Promise.all(
    lounge.map.ranges.map(async (range) => {
      const { body } = await lounge.reader.json<{ view_index?: Record<string, unknown> }>(route.db, range, () => ({
        method: 'GET',
        path: `${dbPath(lounge.map.shardName(range, route.db))}/_design/${encodeURIComponent(route.ddoc)}/_info`,
      }));
      return body.view_index ?? {};
    }),
  );
  const first = infos[0] ?? {};
  const sizes = { file: 0, external: 0, active: 0 };
  for (const i of infos) {
    const s = (i.sizes ?? {}) as Record<string, number>;
    sizes.file += s.file ?? 0;
    sizes.external += s.external ?? 0;
    sizes.active += s.active ?? 0;
  }
  send(ctx, 200, {
    name: route.ddoc,
    view_index: {
      ...first,
      sizes,
      updater_running: infos.some((i) => i.updater_running === true),
      compact_running: infos.some((i) => i.compact_running === true),
      waiting_clients: infos.reduce((a, i) => a + (typeof i.waiting_clients === 'number' ? i.waiting_clients : 0), 0),
    },
  });
};

type Special = Req<Extract<Route, { kind: 'dbSpecial' }>>;

/** `POST /db/_find`: every range with the same selector; docs merged by the sort; skip/limit at the proxy. */
export async function find(req: Special): Promise<void> {
  const { ctx, lounge, route } = req;
  if (ctx.method !== 'POST') throw methodNotAllowed('POST');
  requireJsonType(ctx);
  const body = await readJsonObject(ctx);
  const sort = parseSort(body.sort);
  const limit = body.limit === undefined ? FIND_DEFAULT_LIMIT : body.limit;
  const skip0 = body.skip === undefined ? 0 : body.skip;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) throw badRequest('Invalid limit');
  if (typeof skip0 !== 'number' || !Number.isInteger(skip0) || skip0 < 0) throw badRequest('Invalid skip');
  const skip = skip0 + decodeBookmark(body.bookmark);
  const { ask, strip } = fieldsForMerge(body.fields, sort);
  // Shards always report their stats: the proxy needs them to word the scan warning.
  const shardBody: Record<string, unknown> = { ...body, skip: 0, limit: skip + limit, execution_stats: true };
  delete shardBody.bookmark;
  if (ask) shardBody.fields = ask;
  const payload = JSON.stringify(shardBody);
  const opened = await openEach(
    lounge,
    route.db,
    lounge.map.ranges,
    (range: Range) => ({ method: 'POST', path: `${dbPath(lounge.map.shardName(range, route.db))}/_find`, headers: { 'content-type': 'application/json' }, body: payload, timeoutMs: lounge.config.timeouts.viewRequestMs }),
    ['docs'],
  );
  const merged = window(mergeSorted(opened.map((o) => o.rows), findOrder(sort)), skip, limit);
  let sent = 0;
  async function* texts(): AsyncGenerator<string> {
    for await (const { item } of merged) {
      sent++;
      yield strip.length > 0 ? JSON.stringify(stripFields(item.row as Record<string, unknown>, strip)) : item.text;
    }
  }
  const tail = () => {
    const stats = opened.map((o) => o.rows.meta.execution_stats).filter((s): s is Record<string, number> => typeof s === 'object' && s !== null);
    const sum: Record<string, number> = {};
    for (const s of stats) for (const [k, v] of Object.entries(s)) if (typeof v === 'number') sum[k] = k === 'execution_time_ms' ? Math.max(sum[k] ?? 0, v) : (sum[k] ?? 0) + v;
    sum.results_returned = sent;
    let text = `],"bookmark":${JSON.stringify(encodeBookmark(skip + sent))}`;
    const warning = findWarning(opened.map((o) => o.rows.meta.warning), sum);
    if (warning !== undefined) text += `,"warning":${JSON.stringify(warning)}`;
    if (body.execution_stats === true) text += `,"execution_stats":${JSON.stringify(sum)}`;
    return text + '}';
  };
  sendRows(ctx, 200, '{"docs":[', texts(), tail);
}

/** mango's `index_scan_warning_threshold`: docs examined per result before the scan warning. */
const SCAN_WARNING_RATIO = 10;
const SCAN_WARNING = 'The number of documents examined is high in proportion to the number of results returned. Consider adding a more specific index to improve this.';

/**
 * The warning of a merged `_find`, as CouchDB's coordinator words it: the shards' own lines
 * (the same index is chosen everywhere) once each, and the scan warning decided from the
 * summed statistics rather than any one shard's.
 */
function findWarning(shardWarnings: unknown[], sum: Record<string, number>): string | undefined {
  const lines: string[] = [];
  for (const w of shardWarnings) {
    if (typeof w !== 'string') continue;
    for (const line of w.split('\n')) if (line !== SCAN_WARNING && !lines.includes(line)) lines.push(line);
  }
  const examined = sum.total_docs_examined ?? 0;
  const returned = sum.results_returned ?? 0;
  if ((returned === 0 ? examined : examined / returned) > SCAN_WARNING_RATIO) lines.push(SCAN_WARNING);
  return lines.length > 0 ? lines.join('\n') : undefined;
}

/** `_index`: list from one range; create on one range then copy the design doc everywhere; delete on every shard. */
export async function indexes(req: Special): Promise<void> {
  const { ctx, lounge, route } = req;
  const first = lounge.map.ranges[0] as Range;
  const shard = lounge.map.shardName(first, route.db);
  if (ctx.method === 'GET') {
    const { body } = await lounge.reader.json<unknown>(route.db, first, () => ({ method: 'GET', path: `${dbPath(shard)}/_index` }));
    send(ctx, 200, body);
    return;
  }
  if (ctx.method === 'POST') {
    requireJsonType(ctx);
    const body = await readJsonObject(ctx);
    const { status, body: answer } = await lounge.reader.json<{ id?: string; result?: string }>(route.db, first, () => ({
      method: 'POST',
      path: `${dbPath(shard)}/_index`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }));
    if (typeof answer.id === 'string') {
      // The node made (or found) the design doc on one shard; every shard needs it,
      // its home range first of all.
      await copyFromRange(lounge, route.db, first, answer.id);
      lounge.designWritten(route.db, answer.id);
    }
    send(ctx, status, answer);
    return;
  }
  if (ctx.method === 'DELETE') {
    const sub = '/_index/' + route.rest.map(encodeURIComponent).join('/');
    await everyShard(lounge, route.db, 'DELETE', sub);
    send(ctx, 200, { ok: true });
    return;
  }
  throw methodNotAllowed('GET,POST,DELETE');
}

/** Copies a design doc from the shard of `range` (where it was just made) to every shard. */
async function copyFromRange(lounge: Req['lounge'], db: string, range: Range, id: string): Promise<void> {
  const { body } = await lounge.reader.json<Record<string, unknown>>(db, range, () => ({
    method: 'GET',
    path: `${dbPath(lounge.map.shardName(range, db))}/${id.startsWith('_design/') ? '_design/' + encodeURIComponent(id.slice(8)) : encodeURIComponent(id)}?revs=true&attachments=true`,
  }));
  const payload = JSON.stringify({ docs: [body], new_edits: false });
  await Promise.all(
    lounge.map.ranges.flatMap((r) =>
      lounge.map.nodesOf(r).map(async (node) => {
        try {
          const res = await lounge.client.request(node, { method: 'POST', path: `${dbPath(lounge.map.shardName(r, db))}/_bulk_docs`, headers: { 'content-type': 'application/json' }, body: payload });
          res.discard();
        } catch {
          lounge.hints.missed(db, r, node);
        }
      }),
    ),
  );
}

export async function explain(req: Special): Promise<void> {
  const { ctx, lounge, route } = req;
  if (ctx.method !== 'POST') throw methodNotAllowed('POST');
  requireJsonType(ctx);
  const body = await readJsonObject(ctx);
  const first = lounge.map.ranges[0] as Range;
  const { body: answer } = await lounge.reader.json<Record<string, unknown>>(route.db, first, () => ({
    method: 'POST',
    path: `${dbPath(lounge.map.shardName(first, route.db))}/_explain`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }));
  send(ctx, 200, { ...answer, dbname: route.db });
}
