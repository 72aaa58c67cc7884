// The sandbox against well-behaved and hostile design documents. Expected
// behaviour is CouchDB's query server (share/server/*.js): emit/log/sum/toJSON/
// isArray exist, a map that throws skips that doc, VDU throws map to 403/401.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { DesignSandbox, SandboxPool, type DesignDoc } from './index.js';

const logs: string[] = [];
const logger = (_id: string, m: string): void => {
  logs.push(m);
};
const made: DesignSandbox[] = [];
function sandbox(ddoc: DesignDoc, opts: { timeoutMs?: number; memoryLimitMb?: number } = {}): DesignSandbox {
  const sb = new DesignSandbox(ddoc, { logger, ...opts });
  made.push(sb);
  return sb;
}
after(() => made.forEach((s) => s.dispose()));

function views(src: Record<string, string>): DesignDoc {
  const v: Record<string, { map: string }> = {};
  for (const [k, map] of Object.entries(src)) v[k] = { map };
  return { _id: '_design/t', views: v };
}

async function emits(sb: DesignSandbox, view: string, docs: unknown[]): Promise<unknown[]> {
  const res = await sb.map([view], docs);
  return res.map((perView) => perView[0]);
}

function isCouch(status: number, error: string, reason?: RegExp) {
  return (e: unknown): boolean => {
    const err = e as { status: number; error: string; reason: string };
    assert.equal(err.status, status);
    assert.equal(err.error, error);
    if (reason) assert.match(err.reason, reason);
    return true;
  };
}

test('CouchDB globals: emit, sum, toJSON, isArray, log', async () => {
  const sb = sandbox(
    views({
      a: 'function(doc){ emit(doc._id, sum(doc.v)); emit(toJSON(doc.v), isArray(doc.v)); log("saw " + doc._id); emit(doc.missing); }',
    }),
  );
  logs.length = 0;
  assert.deepEqual(await emits(sb, 'a', [{ _id: 'x', v: [1, 2, 3] }]), [
    [
      ['x', 6],
      ['[1,2,3]', true],
      [null, null],
    ],
  ]);
  assert.deepEqual(logs, ['saw x']);
});

test('several views run over one batch; results are per doc, per view', async () => {
  const sb = sandbox(views({ a: 'function(d){ emit(d.n, 1) }', b: 'function(d){ if (d.n > 1) emit(-d.n, 2) }' }));
  assert.deepEqual(await sb.map(['a', 'b'], [{ n: 1 }, { n: 2 }]), [
    [[[1, 1]], []],
    [[[2, 1]], [[-2, 2]]],
  ]);
});

test('a map that throws on one doc skips only that doc, and logs it', async () => {
  const sb = sandbox(views({ a: 'function(d){ if (d.bad) throw new Error("nope"); emit(d._id, null) }' }));
  logs.length = 0;
  assert.deepEqual(await emits(sb, 'a', [{ _id: 'a' }, { _id: 'b', bad: true }, { _id: 'c' }]), [
    [['a', null]],
    [],
    [['c', null]],
  ]);
  assert.equal(logs.length, 1);
  assert.match(logs[0] ?? '', /nope.*with doc\._id b/);
});

test('accidental globals (sloppy mode) work as in CouchDB', async () => {
  const sb = sandbox(views({ a: 'function(d){ for (i = 0; i < 2; i++) emit(i, null); }' }));
  assert.deepEqual(await emits(sb, 'a', [{}]), [
    [
      [0, null],
      [1, null],
    ],
  ]);
});

test('Date and Math.random are allowed', async () => {
  const sb = sandbox(views({ a: 'function(d){ emit(typeof Date.now(), Math.random() < 1); emit(new Date(0).toISOString(), null) }' }));
  assert.deepEqual(await emits(sb, 'a', [{}]), [
    [
      ['number', true],
      ['1970-01-01T00:00:00.000Z', null],
    ],
  ]);
});

test('no Node object is reachable: process, require("fs"), Function constructor escapes', async () => {
  const sb = sandbox(
    views({
      a: `function(d){
        emit('process', typeof process);
        var r1; try { r1 = globalThis.constructor.constructor('return typeof process')(); } catch (e) { r1 = 'threw'; }
        emit('global ctor', r1);
        var r2; try { r2 = this.constructor.constructor('return typeof require + typeof module + typeof Buffer')(); } catch (e) { r2 = 'threw'; }
        emit('this ctor', r2);
        var r3; try { require('fs'); r3 = 'loaded'; } catch (e) { r3 = e[1]; }
        emit('require fs', r3);
        emit('timers', typeof setTimeout + typeof setInterval + typeof queueMicrotask + typeof fetch);
      }`,
    }),
  );
  assert.deepEqual(await emits(sb, 'a', [{}]), [
    [
      ['process', 'undefined'],
      ['global ctor', 'threw'],
      ['this ctor', 'threw'],
      ['require fs', 'invalid_require_path'],
      ['timers', 'undefinedundefinedundefinedundefined'],
    ],
  ]);
});

