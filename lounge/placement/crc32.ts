// CRC-32 of a document id: the hash that places every document on the ring.
//
// The lounge must put a document where CouchDB 2+ (mem3_hash:crc32 = erlang:crc32) and
// CouchDB Lounge 2 (zlib.crc32) put it, so that `/{db}/_shards/{docid}` can be checked
// against a real CouchDB with the same q and a later move or split never rehashes anything.
// That is the zlib / IEEE 802.3 polynomial (reflected 0xEDB88320) over the UTF-8 bytes of
// the id, as an unsigned 32-bit number. Test vectors: `joan` → e0b852df, `robert` → 791875e7.
//
// Pure: no I/O. The 1 KiB table is built once at module load.

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (zlib) of raw bytes, unsigned. */
export function crc32Bytes(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = (TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * CRC-32 (zlib) of a string's UTF-8 encoding, unsigned: the position of a doc id on the ring.
 * Every write and every routed read hashes an id, so ASCII ids (nearly all of them) are
 * hashed straight from their char codes, without allocating a buffer.
 */
export function crc32(text: string): number {
  let c = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return crc32Bytes(Buffer.from(text, 'utf8'));
    c = (TABLE[(c ^ code) & 0xff] as number) ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** Eight lowercase hex digits, as CouchDB prints hashes and range bounds. */
export function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
