// The elastic lounge's admin API (server admins only):
//   PUT    /_lounge/nodes/{id}  {"url": ...}        add a node holding nothing yet
//   DELETE /_lounge/nodes/{id}                      drain it (move its replicas away), then remove it
//   POST   /_lounge/moves       {"range","from","to"} one move
//   GET    /_lounge/moves                           every move and split with its state
//   POST   /_lounge/rebalance                       even out replicas per node
//   POST   /_lounge/split       {"range"}           split a range in two
// Requests that start work answer 202 with the moves they planned; progress is read from
// `GET /_lounge/moves`.

import type { Req } from '../app.js';
import { LoungeError, notFound } from '../../errors/lounge-error.js';
import { readJsonObject } from '../body.js';
import { send } from '../respond.js';

function methodNotAllowed(allowed: string): never {
  throw new LoungeError(405, 'method_not_allowed', `Only ${allowed} allowed`);
}

function stringField(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v === '') throw new LoungeError(400, 'bad_request', `"${field}" must be a non-empty string`);
  return v;
}

/** Handles `/_lounge/{nodes,moves,rebalance,split}`; returns false for other `/_lounge/` paths. */
export async function elasticHandler(req: Req, rest: string[]): Promise<boolean> {
  const { ctx, lounge } = req;
  const elastic = lounge.elastic;
  const method = ctx.method;
  switch (rest[0]) {
    case 'nodes': {
      if (rest.length === 1) {
        if (method !== 'GET') methodNotAllowed('GET');
        send(ctx, 200, { nodes: Object.fromEntries(Object.entries(lounge.config.nodes).map(([id, n]) => [id, { url: n.url, ranges: lounge.map.rangesOfNode(id).map((r) => r.name), draining: lounge.config.state.draining.includes(id) }])) });
        return true;
      }
      if (rest.length !== 2) throw notFound();
      const id = rest[1] as string;
      if (method === 'PUT') {
        const body = await readJsonObject(ctx);
        await elastic.addNode(id, stringField(body, 'url'));
        send(ctx, 201, { ok: true, id, url: lounge.config.nodes[id]?.url, mapEpoch: lounge.config.mapEpoch });
        return true;
      }
      if (method === 'DELETE') {
        const moves = elastic.removeNode(id);
        send(ctx, 202, { ok: true, id, moves });
        return true;
      }
      if (method === 'GET') {
        const n = lounge.config.nodes[id];
        if (!n) throw notFound();
        send(ctx, 200, { id, url: n.url, ranges: lounge.map.rangesOfNode(id).map((r) => r.name), draining: lounge.config.state.draining.includes(id) });
        return true;
      }
      methodNotAllowed('GET,PUT,DELETE');
    }
    case 'moves': {
      if (rest.length !== 1) throw notFound();
      if (method === 'GET' || method === 'HEAD') {
        send(ctx, 200, { mapEpoch: lounge.config.mapEpoch, moves: elastic.list() });
        return true;
      }
      if (method !== 'POST') methodNotAllowed('GET,HEAD,POST');
      const body = await readJsonObject(ctx);
      const move = elastic.move(stringField(body, 'range'), stringField(body, 'from'), stringField(body, 'to'));
      send(ctx, 202, { ok: true, moves: [move] });
      return true;
    }
    case 'rebalance': {
      if (rest.length !== 1) throw notFound();
      if (method !== 'POST') methodNotAllowed('POST');
      send(ctx, 202, { ok: true, moves: elastic.rebalance() });
      return true;
    }
    case 'split': {
      if (rest.length !== 1) throw notFound();
      if (method !== 'POST') methodNotAllowed('POST');
      const body = await readJsonObject(ctx);
      send(ctx, 202, { ok: true, moves: [elastic.split(stringField(body, 'range'))] });
      return true;
    }
    default:
      return false;
  }
}
