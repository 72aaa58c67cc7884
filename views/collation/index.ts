// Public surface of CouchDB collation inside views/ (re-exported by views/index.ts).
export { collate, collateStrings, typeRank, MAX_KEY } from './collate.js';
export { compareIds, rawCollate } from './raw-order.js';
