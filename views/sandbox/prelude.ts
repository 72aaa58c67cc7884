// The JavaScript runtime that runs *inside* each design document's isolate.
//
// It plays the role of CouchDB's query server (share/server/*.js): it compiles
// the design document's function source strings lazily, provides the globals
// CouchDB gives user code (emit, log, sum, toJSON, isArray, require for the
// ddoc's own CommonJS modules), and exposes batch entry points the host calls
// with one JSON string in and one JSON string out.
//
// Guarantees, all established before any user code runs:
// - every intrinsic (Object, Array.prototype, JSON, Function, iterator and
//   generator prototypes, ...) is deep-frozen and bound non-writable on the
//   global, so a map that pollutes a prototype or replaces JSON cannot affect the
//   next document, and the runtime's own captured intrinsics cannot be swapped;
// - each document is deep-frozen before the map functions see it (CouchDB seals
//   documents too), so one view cannot change what the next view of the same
//   ddoc sees;
// - the global object itself stays extensible, because CouchDB user code often
//   relies on sloppy-mode accidental globals (`for (i = 0; ...)`);
// - no host object is ever reachable: the host passes and receives strings only.
//
// It is kept as a plain string (not a TS function) so no compiler helper can leak
// into the isolate. It is evaluated with `evalClosure`, `$0` = the ddoc JSON,
// `$1` = limits, and returns the API object.