test('no code from strings (couchjs without -eval): eval and every Function constructor throw EvalError', async () => {
  const sb = sandbox(
    views({
      a: `function(d){
        var tries = {
          'eval': function () { return eval('1 + 1'); },
          'Function': function () { return Function('return 1')(); },
          'new Function': function () { return new Function('return 1')(); },
          'emit.constructor': function () { return emit.constructor('return this')(); },
          'generator': function () { return (function* () {}).constructor('yield 1'); },
          'async': function () { return (async function () {}).constructor('return 1'); },
          'async generator': function () { return (async function* () {}).constructor('yield 1'); },
        };
        for (var k in tries) {
          var r; try { tries[k](); r = 'ran'; } catch (e) { r = e instanceof EvalError ? 'EvalError' : String(e); }
          emit(k, r);
        }
        emit('instanceof', [emit instanceof Function, typeof Function.prototype.call]);
      }`,
      // CouchDB's view_sandboxing_test: the map throws for the doc, which then has no rows.
      b: `function(doc) {
        var glob = emit.constructor('return this')();
        emit(doc._id, null);
      }`,
    }),
  );
  const blocked = ['eval', 'Function', 'new Function', 'emit.constructor', 'generator', 'async', 'async generator'].map((k) => [k, 'EvalError']);
  assert.deepEqual(await emits(sb, 'a', [{}]), [[...blocked, ['instanceof', [true, 'function']]]]);
  assert.deepEqual(await emits(sb, 'b', [{ _id: 'x' }]), [[]]);
});

test('prototype pollution by one doc does not reach the next doc', async () => {
  const sb = sandbox(
    views({
      a: `function(d){
        if (d.first) { Object.prototype.polluted = 'yes'; Array.prototype.push = function(){}; JSON.stringify = null; }
        emit(({}).polluted === undefined, [].concat([1]).length);
      }`,
    }),
  );
  assert.deepEqual(await emits(sb, 'a', [{ first: true }, {}]), [[[true, 1]], [[true, 1]]]);
});

test('a map cannot mutate the doc another view of the same ddoc sees, nor replace emit', async () => {
  const sb = sandbox(
    views({
      a: 'function(d){ d.x = 1; d.tags.push("evil"); emit = function(){}; }',
      b: 'function(d){ emit(d.x === undefined, d.tags.length) }',
    }),
  );
  const res = await sb.map(['a', 'b'], [{ tags: ['t'] }]);
  assert.deepEqual(res, [[[], [[true, 1]]]]);
});

test('another ddoc is unaffected by a polluting ddoc', async () => {
  const evil = sandbox(views({ a: 'function(d){ Object.prototype.x = 1; String.prototype.trim = null; emit(1, 1) }' }));
  const good = sandbox(views({ a: 'function(d){ emit(({}).x === undefined, " a ".trim()) }' }));
  await evil.map(['a'], [{}]);
  assert.deepEqual(await emits(good, 'a', [{}]), [[[true, 'a']]]);
});

test('an infinite loop fails with 500 os_process_error, and the sandbox recovers', async () => {
  const sb = sandbox(views({ a: 'function(d){ if (d.loop) while (true) {} emit(1, 1) }' }), { timeoutMs: 150 });
  await assert.rejects(sb.map(['a'], [{ loop: true }]), isCouch(500, 'os_process_error', /timed out after 150 ms/));
  assert.deepEqual(await emits(sb, 'a', [{}]), [[[1, 1]]]);
});

test('a memory bomb fails with 500 os_process_error; the process and other isolates keep working', async () => {
  const other = sandbox(views({ a: 'function(d){ emit(d.n, null) }' }));
  await other.map(['a'], [{ n: 1 }]);
  const sb = sandbox(views({ a: 'function(d){ var a = []; while (true) a.push(new Array(1e5).fill(d)); }' }), {
    memoryLimitMb: 16,
  });
  await assert.rejects(sb.map(['a'], [{}]), isCouch(500, 'os_process_error', /memory limit/));
  assert.deepEqual(await emits(other, 'a', [{ n: 2 }]), [[[2, null]]]);
});

