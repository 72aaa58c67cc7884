// Dispatches each request to a small router that holds only the routes which could match its
// path. @koa/router tests every route's regexp on every request; with ~90 routes that was about
// a tenth of a single-doc PUT's CPU. Routes here are plain patterns (`/:db/_design/:ddoc`,
// `/:db/:docid/*att`), so whether one can match depends on the path's shape: how many segments it
// has, and which of its segments equal a literal some route has at that position.
//
// A request's shape is its segment count plus, per position, its (lower-cased: routes are case
// insensitive) segment if some route has that literal there, else `*`. The routes for a shape are
// those whose pattern fits it, in registration order, so the chosen router answers exactly as the
// full one would. A route whose pattern this file cannot read is kept in every shape.

import Router from '@koa/router';
import type Koa from 'koa';

type Token = { kind: 'literal'; text: string } | { kind: 'param' } | { kind: 'rest' };

/** A route pattern as segments, or null when it is not one this index understands. */
type Pattern = Token[] | null;

/** Shapes kept at most; paths are made by clients, so the cache of routers has a bound. */
const SHAPES_CACHED_MAX = 1024;

interface Layer {
  path: string | RegExp;
}

export function parsePattern(path: string | RegExp): Pattern {
  if (typeof path !== 'string' || !path.startsWith('/')) return null;
  if (path === '/') return [];
  const tokens: Token[] = [];
  const parts = path.slice(1).split('/');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (/^:[A-Za-z_$][\w$]*$/.test(part)) tokens.push({ kind: 'param' });
    else if (/^\*[A-Za-z_$][\w$]*$/.test(part) && i === parts.length - 1) tokens.push({ kind: 'rest' });
    else if (part !== '' && !/[:*?+(){}[\]\\]/.test(part)) tokens.push({ kind: 'literal', text: part.toLowerCase() });
    else return null;
  }
  return tokens;
}

/** Whether a route with this pattern could match a path of this shape. */
function fits(pattern: Pattern, count: number, parts: readonly string[]): boolean {
  if (pattern === null) return true;
  const rest = pattern.length > 0 && (pattern[pattern.length - 1] as Token).kind === 'rest';
  if (rest ? count < pattern.length : count !== pattern.length) return false;
  return pattern.every((t, i) => t.kind !== 'literal' || parts[i] === t.text);
}

/**
 * The router's routes, served through per-shape routers. Routes must all be registered before
 * the first request; the index is built from `router.stack` then.
 */
export function routeIndex(router: Router): Koa.Middleware {
  let index: ((path: string) => Shape) | undefined;
  return (ctx, next) => {
    index ??= shapeIndex(router);
    return index(ctx.path).routes(ctx, next);
  };
}

interface Shape {
  /** The routes that fit the shape, in registration order. */
  router: Router;
  routes: Koa.Middleware;
}

/** For a request path, the router holding the routes that fit its shape. */
export function shapeIndex(router: Router): (path: string) => Shape {
  const layers = router.stack as unknown as Layer[];
  const patterns = layers.map((l) => parsePattern(l.path));
  // Per position, the literals some route has there; a longer path is one shape past the longest.
  const literals: Set<string>[] = [];
  patterns.forEach((p) =>
    p?.forEach((t, i) => {
      if (t.kind === 'literal') (literals[i] ??= new Set()).add(t.text);
    }),
  );
  const positions = Math.max(0, ...patterns.map((p) => p?.length ?? 0));
  const shapes = new Map<string, Shape>();
  return (path) => {
    // The shape's key: segment count (capped), then per position the literal or `*`. One trailing
    // slash is optional in every pattern, so it does not count.
    const stop = path.length > 1 && path.endsWith('/') ? path.length - 1 : path.length;
    let count = 0;
    let key = '';
    for (let from = 1; stop > 1 && from <= stop && count <= positions; count++) {
      let to = path.indexOf('/', from);
      if (to === -1 || to > stop) to = stop;
      if (count < positions) {
        const lower = path.slice(from, to).toLowerCase();
        key += literals[count]?.has(lower) ? '/' + lower : '/*';
      }
      from = to + 1;
    }
    key = count + key;
    let shape = shapes.get(key);
    if (shape === undefined) {
      const parts = key.split('/').slice(1);
      const sub = new Router();
      for (let i = 0; i < layers.length; i++) {
        if (fits(patterns[i] as Pattern, count, parts)) sub.stack.push(layers[i] as never);
      }
      shape = { router: sub, routes: sub.routes() as Koa.Middleware };
      if (shapes.size < SHAPES_CACHED_MAX) shapes.set(key, shape);
    }
    return shape;
  };
}
