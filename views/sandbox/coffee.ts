// CoffeeScript design documents (`"language": "coffeescript"`), as CouchDB's JS query server
// runs them: each function source is compiled to JavaScript (`bare`) before it is evaluated
// (share/server/util.js compileFunction). Compiled on the host, once per sandbox; CommonJS
// modules are left as they are (CouchDB compiles only the functions it calls).

import { createRequire } from 'node:module';
import { CouchError } from '../errors/couch-error.js';
import type { DesignDoc } from './design-sandbox.js';

const require = createRequire(import.meta.url);
const coffee = require('coffeescript') as { compile(src: string, opts: { bare: boolean }): string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function compile(src: string, where: string): string {
  try {
    return coffee.compile(src, { bare: true });
  } catch (e) {
    throw new CouchError(400, 'compilation_error', `${where}: ${(e as Error).message} (${src})`);
  }
}

function compileMap(fns: unknown, where: string): unknown {
  if (!isObject(fns)) return fns;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fns)) out[k] = typeof v === 'string' ? compile(v, `${where}.${k}`) : v;
  return out;
}

/** The design doc with every function compiled to JavaScript; throws 400 compilation_error. */
export function compileCoffeeDesign(ddoc: DesignDoc): DesignDoc {
  const out: DesignDoc = { ...ddoc, language: 'javascript' };
  if (isObject(ddoc.views)) {
    const views: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(ddoc.views)) {
      if (name === 'lib' || !isObject(v)) {
        views[name] = v;
        continue;
      }
      const view: Record<string, unknown> = { ...v };
      if (typeof v.map === 'string') view.map = compile(v.map, `views.${name}.map`);
      if (typeof v.reduce === 'string' && !v.reduce.startsWith('_')) view.reduce = compile(v.reduce, `views.${name}.reduce`);
      views[name] = view;
    }
    out.views = views;
  }
  for (const kind of ['shows', 'lists', 'updates', 'filters'] as const) if (ddoc[kind] !== undefined) (out as Record<string, unknown>)[kind] = compileMap(ddoc[kind], kind);
  if (typeof ddoc.validate_doc_update === 'string') out.validate_doc_update = compile(ddoc.validate_doc_update, 'validate_doc_update');
  if (typeof ddoc.rewrites === 'string') out.rewrites = compile(ddoc.rewrites, 'rewrites');
  return out;
}
