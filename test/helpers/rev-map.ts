// Comparing our answers with CouchDB's recorded ones: rev hashes are implementation-specific, so
// each CouchDB rev is mapped to the one we produced (later requests that quote it use ours) and
// only the generations must agree. Shared by the node's and the lounge's fixture replays.

import assert from 'node:assert/strict';

/** A CouchDB rev as recorded: generation and a 32-hex hash. */
export const REV = /^(\d+)-[0-9a-f]{32}$/;

export class RevMap {
  private readonly map = new Map<string, string>();
  /**
   * `exact`: the revs must be CouchDB's own (a Chaise node makes revisions as couch_db:new_revid
   * does); otherwise (third-party nodes behind a lounge) only their generations must agree.
   */
  constructor(private readonly exact = false) {}
  translate(text: string): string {
    let out = text;
    for (const [theirs, ours] of this.map) out = out.split(theirs).join(ours);
    return out;
  }
  compare(theirs: string, ours: string, where: string): void {
    const known = this.map.get(theirs);
    if (known !== undefined) return assert.equal(ours, known, `${where}: rev`);
    if (this.exact) return assert.equal(ours, theirs, `${where}: rev`);
    const a = REV.exec(theirs);
    const b = /^(\d+)-[0-9a-f]+$/.exec(ours);
    assert.ok(a && b, `${where}: expected a rev like ${theirs}, got ${ours}`);
    assert.equal(b[1], a[1], `${where}: rev generation`);
    this.map.set(theirs, ours);
    this.map.set(theirs.slice(theirs.indexOf('-') + 1), ours.slice(ours.indexOf('-') + 1));
  }
  /**
   * A sequence string both servers handed out at the same position (their numeric prefixes were
   * compared): later requests that quote CouchDB's (`since=…`) send ours.
   */
  noteSeq(theirs: string, ours: string): void {
    if (theirs !== ours && !this.map.has(theirs)) this.map.set(theirs, ours);
  }
  /** A bare hash, as in `_revisions.ids`. */
  compareHash(theirs: string, ours: string, where: string): void {
    const known = this.map.get(theirs);
    // A hash the request itself named (new_edits=false) comes back as it was given.
    assert.ok(known !== undefined || /^([0-9a-f])\1{31}$/.test(theirs) || ours === theirs, `${where}: unknown hash ${theirs}`);
    assert.equal(ours, known ?? theirs, `${where}: hash`);
  }
}
