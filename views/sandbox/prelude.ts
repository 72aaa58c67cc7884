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

// CouchDB (share/server/60/rewrite_fun.js) turns the last anonymous function
// declaration of a source into an expression, so a function followed by ';' or
// wrapped in comments compiles. Without a parser here: cut what surrounds the
// outermost function when it is only whitespace, comments and semicolons.
var LEADING_NOISE = /^(?:\s|\/\/[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/;
var TRAILING_NOISE = /^(?:\s|;|\/\/[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*$/;
function trimFunctionSource(source) {
  var lead = LEADING_NOISE.exec(source);
  var start = lead ? lead[0].length : 0;
  if (apply(strSlice, source, [start, start + 8]) !== 'function') return null;
  var end = apply(strLastIndexOf, source, ['}']);
  if (end < start) return null;
  if (!TRAILING_NOISE.test(apply(strSlice, source, [end + 1]))) return null;
  return apply(strSlice, source, [start, end + 1]);
}

function evalFunction(source) {
  var fn;
  try {
    fn = indirectEval('(' + source + '\n)');
  } catch (e1) {
    var trimmed = trimFunctionSource(source);
    var done = false;
    if (trimmed !== null) {
      try {
        fn = indirectEval('(' + trimmed + '\n)');
        done = true;
      } catch (e3) {
        done = false;
      }
    }
    // Not a single expression (e.g. statements before the function): take the
    // completion value, as CouchDB's evalcx did.
    if (!done) {
      try {
        fn = indirectEval(source);
      } catch (e2) {
        throw new CompilationError(describe(e2) + ' (' + source + ')');
      }
    }
  }
  if (typeof fn !== 'function') {
    throw new CompilationError('Expression does not eval to a function. (' + source + ')');
  }
  return fn;
}

// CommonJS modules stored in the design document, as CouchDB 3 resolves them
// (share/server/util.js): absolute paths start at the root object, "./" and
// "../" are relative to the object holding the requiring module; module.id is
// the module's path; each module runs once per isolate (cache by id), and a
// circular require sees an empty exports object, not a stack overflow.
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
    if (!(mod && mod.parent && mod.parent.parent)) {
      throw ['error', 'invalid_require_path', 'Object has no parent ' + JSONstringify(mod ? mod.current : undefined)];
    }
    return resolveModule(rest, { id: mod.id.slice(0, mod.id.lastIndexOf('/')), parent: mod.parent.parent, current: mod.parent.current });
  }
  if (n === '.') {
    if (!(mod && mod.parent)) {
      throw ['error', 'invalid_require_path', 'Object has no parent ' + JSONstringify(mod ? mod.current : undefined)];
    }
    return resolveModule(rest, { parent: mod.parent, current: mod.current, id: mod.id });
  }
  if (root) mod = { current: root, parent: null, id: '' };
  if (mod.current === null || typeof mod.current !== 'object' || !apply(hasOwn, mod.current, [n]) || mod.current[n] === undefined) {
    throw ['error', 'invalid_require_path', 'Object has no property "' + n + '". ' + JSONstringify(mod.current)];
  }
  return resolveModule(rest, { current: mod.current[n], parent: mod, id: mod.id ? mod.id + '/' + n : n });
}

function makeRequire(root) {
  var cache = {};
  function load(name, requiring) {
    var mod = resolveModule(apply(strSplit, name, ['/']), requiring ? requiring.parent : null, root);
    if (apply(hasOwn, cache, [mod.id])) return cache[mod.id];
    cache[mod.id] = {};
    try {
      var fn = indirectEval('(function (module, exports, require) { ' + mod.current + '\n})');
      fn(mod, mod.exports, function (n2) { return load(StringFn(n2), mod); });
    } catch (e) {
      delete cache[mod.id];
      if (ArrayIsArray(e)) throw e;
      throw ['error', 'compilation_error', "Module require('" + name + "') raised error " + describe(e)];
    }
    cache[mod.id] = mod.exports;
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


// ------------------------------------------------------- mime and render
// CouchDB's share/server/render.js and mimeparse.js: registerType/provides with
// Accept negotiation, and the list API (start/send/getRow).

function strip(str) { return str.replace(/^\s+/, '').replace(/\s+$/, ''); }
function parseMimeType(mimeType) {
  var params = {};
  var parts = mimeType.split(';');
  for (var i = 0; i < parts.length; i++) {
    var p = parts[i].split('=');
    if (p.length === 2) params[strip(p[0])] = strip(p[1]);
  }
  var fullType = strip(parts[0]);
  if (fullType === '*') fullType = '*/*';
  var typeParts = fullType.split('/');
  return [typeParts[0], typeParts[1], params];
}
function parseMediaRange(range) {
  var parsed = parseMimeType(range);
  if (!parsed[2].q) {
    parsed[2].q = '1';
  } else {
    var q = parseFloat(parsed[2].q);
    if (isNaN(q) || q > 1 || q < 0) parsed[2].q = '1';
  }
  return parsed;
}
function fitnessAndQuality(mimeType, parsedRanges) {
  var bestFitness = -1;
  var bestFitQ = 0;
  var target = parseMediaRange(mimeType);
  for (var i = 0; i < parsedRanges.length; i++) {
    var r = parsedRanges[i];
    if ((r[0] == target[0] || r[0] == '*' || target[0] == '*') && (r[1] == target[1] || r[1] == '*' || target[1] == '*')) {
      var matchCount = 0;
      for (var param in target[2]) {
        if (param != 'q' && r[2][param] && r[2][param] == target[2][param]) matchCount += 1;
      }
      var fitness = r[0] == target[0] ? 100 : 0;
      fitness += r[1] == target[1] ? 10 : 0;
      fitness += matchCount;
      if (fitness > bestFitness) {
        bestFitness = fitness;
        bestFitQ = r[2].q;
      }
    }
  }
  return [bestFitness, parseFloat(bestFitQ)];
}
function bestMatch(supported, header) {
  var parsedHeader = [];
  var ranges = header.split(',');
  for (var i = 0; i < ranges.length; i++) parsedHeader.push(parseMediaRange(ranges[i]));
  var weighted = [];
  for (var j = 0; j < supported.length; j++) weighted.push([fitnessAndQuality(supported[j], parsedHeader), j, supported[j]]);
  // CouchDB sorts these arrays with the default (string) comparison; kept for identical choices.
  weighted.sort();
  var last = weighted[weighted.length - 1];
  return last && last[0][1] ? last[2] : '';
}

var mimesByKey = {};
var keysByMime = {};
function registerType() {
  var key = arguments[0];
  var mimes = [];
  for (var i = 1; i < arguments.length; i++) mimes.push(arguments[i]);
  mimesByKey[key] = mimes;
  for (var j = 0; j < mimes.length; j++) keysByMime[mimes[j]] = key;
}
registerType('all', '*/*');
registerType('text', 'text/plain; charset=utf-8', 'txt');
registerType('html', 'text/html; charset=utf-8');
registerType('xhtml', 'application/xhtml+xml', 'xhtml');
registerType('xml', 'application/xml', 'text/xml', 'application/x-xml');
registerType('js', 'text/javascript', 'application/javascript', 'application/x-javascript');
registerType('css', 'text/css');
registerType('ics', 'text/calendar');
registerType('csv', 'text/csv');
registerType('rss', 'application/rss+xml');
registerType('atom', 'application/atom+xml');
registerType('yaml', 'application/x-yaml', 'text/yaml');
registerType('multipart_form', 'multipart/form-data');
registerType('url_encoded_form', 'application/x-www-form-urlencoded');
registerType('json', 'application/json', 'text/x-json');

var providesUsed = false;
var mimeFuns = [];
var responseContentType = null;
function provides(type, fun) {
  providesUsed = true;
  mimeFuns.push([type, fun]);
}
function resetProvides() {
  providesUsed = false;
  mimeFuns = [];
  responseContentType = null;
}
function runProvides(req, ddocThis) {
  var supportedMimes = [];
  var bestFun;
  var bestKey = null;
  var accept = req.headers ? req.headers['Accept'] : undefined;
  if (req.query && req.query.format) {
    bestKey = req.query.format;
    responseContentType = mimesByKey[bestKey][0];
  } else if (accept) {
    mimeFuns.reverse().forEach(function (mimeFun) {
      var mimeKey = mimeFun[0];
      if (mimesByKey[mimeKey]) supportedMimes = supportedMimes.concat(mimesByKey[mimeKey]);
    });
    responseContentType = bestMatch(supportedMimes, accept);
    bestKey = keysByMime[responseContentType];
  } else {
    bestKey = mimeFuns[0][0];
    responseContentType = mimesByKey[bestKey][0];
  }
  if (bestKey) {
    for (var i = 0; i < mimeFuns.length; i++) {
      if (mimeFuns[i][0] == bestKey) {
        bestFun = mimeFuns[i][1];
        break;
      }
    }
  }
  if (bestFun) return bestFun.call(ddocThis);
  var supportedTypes = mimeFuns.map(function (mf) { return (mimesByKey[mf[0]] || []).join(', ') || mf[0]; });
  throw ['error', 'not_acceptable', 'Content-Type ' + (accept || bestKey) + ' not supported, try one of: ' + supportedTypes.join(', ')];
}

var chunks = [];
var startResp = {};
var gotRow = false;
var lastRow = false;
// A list in progress: the host's row source (an ivm.Reference whose function
// takes what the list sent so far and answers the next rows, as JSON).
var listPull = null;
var rowBuffer = [];
var rowPos = 0;

// start() after the first getRow() still sets the head: it travels with the next
// crossing (CouchDB's new_header), and the host has not answered before output.
var newHeader = false;
function start(resp) {
  startResp = resp || {};
  newHeader = true;
}
function send(chunk) { chunks.push(StringFn(chunk)); }
function applyContentType(resp, contentType) {
  resp.headers = resp.headers || {};
  if (contentType) resp.headers['Content-Type'] = resp.headers['Content-Type'] || contentType;
  return resp;
}
function resetList() {
  gotRow = false;
  lastRow = false;
  chunks = [];
  startResp = {};
  rowBuffer = [];
  rowPos = 0;
  newHeader = false;
}
// Hands the host what the list sent (and, the first time, its response head),
// and takes the next batch of rows: [] once the rows are done, or the string
// "stop" when the client went away.
function crossToHost(wantRows) {
  var msg = { chunks: chunks, rows: wantRows };
  chunks = [];
  if (!gotRow) {
    gotRow = true;
    msg.start = applyContentType(startResp || {}, responseContentType);
    startResp = {};
    newHeader = false;
  } else if (newHeader) {
    msg.start = startResp;
    startResp = {};
    newHeader = false;
  }
  if (listPull === null) return [];
  var answer = JSONparse(listPull.applySyncPromise(undefined, [JSONstringify(msg)]));
  if (answer === 'stop') {
    lastRow = true;
    throw ['fatal', 'list_stopped', 'the client closed the connection'];
  }
  return answer;
}
function getRow() {
  if (lastRow) return null;
  if (rowPos >= rowBuffer.length) {
    rowBuffer = crossToHost(true);
    rowPos = 0;
    if (rowBuffer.length === 0) {
      lastRow = true;
      return null;
    }
  }
  return rowBuffer[rowPos++];
}

function maybeWrapResponse(resp) {
  var type = typeof resp;
  if (type === 'string') return { body: resp };
  return resp;
}
function typeOf(value) {
  var s = typeof value;
  if (s === 'object') {
    if (value) {
      if (ArrayIsArray(value)) s = 'array';
    } else {
      s = 'null';
    }
  }
  return s;
}
function renderError(e) {
  if ((e && e.error && e.reason) || (ArrayIsArray(e) && (e[0] === 'error' || e[0] === 'fatal'))) {
    if (!ArrayIsArray(e)) throw ['error', StringFn(e.error), StringFn(e.reason)];
    throw e;
  }
  var message = 'function raised error: ' + describe(e) + ' \nstacktrace: ' + (e && e.stack ? e.stack : '');
  log(message);
  throw ['error', 'render_error', message];
}

// ---------------------------------------------------------------- no code from strings

// couchjs refuses eval and the Function constructors unless it was started with -eval
// (JSSecurityCallbacks: csp_allows), so a design function that builds code from a string
// throws (CouchDB's view_sandboxing_test "runtime code evaluation can be prevented"). The
// prelude compiles design functions and modules with the eval it kept above (indirectEval).
function refuseCodegen() { throw new EvalError('Code generation from strings disallowed for this context'); }
function blockedCodegen(kindProto) {
  var blocked = function () { return refuseCodegen(); };
  // instanceof and .prototype keep answering as the real constructor's would.
  defProp(blocked, 'prototype', { value: kindProto, writable: false, enumerable: false, configurable: false });
  defProp(kindProto, 'constructor', { value: blocked, writable: false, enumerable: false, configurable: true });
  return blocked;
}
defProp(g, 'Function', { value: blockedCodegen(Function.prototype), writable: true, enumerable: false, configurable: true });
blockedCodegen(getProto(function* () {}));
blockedCodegen(getProto(async function () {}));
blockedCodegen(getProto(async function* () {}));
defProp(g, 'eval', { value: refuseCodegen, writable: true, enumerable: false, configurable: true });

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
push(roots, emit, log, sum, toJSON, isArray, require, provides, registerType, start, send, getRow);
harden(roots);

for (var j = 0; j < intrinsicNames.length; j++) {
  var d2 = getDesc(g, intrinsicNames[j]);
  if (d2 && d2.configurable) defProp(g, intrinsicNames[j], { writable: false, configurable: false });
}
var userGlobals = { emit: emit, log: log, sum: sum, toJSON: toJSON, isArray: isArray, require: require, provides: provides, registerType: registerType, start: start, send: send, getRow: getRow };
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


// shows.<name>(doc, req) -> the response object ({code, headers, body|json|base64})
function show(name, docJson, reqJson) {
  logs = [];
  var args = null;
  try {
    var fn = getFunction(['shows', name]);
    args = [JSONparse(docJson), JSONparse(reqJson)];
    try {
      resetList();
      resetProvides();
      var resp = fn.apply(ddoc, args) || {};
      resp = maybeWrapResponse(resp);
      if (chunks.length > 0) {
        resp.headers = resp.headers || {};
        for (var header in startResp) resp.headers[header] = startResp[header];
        resp.body = chunks.join('') + (resp.body || '');
        resetList();
      }
      if (providesUsed) {
        var provided = maybeWrapResponse(runProvides(args[1], ddoc) || {});
        resp.body = (resp.body || '') + chunks.join('');
        resp.body += provided.body || '';
        resp = applyContentType(resp, responseContentType);
        resetList();
      }
      var type = typeOf(resp);
      if (type !== 'object' && type !== 'string') throw ['error', 'render_error', 'undefined response from show function'];
      return reply(maybeWrapResponse(resp));
    } catch (err) {
      if (args[0] === null && args[1] && args[1].path && args[1].path.length > 5) {
        throw ['error', 'not_found', 'document not found'];
      }
      renderError(err);
    }
  } catch (e) {
    return replyError(e);
  } finally {
    resetList();
    resetProvides();
  }
}

// updates.<name>(doc, req) -> [doc or null, response object]
function update(name, docJson, reqJson) {
  logs = [];
  try {
    var fn = getFunction(['updates', name]);
    var args = [JSONparse(docJson), JSONparse(reqJson)];
    try {
      if (args[1].method === 'GET') throw ['error', 'method_not_allowed', 'Update functions do not allow GET'];
      var result = fn.apply(ddoc, args);
      var doc = result[0];
      var resp = result[1];
      var type = typeOf(resp);
      if (type !== 'object' && type !== 'string') throw ['error', 'render_error', 'undefined response from update function'];
      var docOut = typeOf(doc) === 'object' ? doc : null;
      return reply([docOut, maybeWrapResponse(resp)]);
    } catch (err) {
      renderError(err);
    }
  } catch (e) {
    return replyError(e);
  }
}

// lists.<name>(head, req). Rows come from the host through pull (see
// crossToHost); the reply carries the last chunks.
function list(name, headJson, reqJson, pull) {
  logs = [];
  try {
    var fn = getFunction(['lists', name]);
    var head = JSONparse(headJson);
    var req = JSONparse(reqJson);
    resetProvides();
    resetList();
    listPull = pull;
    try {
      var tail = fn.apply(ddoc, [head, req]);
      if (providesUsed) tail = runProvides(req, ddoc);
      if (!gotRow) crossToHost(false);
      if (typeof tail !== 'undefined') chunks.push(typeof tail === 'string' ? tail : StringFn(tail));
      return reply(newHeader ? { chunks: chunks, start: startResp } : { chunks: chunks });
    } catch (err) {
      renderError(err);
    }
  } catch (e) {
    return replyError(e);
  } finally {
    listPull = null;
    resetList();
    resetProvides();
  }
}

// rewrites(req) when it is a function: the new request ({path, query, method,
// headers, body} or {code, headers, body}); null when no rule applies.
function rewrite(reqJson) {
  logs = [];
  try {
    var fn = getFunction(['rewrites']);
    var req = JSONparse(reqJson);
    try {
      var out = fn.call(ddoc, req);
      if (out === undefined || out === null || out === false) return reply(null);
      if (typeof out === 'string') return reply({ path: out });
      return reply(out);
    } catch (err) {
      if (err && typeof err === 'object' && !ArrayIsArray(err) && (err.forbidden !== undefined || err.unauthorized !== undefined)) {
        return reply({ thrown: err });
      }
      renderError(err);
    }
  } catch (e) {
    return replyError(e);
  }
}

ddoc = (function () { deepFreeze(ddoc); return ddoc; })();
return { map: map, reduce: reduce, validate: validate, filter: filter, filterView: filterView, check: check, show: show, update: update, list: list, rewrite: rewrite };
`;
