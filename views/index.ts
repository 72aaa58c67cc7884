// views/ public surface: the only module other parts (server/, lounge/) import.
//
// views/ owns everything that runs or interprets design-document code and view
// data: CouchDB collation, Mango selectors, the isolated-vm sandbox, persistent
// view indexes and their query engine. Errors thrown from here that reach HTTP
// are CouchError objects ({status, error, reason}); the server maps them to
// CouchDB's `{"error","reason"}` body unchanged.

export { CouchError, isCouchError } from './errors/couch-error.js';

// Collation (pure).
export { collate, collateStrings, compareIds, rawCollate } from './collation/index.js';

// Mango selectors (pure): `_changes?filter=_selector`, selector replication.
export {
  matchSelector,
  validateSelector,
  compileSelector,
  normalizeSelector,
  type NormSelector,
} from './mango/selector.js';

// Design-document code in isolated-vm.
export {
  DesignSandbox,
  SandboxPool,
  sandboxLimits,
  type DesignDoc,
  type Emit,
  type ReduceJob,
  type SandboxLogger,
  type SandboxOptions,
  type RenderResponse,
  type ListIo,
  type ListOutput,
} from './sandbox/index.js';

// Built-in reducers (the lounge rereduces shard results with these).
export { builtinReducer, type BuiltinReducer, type KV } from './reduce/builtin.js';

// Persistent view indexes and queries.
export type { ChangedDoc, DocReadOptions, DocSource } from './index-store/doc-source.js';
export { ViewEngine, checkLanguage, runsLanguage, type ViewEngineOptions, type DesignInfo } from './engine/view-engine.js';
export type { ViewResponse, MapRow, ReduceRow, RowCursor } from './query/run-view.js';
export { arrayCursor } from './query/run-view.js';

// Mango (_find, _explain, _index): also reachable as ViewEngine methods.
export { type FindResponse, type ExecutionStats, type DocsById, type FindStats, FIND_LIMIT_DEFAULT } from './mango/find.js';
export type { ViewStats } from './index-store/view-group.js';
export { type IndexChange, type MangoIndex } from './mango/index-def.js';

// `_rewrite` rules (pure): the node and the lounge apply them the same way.
export { applyRules, checkField, normalizePath, REWRITE_LIMIT, rewriteError, rewritePrefix, stringMap, textOf, type RewriteInput } from './render/rewrite-rules.js';
export { couchHeaderName, makeEtag, parseExternal, safeHeader, type External } from './render/external.js';
// The HTTP side of show, list, update and rewrite functions, shared by the node and the lounge.
export { docFromUpdate, pathParts, requestObject, type RequestFacts, type RequestSubject } from './render/request-object.js';
export { requestFacts, sendExternal, streamList, type AnswerTarget, type ListRun, type RequestSource } from './render/answer.js';
