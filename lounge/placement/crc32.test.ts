import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, hex8 } from './crc32.js';

test('crc32 matches zlib/CouchDB on the documented vectors', () => {
  // CouchDB docs (cluster/sharding.rst) and lounge-research.md 5.3.
  assert.equal(hex8(crc32('joan')), 'e0b852df');
  assert.equal(hex8(crc32('robert')), '791875e7');
  assert.equal(hex8(crc32('foo')), '8c736521');
  assert.equal(hex8(crc32('_design/foo')), 'ca58923f');
});

test('crc32 hashes the UTF-8 bytes of the id', () => {
  // zlib.crc32 of '' is 0 and of 'é' (c3 a9) is known; JS UTF-16 code units must not be hashed.
  assert.equal(crc32(''), 0);
  assert.equal(hex8(crc32('\u00e9')), hex8(crc32(Buffer.from([0xc3, 0xa9]).toString('utf8'))));
  assert.equal(hex8(crc32('123456789')), 'cbf43926'); // the standard CRC-32 check value
});

test('the ASCII fast path and the UTF-8 path agree on every string', async () => {
  const fc = (await import('fast-check')).default;
  const { crc32Bytes } = await import('./crc32.js');
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => crc32(s) === crc32Bytes(Buffer.from(s, 'utf8'))),
    { numRuns: 2000 },
  );
});