export const PRELUDE_SOURCE = String.raw`
'use strict';
var ddocJson = $0;
var limits = $1;
var g = globalThis;
var indirectEval = (0, eval);
var JSONparse = JSON.parse;
var JSONstringify = JSON.stringify;
var freeze = Object.freeze;
var isFrozen = Object.isFrozen;
var getProto = Object.getPrototypeOf;
var ownKeys = Reflect.ownKeys;
var getDesc = Object.getOwnPropertyDescriptor;
var defProp = Object.defineProperty;
var objKeys = Object.keys;
var apply = Reflect.apply;
var objToString = Object.prototype.toString;
var hasOwn = Object.prototype.hasOwnProperty;
var StringFn = String;
var ArrayIsArray = Array.isArray;
var WeakSetCtor = WeakSet;
var wsHas = WeakSet.prototype.has;
var wsAdd = WeakSet.prototype.add;
var arrPush = Array.prototype.push;
var arrJoin = Array.prototype.join;
var strSplit = String.prototype.split;
var strSlice = String.prototype.slice;
var strLastIndexOf = String.prototype.lastIndexOf;

var ddoc = JSONparse(ddocJson);
var logs = [];
var emitBuffer = null;
var emitted = false;

function push(arr, v) { arr.push(v); }

function describe(err) {
  try {
    if (err !== null && typeof err === 'object' && typeof err.name === 'string' && typeof err.message === 'string') {
      return '(new ' + err.name + '(' + JSONstringify(err.message) + '))';
    }
    return JSONstringify(err);
  } catch (e) {
    return StringFn(err);
  }
}

// ------------------------------------------------------------ user globals

function log(message) {
  if (typeof message !== 'string') {
    try { message = JSONstringify(message); } catch (e) { message = StringFn(message); }
  }
  message = StringFn(message);
  if (message.length > limits.logLineChars) message = apply(strSlice, message, [0, limits.logLineChars]);
  if (logs.length < limits.logLines) push(logs, message);
}

function emit(key, value) {
  emitted = true;
  if (emitBuffer !== null) emitBuffer.push([key, value]);
}

function sum(values) {
  var rv = 0;
  for (var i in values) rv += values[i];
  return rv;
}

function toJSON(value) { return JSONstringify(value); }

function isArray(obj) { return apply(objToString, obj, []) === '[object Array]'; }

// ---------------------------------------------------------------- compile

function CompilationError(reason) { this.reason = reason; }

function evalFunction(source) {
  var fn;
  try {
    fn = indirectEval('(' + source + '\n)');
  } catch (e1) {
    // Not a single expression (e.g. statements before the function): take the
    // completion value, as CouchDB's evalcx did.
    try {
      fn = indirectEval(source);
    } catch (e2) {
      throw new CompilationError(describe(e2) + ' (' + source + ')');
    }
  }
  if (typeof fn !== 'function') {
    throw new CompilationError('Expression does not eval to a function. (' + source + ')');
  }
  return fn;
}

// CommonJS modules stored in the design document (CouchDB's require(),
// share/server/util.js resolveModule): absolute paths start at the root object,
// "./" and "../" are relative to the requiring module.
function resolveModule(names, mod, root) {
  if (names.length === 0) {
    if (typeof mod.current !== 'string') {
      throw ['error', 'invalid_require_path', 'Must require a JavaScript string, not: ' + (typeof mod.current)];
    }
    return { current: mod.current, parent: mod.parent, id: mod.id, exports: {} };
  }
  var n = names[0];
  var rest = names.slice(1);
  if (n === '..') {
    if (!(mod.parent && mod.parent.parent)) {
      throw ['error', 'invalid_require_path', 'Object has no parent ' + JSONstringify(mod.current)];
    }
    return resolveModule(rest, { id: mod.id.slice(0, mod.id.lastIndexOf('/')), parent: mod.parent.parent.parent, current: mod.parent.parent.current });
  }
  if (n === '.') {
    if (!mod.parent) {
      throw ['error', 'invalid_require_path', 'Object has no parent ' + JSONstringify(mod.current)];
    }
    return resolveModule(rest, { parent: mod.parent.parent, current: mod.parent.current, id: mod.id });
  }
  if (root) mod = { current: root, parent: null, id: '' };
  if (mod.current === null || typeof mod.current !== 'object' || !apply(hasOwn, mod.current, [n])) {
    throw ['error', 'invalid_require_path', 'Object has no property "' + n + '". ' + JSONstringify(mod.current)];
  }
  return resolveModule(rest, { current: mod.current[n], parent: mod, id: mod.id ? mod.id + '/' + n : n });
}

function makeRequire(root) {
  var cache = {};
  function load(name, parentModule) {
    var mod = resolveModule(name.split('/'), parentModule || {}, root);
    if (apply(hasOwn, cache, [mod.id])) return cache[mod.id].exports;
    cache[mod.id] = mod;
    try {
      var fn = indirectEval('(function (module, exports, require) { ' + mod.current + '\n})');
      fn(mod, mod.exports, function (n2) { return load(StringFn(n2), mod); });
    } catch (e) {
      delete cache[mod.id];
      if (ArrayIsArray(e)) throw e;
      throw ['error', 'compilation_error', "Module require('" + name + "') raised error " + describe(e)];
    }
    return mod.exports;
  }
  return function (name) { return load(StringFn(name), null); };
}

var ddocRequire = makeRequire(ddoc);
var viewsLib = ddoc.views && ddoc.views.lib ? { views: { lib: ddoc.views.lib } } : { views: {} };
var mapRequire = makeRequire(viewsLib);

// The only global whose value changes per call: CouchDB scopes require to
// views.lib for map functions and to the whole ddoc for everything else.
var currentRequire = ddocRequire;
function require(name) { return currentRequire(name); }

// ---------------------------------------------------------------- harden

function harden(roots) {
  var seen = new WeakSetCtor();
  var stack = roots.slice();
  while (stack.length > 0) {
    var o = stack.pop();
    if (o === null || (typeof o !== 'object' && typeof o !== 'function')) continue;
    if (o === g || apply(wsHas, seen, [o])) continue;
    apply(wsAdd, seen, [o]);
    freeze(o);
    push(stack, getProto(o));
    var keys = ownKeys(o);
    for (var i = 0; i < keys.length; i++) {
      var d = getDesc(o, keys[i]);
      if (d === undefined) continue;
      if ('value' in d) push(stack, d.value);
      if (d.get) push(stack, d.get);
      if (d.set) push(stack, d.set);
    }
  }
}

var intrinsicNames = ownKeys(g);
var roots = [];
for (var i = 0; i < intrinsicNames.length; i++) {
  var name = intrinsicNames[i];
  var desc = getDesc(g, name);
  if (desc && 'value' in desc && desc.value !== g) push(roots, desc.value);
}
// Intrinsics reachable only through syntax, not through a global name.
push(roots, getProto(function* () {}));
push(roots, getProto(async function () {}));
push(roots, getProto(async function* () {}));
push(roots, getProto((function* () {})()));
push(roots, getProto([][Symbol.iterator]()));
push(roots, getProto(new Map()[Symbol.iterator]()));
push(roots, getProto(new Set()[Symbol.iterator]()));
push(roots, getProto(''[Symbol.iterator]()));
push(roots, getProto('a'.matchAll(/a/g)));
push(roots, getProto(Int8Array));
push(roots, emit, log, sum, toJSON, isArray, require);
harden(roots);

for (var j = 0; j < intrinsicNames.length; j++) {
  var d2 = getDesc(g, intrinsicNames[j]);
  if (d2 && d2.configurable) defProp(g, intrinsicNames[j], { writable: false, configurable: false });
}
var userGlobals = { emit: emit, log: log, sum: sum, toJSON: toJSON, isArray: isArray, require: require };
var userGlobalNames = objKeys(userGlobals);
for (var k = 0; k < userGlobalNames.length; k++) {
  defProp(g, userGlobalNames[k], { value: userGlobals[userGlobalNames[k]], writable: false, configurable: false, enumerable: false });
}

// ------------------------------------------------------------- functions

var compiled = {};
function getFunction(path) {
  var key = apply(arrJoin, path, ['.']);
  if (apply(hasOwn, compiled, [key])) return compiled[key];
  var point = ddoc;
  for (var i = 0; i < path.length; i++) {
    point = point !== null && typeof point === 'object' && apply(hasOwn, point, [path[i]]) ? point[path[i]] : undefined;
  }
  if (typeof point !== 'string' || point === '') {
    throw ['error', 'not_found', 'missing ' + path[0] + ' function ' + path[path.length - 1] + ' on design doc ' + ddoc._id];
  }
  var fn = evalFunction(point);
  compiled[key] = fn;
  return fn;
}

// Documents come from JSON.parse: plain trees, no cycles, no shared nodes.
function deepFreeze(root) {
  var stack = [root];
  while (stack.length > 0) {
    var o = stack.pop();
    freeze(o);
    if (ArrayIsArray(o)) {
      for (var i = 0; i < o.length; i++) {
        var a = o[i];
        if (typeof a === 'object' && a !== null) stack.push(a);
      }
    } else {
      for (var k in o) {
        var v = o[k];
        if (typeof v === 'object' && v !== null) stack.push(v);
      }
    }
  }
}

function failure(e) {
  if (e instanceof CompilationError) return { error: 'compilation_error', reason: e.reason };
  if (ArrayIsArray(e) && e.length === 3) return { error: StringFn(e[1]), reason: StringFn(e[2]) };
  return { error: 'unknown_error', reason: describe(e) };
}

function reply(result) {
  return JSONstringify({ ok: result, logs: logs });
}

function replyRaw(resultJson) {
  return '{"ok":' + resultJson + ',"logs":' + JSONstringify(logs) + '}';
}

function replyError(e) {
  return JSONstringify({ fail: failure(e), logs: logs });
}

// map: $0 = [viewName...] (the views to run, in order), docsJson = [doc...]
// -> {"ok":[[[[k,v],...] per view] per doc]}
function map(viewNamesJson, docsJson) {
  logs = [];
  try {
    var names = JSONparse(viewNamesJson);
    var fns = new Array(names.length);
    for (var v = 0; v < names.length; v++) fns[v] = getFunction(['views', names[v], 'map']);
    var docs = JSONparse(docsJson);
    var out = new Array(docs.length);
    currentRequire = mapRequire;
    for (var d = 0; d < docs.length; d++) {
      var doc = docs[d];
      deepFreeze(doc);
      var perView = new Array(fns.length);
      for (var f = 0; f < fns.length; f++) {
        var buf = [];
        emitBuffer = buf;
        try {
          fns[f](doc);
          perView[f] = JSONstringify(buf);
        } catch (err) {
          if (err === 'fatal_error') throw ['error', 'map_runtime_error', "function raised 'fatal_error'"];
          if (ArrayIsArray(err) && err[0] === 'fatal') throw err;
          perView[f] = '[]';
          log('function raised exception ' + describe(err) + ' with doc._id ' + (doc && doc._id));
        }
        emitBuffer = null;
      }
      out[d] = '[' + apply(arrJoin, perView, [',']) + ']';
    }
    return replyRaw('[' + apply(arrJoin, out, [',']) + ']');
  } catch (e) {
    return replyError(e);
  } finally {
    emitBuffer = null;
    currentRequire = ddocRequire;
  }
}

// reduce: jobs = [[keys|null, values, rereduce], ...] for one view's reduce
// function -> {"ok":[reduction, ...]}; a throwing reduce yields null (CouchDB).
function reduce(viewName, jobsJson) {
  logs = [];
  try {
    var fn = getFunction(['views', viewName, 'reduce']);
    var jobs = JSONparse(jobsJson);
    var out = new Array(jobs.length);
    for (var i = 0; i < jobs.length; i++) {
      var job = jobs[i];
      var r;
      try {
        r = fn(job[0], job[1], job[2]);
      } catch (err) {
        if (ArrayIsArray(err) && err[0] === 'fatal') throw err;
        log('function raised exception ' + describe(err));
        r = null;
      }
      var s = JSONstringify(r);
      if (s === undefined) s = 'null';
      if (limits.reduceLimit && s.length > limits.reduceLimitChars && s.length * 2 > job[3]) {
        s = JSONstringify({ reduce_overflow_error: "Reduce output must shrink more rapidly: Current output: '" + apply(strSlice, s, [0, 100]) + "'... (first 100 of " + s.length + ' bytes)' });
      }
      out[i] = s;
    }
    return replyRaw('[' + apply(arrJoin, out, [',']) + ']');
  } catch (e) {
    return replyError(e);
  }
}

// validate_doc_update(newDoc, oldDoc, userCtx, secObj), called with this = ddoc.
function validate(argsJson) {
  logs = [];
  try {
    var fn = getFunction(['validate_doc_update']);
    var args = JSONparse(argsJson);
    deepFreeze(args);
    try {
      apply(fn, ddoc, args);
      return reply(1);
    } catch (err) {
      if (err !== null && typeof err === 'object' && !ArrayIsArray(err) && !(err instanceof Error)) {
        return reply(err);
      }
      if (typeof err === 'string') return reply(err);
      throw err;
    }
  } catch (e) {
    return replyError(e);
  }
}

// filters.<name>(doc, req) over a batch of docs -> [bool, ...]
function filter(name, docsJson, reqJson) {
  logs = [];
  try {
    var fn = getFunction(['filters', name]);
    var docs = JSONparse(docsJson);
    var req = JSONparse(reqJson);
    deepFreeze(req);
    var out = new Array(docs.length);
    for (var i = 0; i < docs.length; i++) {
      deepFreeze(docs[i]);
      out[i] = apply(fn, ddoc, [docs[i], req]) ? true : false;
    }
    return reply(out);
  } catch (e) {
    return replyError(e);
  }
}

// _view filter: a doc passes when views.<name>.map emits at least once.
function filterView(name, docsJson) {
  logs = [];
  try {
    var fn = getFunction(['views', name, 'map']);
    var docs = JSONparse(docsJson);
    var out = new Array(docs.length);
    currentRequire = mapRequire;
    for (var i = 0; i < docs.length; i++) {
      deepFreeze(docs[i]);
      emitted = false;
      fn(docs[i]);
      out[i] = emitted;
    }
    return reply(out);
  } catch (e) {
    return replyError(e);
  } finally {
    emitted = false;
    currentRequire = ddocRequire;
  }
}

// Compile a list of function paths now, so a broken ddoc is reported at save time.
function check(pathsJson) {
  logs = [];
  try {
    var paths = JSONparse(pathsJson);
    for (var i = 0; i < paths.length; i++) getFunction(paths[i]);
    return reply(true);
  } catch (e) {
    return replyError(e);
  }
}

ddoc = (function () { deepFreeze(ddoc); return ddoc; })();
return { map: map, reduce: reduce, validate: validate, filter: filter, filterView: filterView, check: check };
`;
