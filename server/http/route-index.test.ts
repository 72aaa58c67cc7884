// The route index must choose exactly the routes the full router would: same routes, same order,
// for every path and method, or a request would reach the wrong handler.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import Router from '@koa/router';
import { routesOf } from './app.js';
import { parsePattern, shapeIndex } from './route-index.js';
import { openNode } from '../node.js';

// The node's own routes, registered a second time on a router of their own.
const node = await openNode({ inMemory: true });
after(() => node.shutdown());
const router = routesOf(node.services);
const index = shapeIndex(router);

const literals = [...new Set(router.stack.flatMap((l) => (typeof l.path === 'string' ? l.path.split('/') : [])))].filter(
  (p) => p !== '' && !p.startsWith(':') && !p.startsWith('*'),
);
const segment = fc.oneof(
  fc.constantFrom(...literals),
  fc.constantFrom(...literals).map((l) => l.toUpperCase()),
  fc.constantFrom('db', 'doc', '_users', '_design', '_local', 'a%2Fb', '', 'x.txt', '_unknown', 'DB'),
  fc.string({ maxLength: 6 }).map((s) => encodeURIComponent(s)),
);
const requestPath = fc
  .tuple(fc.array(segment, { maxLength: 8 }), fc.boolean())
  .map(([segments, slash]) => '/' + segments.join('/') + (slash && segments.length > 0 ? '/' : ''));
const method = fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY', 'OPTIONS');

function matched(r: Router, path: string, m: string): { path: unknown[]; pathAndMethod: unknown[] } {
  const { path: p, pathAndMethod } = r.match(path, m);
  return { path: p, pathAndMethod };
}

test('every path and method matches the same routes, in the same order, as the full router', () => {
  fc.assert(
    fc.property(requestPath, method, (path, m) => {
      assert.deepEqual(matched(index(path).router, path, m), matched(router, path, m), `${m} ${path}`);
    }),
    { numRuns: 20_000 },
  );
});

test('the hot paths reach only a few routes', () => {
  assert.ok(index('/db/doc').router.stack.length <= 12, `${index('/db/doc').router.stack.length} routes for /db/doc`);
  assert.ok(index('/db/_bulk_docs').router.stack.length <= 12);
  assert.ok(router.stack.length > 60);
});

test('patterns: params, a final wildcard and literals are read; anything else is kept everywhere', () => {
  assert.deepEqual(parsePattern('/'), []);
  assert.deepEqual(parsePattern('/:db/_All_Docs'), [{ kind: 'param' }, { kind: 'literal', text: '_all_docs' }]);
  assert.deepEqual(parsePattern('/:db/:docid/*att'), [{ kind: 'param' }, { kind: 'param' }, { kind: 'rest' }]);
  assert.equal(parsePattern('/*rest/x'), null);
  assert.equal(parsePattern('/:db{/:id}'), null);
  assert.equal(parsePattern(/^\/x/), null);
});

test('a route the index cannot read is tried for every path', () => {
  const r = new Router();
  r.get('/:db/_all_docs', () => undefined);
  r.get('/:a{/:b}', () => undefined);
  const shapes = shapeIndex(r);
  assert.equal(shapes('/db/_all_docs').router.stack.length, 2);
  assert.equal(shapes('/x').router.stack.length, 1);
  assert.deepEqual(matched(shapes('/x/y').router, '/x/y', 'GET'), matched(r, '/x/y', 'GET'));
});
