// The byte layout of a `docs` row (DocInfo). Every write of a document encodes one and every read
// of a document decodes one, so the layout is written by hand instead of by msgpack: a fixed
// header, the rev tree as a flat pre-order walk, then the winner's JSON text as the tail, which is
// copied out with one toString. Encoding this way costs about a third of msgpack's generic
// object walk (measured on `_bulk_docs` of 300-byte docs).
//
// Layout (little-endian):
//   u8 FORMAT, u8 flags (1 = deleted, 2 = has attachments), f64 seq, string rev,
//   u32 branch count, per branch: u32 pos, node; node = u8 flags (1 = deleted, 2 = available),
//   string hash, u32 child count, children;
//   [string attachments-as-JSON when flag 2], then the JSON text to the end.
//   string = u32 byte length + UTF-8 bytes.

import { forEachNode, type RevNode, type RevTree } from '../revtree/index.js';
import type { AttMap } from '../docs/attachments.js';
import type { DocInfo } from './records.js';

const FORMAT = 1;
const DELETED = 1;
const HAS_ATTS = 2;
const NODE_DELETED = 1;
const NODE_AVAILABLE = 2;
/** Bytes a UTF-16 code unit can take in UTF-8 (a surrogate pair is 4 bytes for 2 units). */
const UTF8_BYTES_PER_UNIT_MAX = 3;

/**
 * lmdb-js passes this flag to `encode` when the put is written synchronously inside a write
 * transaction, so the bytes are copied before the next encode and one scratch buffer serves
 * every row (lmdb/write.js RESET_BUFFER_MODE). Outside a transaction lmdb-js keeps the buffer
 * until its writer thread runs, so each row gets its own.
 */
const WRITTEN_AT_ONCE = 1024;
let scratch = Buffer.allocUnsafeSlow(64 * 1024);

export const docInfoCodec = {
  /** Tells lmdb-js to pass the mode flags to `encode` (it names the feature after msgpackr's option). */
  copyBuffers: true,

  encode(info: DocInfo, mode = 0): Buffer {
    const atts = info.atts ? JSON.stringify(info.atts) : undefined;
    // An upper bound; the row is cut to what was written.
    let bound = 2 + 8 + 4 + info.rev.length * UTF8_BYTES_PER_UNIT_MAX + 4 + info.json.length * UTF8_BYTES_PER_UNIT_MAX;
    if (atts !== undefined) bound += 4 + atts.length * UTF8_BYTES_PER_UNIT_MAX;
    bound += treeBound(info.tree);
    let target: Buffer;
    if (mode & WRITTEN_AT_ONCE) {
      if (scratch.length < bound) scratch = Buffer.allocUnsafeSlow(Math.max(bound, scratch.length * 2));
      target = scratch;
    } else target = Buffer.allocUnsafe(bound);
    const w = new Writer(target);
    w.u8(FORMAT);
    w.u8((info.deleted ? DELETED : 0) | (atts !== undefined ? HAS_ATTS : 0));
    w.f64(info.seq);
    w.string(info.rev);
    w.u32(info.tree.length);
    for (const branch of info.tree) {
      w.u32(branch.pos);
      writeNode(w, branch.node);
    }
    if (atts !== undefined) w.string(atts);
    w.tail(info.json);
    return w.buf.subarray(0, w.at);
  },

  decode(buf: Uint8Array): DocInfo {
    const r = new Reader(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
    if (r.u8() !== FORMAT) throw new Error('docs row in an unknown format (written by another version of Chaise?)');
    const flags = r.u8();
    const seq = r.f64();
    const rev = r.string();
    const tree: RevTree = [];
    for (let n = r.u32(); n > 0; n--) {
      const pos = r.u32();
      tree.push({ pos, node: readNode(r) });
    }
    const atts = flags & HAS_ATTS ? (JSON.parse(r.string()) as AttMap) : undefined;
    const info: DocInfo = { tree, rev, deleted: (flags & DELETED) !== 0, seq, json: r.tail() };
    if (atts) info.atts = atts;
    return info;
  },
};

/** What `_all_docs` needs of a row: read from its first bytes, the tree and body left alone. */
export interface DocHeader {
  rev: string;
  deleted: boolean;
}

export const docHeaderCodec = {
  encode(): Buffer {
    throw new Error('docs rows are written through the DocInfo codec');
  },
  decode(buf: Uint8Array): DocHeader {
    const r = new Reader(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
    if (r.u8() !== FORMAT) throw new Error('docs row in an unknown format (written by another version of Chaise?)');
    const flags = r.u8();
    r.f64();
    return { rev: r.string(), deleted: (flags & DELETED) !== 0 };
  },
};

function treeBound(tree: RevTree): number {
  let bytes = 4 * tree.length;
  forEachNode(tree, (node) => {
    bytes += 1 + 4 + node.hash.length * UTF8_BYTES_PER_UNIT_MAX + 4;
  });
  return bytes;
}

/** A subtree in preorder, each node followed by its child count (iterative: trees can be deep). */
function writeNode(w: Writer, root: RevNode): void {
  const stack: RevNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    w.u8((node.deleted ? NODE_DELETED : 0) | (node.available ? NODE_AVAILABLE : 0));
    w.string(node.hash);
    w.u32(node.children.length);
    for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]!);
  }
}

function readNode(r: Reader): RevNode {
  const readOne = (): { node: RevNode; count: number } => {
    const flags = r.u8();
    const hash = r.string();
    const count = r.u32();
    return { node: { hash, deleted: (flags & NODE_DELETED) !== 0, available: (flags & NODE_AVAILABLE) !== 0, children: [] }, count };
  };
  const root = readOne();
  // Nodes whose children are still being read, with how many are left.
  const open: { node: RevNode; left: number }[] = root.count > 0 ? [{ node: root.node, left: root.count }] : [];
  while (open.length > 0) {
    const parent = open[open.length - 1]!;
    const child = readOne();
    parent.node.children.push(child.node);
    if (--parent.left === 0) open.pop();
    if (child.count > 0) open.push({ node: child.node, left: child.count });
  }
  return root.node;
}

class Writer {
  at = 0;
  constructor(readonly buf: Buffer) {}
  u8(v: number): void {
    this.buf[this.at++] = v;
  }
  u32(v: number): void {
    this.buf.writeUInt32LE(v, this.at);
    this.at += 4;
  }
  f64(v: number): void {
    this.buf.writeDoubleLE(v, this.at);
    this.at += 8;
  }
  string(s: string): void {
    const n = this.buf.write(s, this.at + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.at);
    this.at += 4 + n;
  }
  tail(s: string): void {
    this.at += this.buf.write(s, this.at, 'utf8');
  }
}

class Reader {
  at = 0;
  constructor(readonly buf: Buffer) {}
  u8(): number {
    return this.buf[this.at++] as number;
  }
  u32(): number {
    const v = this.buf.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  f64(): number {
    const v = this.buf.readDoubleLE(this.at);
    this.at += 8;
    return v;
  }
  string(): string {
    const n = this.u32();
    const s = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }
  tail(): string {
    return this.buf.toString('utf8', this.at, this.buf.length);
  }
}