test('a function that does not compile is a 400 compilation_error', async () => {
  const sb = sandbox(views({ a: 'function(d){ emit(' }));
  await assert.rejects(sb.map(['a'], [{}]), isCouch(400, 'compilation_error'));
  const notFn = sandbox(views({ a: '42' }));
  await assert.rejects(notFn.check([['views', 'a', 'map']]), isCouch(400, 'compilation_error', /does not eval to a function/));
});

test('require() loads CommonJS modules from views.lib, as CouchDB does', async () => {
  const sb = sandbox({
    _id: '_design/lib',
    views: {
      lib: { util: 'exports.double = function(x){ return 2 * x; }' },
      a: { map: 'function(d){ emit(require("views/lib/util").double(d.n), null) }' },
    } as never,
  });
  assert.deepEqual(await emits(sb, 'a', [{ n: 21 }]), [[[42, null]]]);
});

test('JS reduce and rereduce, errors give null as in CouchDB', async () => {
  const sb = sandbox({
    _id: '_design/r',
    views: {
      a: { map: 'function(d){}', reduce: 'function(k, v, re){ if (v[0] === "bad") throw "x"; return re ? sum(v) * 10 : sum(v); }' },
    },
  });
  const out = await sb.reduce('a', [
    { keys: [[1, 'a'], [2, 'b']], values: [1, 2], rereduce: false },
    { keys: null, values: [3, 4], rereduce: true },
    { keys: [[1, 'a']], values: ['bad'], rereduce: false },
  ]);
  assert.deepEqual(out, [3, 70, null]);
});

test('validate_doc_update: forbidden → 403, unauthorized → 401, pass → ok, this = ddoc', async () => {
  const sb = sandbox({
    _id: '_design/v',
    owner: 'bob',
    validate_doc_update: `function(newDoc, oldDoc, userCtx, secObj){
      if (newDoc.type === 'forbidden') throw({forbidden: 'not allowed'});
      if (!userCtx.name) throw({unauthorized: 'log in'});
      if (newDoc.crash) null.x;
      if (newDoc.owner !== this.owner) throw({forbidden: 'owner must be ' + this.owner});
    }`,
  });
  await assert.rejects(sb.validate({ type: 'forbidden' }, null, { name: 'x' }, {}), isCouch(403, 'forbidden', /^not allowed$/));
  await assert.rejects(sb.validate({}, null, { name: null }, {}), isCouch(401, 'unauthorized', /^log in$/));
  await assert.rejects(sb.validate({ crash: true }, null, { name: 'a' }, {}), isCouch(500, 'unknown_error'));
  await assert.rejects(sb.validate({ owner: 'eve' }, null, { name: 'a' }, {}), isCouch(403, 'forbidden', /bob/));
  await sb.validate({ owner: 'bob' }, { owner: 'bob' }, { name: 'a' }, {});
});

test('filters run batched; the _view filter passes docs the map emits for', async () => {
  const sb = sandbox({
    _id: '_design/f',
    filters: { typed: 'function(doc, req){ return doc.type === req.query.type; }' },
    views: { odd: { map: 'function(d){ if (d.n % 2) emit(d.n, null) }' } },
  });
  assert.deepEqual(await sb.filter('typed', [{ type: 'a' }, { type: 'b' }], { query: { type: 'a' } }), [true, false]);
  assert.deepEqual(await sb.filterView('odd', [{ n: 1 }, { n: 2 }]), [true, false]);
  await assert.rejects(sb.filter('nope', [{}], {}), isCouch(404, 'not_found'));
});

test('SandboxPool reuses one isolate per ddoc code and evicts least recently used', async () => {
  const pool = new SandboxPool({ isolatesMax: 2, logger });
  try {
    const d1 = views({ a: 'function(d){ emit(1, 1) }' });
    const s1 = pool.get(d1);
    assert.equal(pool.get({ ...d1, _rev: '2-x' }), s1); // same code, new rev: same isolate
    await s1.map(['a'], [{}]);
    assert.equal(s1.live, true);
    pool.get(views({ a: 'function(d){ emit(2, 2) }' }));
    pool.get(views({ a: 'function(d){ emit(3, 3) }' }));
    assert.equal(pool.size, 2);
    assert.equal(s1.live, false); // evicted and disposed
    assert.deepEqual(await emits(s1, 'a', [{}]), [[[1, 1]]]); // still usable by a holder
  } finally {
    pool.close();
  }
});
