// RFC 1071 sum / checksum and RFC 1624 incremental update, against a naive
// reference written here, over aligned and unaligned views of larger buffers.
import t from 'tap';
import fc from 'fast-check';
import { adjustChecksum, adjustChecksum32, checksum, fold, ipv4, sum16, sum16Bytes } from '@tulle/wire';

/** mulberry32: a small seeded PRNG so every failure is reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return (x ^ (x >>> 14)) >>> 0;
  };
}

/** Ones' complement fold by the arithmetic definition: 0 stays 0, else 1..0xffff congruent mod 0xffff. */
function naiveFold(x: number): number {
  return x === 0 ? 0 : ((x - 1) % 0xffff) + 1;
}

/**
 * The reference: big-endian 16-bit words added one at a time with the
 * end-around carry applied after every addition; an odd last byte is the
 * high byte of a word padded with zero (RFC 1071 §4.1).
 */
function naiveSum(bytes: Uint8Array, offset: number, length: number, seed = 0): number {
  let s = naiveFold(seed);
  for (let i = 0; i < length; i += 2) {
    const hi = bytes[offset + i];
    const lo = i + 1 < length ? bytes[offset + i + 1] : 0;
    s += hi * 256 + lo;
    if (s > 0xffff) s -= 0xffff;
  }
  return s;
}

function naiveChecksum(bytes: Uint8Array, offset: number, length: number, seed = 0): number {
  return 0xffff - naiveSum(bytes, offset, length, seed);
}

function fillRandom(bytes: Uint8Array, random: () => number): void {
  for (let i = 0; i < bytes.length; i++) bytes[i] = random() & 0xff;
}

t.test('RFC 1071 §3 example: 0001 f203 f4f5 f6f7 sums to 0xddf2', async (t) => {
  const words = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
  const b = Uint8Array.from(words);
  t.equal(sum16(b, 0, 8), 0xddf2);
  t.equal(sum16Bytes(b, 0, 8), 0xddf2);
  t.equal(checksum(b, 0, 8), 0x220d);
  t.equal(naiveSum(b, 0, 8), 0xddf2, 'the reference agrees with the RFC');
  // The same eight bytes at every odd/even place in an unaligned view.
  const ab = new ArrayBuffer(80);
  for (let byteOffset = 0; byteOffset < 8; byteOffset++) {
    const view = new Uint8Array(ab, byteOffset, 40);
    for (let offset = 0; offset < 8; offset++) {
      view.fill(0xaa);
      view.set(words, offset);
      t.equal(sum16(view, offset, 8), 0xddf2, `byteOffset ${byteOffset} offset ${offset}`);
    }
  }
  // Byte order independence (RFC 1071 §2(B)): swapping every pair swaps the sum.
  const swapped = Uint8Array.from([0x01, 0x00, 0x03, 0xf2, 0xf5, 0xf4, 0xf7, 0xf6]);
  t.equal(sum16(swapped, 0, 8), 0xf2dd);
  // Repeated past the short-input threshold, so the word loop runs: 8 copies.
  const big = new Uint8Array(ab, 3, 64);
  for (let i = 0; i < 8; i++) big.set(words, i * 8);
  t.equal(sum16(big, 0, 64), naiveFold(8 * 0xddf2));
  t.equal(sum16(big, 0, 64), naiveSum(big, 0, 64));
  // Verification: a buffer that carries its own checksum sums to 0xffff.
  const withCheck = Uint8Array.from([...words, 0x22, 0x0d]);
  t.equal(sum16(withCheck, 0, 10), 0xffff);
});

t.test('the reference and fold agree with arithmetic on edge values', async (t) => {
  t.equal(fold(0), 0);
  t.equal(fold(0xffff), 0xffff);
  t.equal(fold(0x10000), 1);
  t.equal(fold(0x1fffe), 0xffff);
  t.equal(fold(0x2ddf0), 0xddf2);
  t.equal(fold(Number.MAX_SAFE_INTEGER), naiveFold(Number.MAX_SAFE_INTEGER));
  fc.assert(
    fc.property(fc.maxSafeNat(), (x) => fold(x) === naiveFold(x)),
    { numRuns: 5000 },
  );
  t.pass('fold(x) equals the arithmetic fold for 5000 random x up to 2^53');
});

t.test('every length 0..100 at every byteOffset and offset 0..7', async (t) => {
  const ab = new ArrayBuffer(256);
  const random = prng(0x1071);
  let checked = 0;
  const mismatches: string[] = [];
  for (let byteOffset = 0; byteOffset < 8; byteOffset++) {
    const view = new Uint8Array(ab, byteOffset, 200);
    fillRandom(view, random);
    for (let offset = 0; offset < 8; offset++) {
      for (let length = 0; length <= 100; length++) {
        const seed = random() & 0x3ffff;
        const want = naiveSum(view, offset, length, seed);
        const got = [sum16(view, offset, length, seed), sum16Bytes(view, offset, length, seed)];
        const wantCheck = naiveChecksum(view, offset, length, seed);
        const gotCheck = checksum(view, offset, length, seed);
        checked++;
        if (got[0] !== want || got[1] !== want || gotCheck !== wantCheck) {
          mismatches.push(`byteOffset=${byteOffset} offset=${offset} length=${length} seed=${seed}: want ${want}, got ${got} / ${gotCheck}`);
        }
      }
    }
  }
  t.equal(checked, 8 * 8 * 101);
  t.same(mismatches.slice(0, 5), [], 'no mismatches');
});

t.test('every length 0..2000 at random odd/even offsets, byteOffsets and seeds', async (t) => {
  const ab = new ArrayBuffer(4096 + 64);
  const random = prng(0xc0ffee);
  const mismatches: string[] = [];
  let odd = 0;
  for (let length = 0; length <= 2000; length++) {
    for (let trial = 0; trial < 4; trial++) {
      const byteOffset = trial === 0 ? 1 : trial === 1 ? 2 : random() % 16; // always one odd and one 2-mod-4 view
      const offset = trial === 0 ? 0 : trial === 1 ? 1 : random() % 32;
      const view = new Uint8Array(ab, byteOffset, offset + length + (random() % 8));
      fillRandom(view, random);
      const seed = trial === 3 ? random() * 0x10000 + random() : random() & 0x3ffff; // one large seed per length
      if (((byteOffset + offset) & 1) === 1) odd++;
      const want = naiveSum(view, offset, length, seed);
      const got = sum16(view, offset, length, seed);
      const gotBytes = sum16Bytes(view, offset, length, seed);
      const gotCheck = checksum(view, offset, length, seed);
      if (got !== want || gotBytes !== want || gotCheck !== 0xffff - want) {
        mismatches.push(`length=${length} byteOffset=${byteOffset} offset=${offset} seed=${seed}: want ${want} got ${got}/${gotBytes}/${gotCheck}`);
      }
    }
  }
  t.ok(odd > 2000, `odd absolute starts exercised (${odd})`);
  t.same(mismatches.slice(0, 5), [], 'no mismatches over 8004 ranges');
});

t.test('carry-heavy data: all 0xff, all 0x00, alternating', async (t) => {
  const ab = new ArrayBuffer(70000);
  for (const byteOffset of [0, 1, 2, 3]) {
    for (const length of [0, 1, 2, 31, 32, 33, 63, 64, 65, 1499, 1500, 9001, 65535]) {
      for (const fillByte of [0x00, 0xff, 0x80, 0x01]) {
        const view = new Uint8Array(ab, byteOffset, length + 3);
        view.fill(fillByte);
        for (const offset of [0, 1]) {
          const n = Math.min(length, view.length - offset);
          t.equal(sum16(view, offset, n), naiveSum(view, offset, n), `fill ${fillByte} length ${n} at ${byteOffset}+${offset}`);
        }
      }
    }
  }
  // All-zero data sums to 0 ("+0"), all-ones to 0xffff ("-0"): the two zeros stay distinct.
  t.equal(sum16(new Uint8Array(1000), 0, 1000), 0);
  t.equal(checksum(new Uint8Array(1000), 0, 1000), 0xffff);
  t.equal(sum16(new Uint8Array(1000).fill(0xff), 0, 1000), 0xffff);
});

t.test('a large random buffer (100,000 bytes) at an odd byteOffset', async (t) => {
  const ab = new ArrayBuffer(100_008);
  const view = new Uint8Array(ab, 5, 100_001);
  fillRandom(view, prng(42));
  for (const [offset, length] of [
    [0, 100_001],
    [1, 100_000],
    [3, 65_535],
    [7, 99_990],
  ]) {
    t.equal(sum16(view, offset, length, 17), naiveSum(view, offset, length, 17), `offset ${offset} length ${length}`);
  }
});

t.test('reads nothing outside [offset, offset + length)', async (t) => {
  const ab = new ArrayBuffer(512);
  const whole = new Uint8Array(ab);
  const random = prng(7);
  let differences = 0;
  for (let run = 0; run < 400; run++) {
    const byteOffset = random() % 8;
    const view = new Uint8Array(ab, byteOffset, 400);
    const offset = random() % 40;
    const length = random() % 300;
    const data = new Uint8Array(length);
    fillRandom(data, random);
    const results: number[] = [];
    for (const poison of [0x00, 0xff, 0x5a]) {
      whole.fill(poison);
      view.set(data, offset);
      results.push(sum16(view, offset, length, 3));
    }
    if (results[0] !== results[1] || results[1] !== results[2] || results[0] !== naiveSum(data, 0, length, 3)) differences++;
  }
  t.equal(differences, 0, 'result depends only on the bytes in range');
});

t.test('the cached word view follows the buffer', async (t) => {
  const random = prng(99);
  const a = new Uint8Array(new ArrayBuffer(300), 1, 256);
  const b = new Uint8Array(new ArrayBuffer(300), 1, 256);
  fillRandom(a, random);
  fillRandom(b, random);
  for (let i = 0; i < 6; i++) {
    const v = i % 2 === 0 ? a : b;
    t.equal(sum16(v, 0, 256), naiveSum(v, 0, 256), `alternating buffers, call ${i}`);
  }
  // A fresh view over the same buffer at another byteOffset.
  const c = new Uint8Array(a.buffer, 3, 200);
  t.equal(sum16(c, 1, 190), naiveSum(c, 1, 190));
  // A SharedArrayBuffer works like any other.
  const shared = new Uint8Array(new SharedArrayBuffer(260), 2, 250);
  fillRandom(shared, random);
  t.equal(sum16(shared, 1, 249), naiveSum(shared, 1, 249));
});

t.test('a resizable ArrayBuffer that grows and shrinks between calls', async (t) => {
  // Resizable buffers are ES2024 (Node 20 has them); typed locally since the tests target ES2022.
  type Resizable = ArrayBuffer & { resize(byteLength: number): void };
  const Resizable = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => Resizable;
  const ab = new Resizable(64, { maxByteLength: 8192 });
  const view = new Uint8Array(ab); // length-tracking
  view.fill(1);
  t.equal(sum16(view, 0, 64), naiveSum(view, 0, 64), 'before resizing');
  ab.resize(4096);
  fillRandom(view, prng(3));
  t.equal(view.length, 4096);
  t.equal(sum16(view, 0, 4096), naiveSum(view, 0, 4096), 'after growing');
  t.equal(sum16(view, 1, 4000), naiveSum(view, 1, 4000), 'after growing, odd offset');
  ab.resize(100);
  t.equal(sum16(view, 0, 100), naiveSum(view, 0, 100), 'after shrinking');
  ab.resize(2050);
  t.equal(sum16(view, 3, 2047), naiveSum(view, 3, 2047), 'after growing to a size that is not a multiple of 4');
});

t.test('a stored checksum makes the data verify', async (t) => {
  const random = prng(5);
  let bad = 0;
  for (let run = 0; run < 500; run++) {
    const length = 2 + 2 * (random() % 700);
    const view = new Uint8Array(new ArrayBuffer(length + 8), 1 + (random() % 4), length);
    fillRandom(view, random);
    const at = 2 * (random() % (length / 2));
    view[at] = 0;
    view[at + 1] = 0;
    const c = checksum(view, 0, length);
    view[at] = c >>> 8;
    view[at + 1] = c & 0xff;
    if (sum16(view, 0, length) !== 0xffff) bad++;
  }
  t.equal(bad, 0);
});

/** Words (not all zero: word 0 is forced nonzero) as bytes, and their checksum. */
const wordsArb = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 2, maxLength: 64 }).map((ws) => {
  if (ws[0] === 0) ws[0] = 0x4500;
  return ws;
});

function wordBytes(ws: number[]): Uint8Array {
  const b = new Uint8Array(ws.length * 2);
  ws.forEach((w, i) => {
    b[2 * i] = w >>> 8;
    b[2 * i + 1] = w & 0xff;
  });
  return b;
}

t.test('adjustChecksum equals full recomputation after one word changes (RFC 1624)', async (t) => {
  fc.assert(
    fc.property(wordsArb, fc.nat(), fc.integer({ min: 0, max: 0xffff }), (ws, pick, newWord) => {
      const index = 1 + (pick % (ws.length - 1)); // word 0 stays nonzero, so the data is never all zero
      const before = checksum(wordBytes(ws), 0, ws.length * 2);
      const oldWord = ws[index];
      ws[index] = newWord;
      const after = checksum(wordBytes(ws), 0, ws.length * 2);
      return adjustChecksum(before, oldWord, newWord) === after;
    }),
    { numRuns: 5000 },
  );
  t.pass('held for 5000 random word changes');
  // Hand-picked corners: to and from 0x0000 / 0xffff, and no change at all.
  const ws = [0x4500, 0x0000, 0xffff, 0x1234];
  const c = checksum(wordBytes(ws), 0, 8);
  t.equal(adjustChecksum(c, 0x1234, 0x1234), c, 'an unchanged word leaves the checksum');
  for (const [index, value] of [
    [1, 0xffff],
    [2, 0x0000],
    [3, 0x0000],
    [3, 0xffff],
    [1, 0x0001],
  ]) {
    const changed = ws.slice();
    changed[index] = value;
    t.equal(adjustChecksum(c, ws[index], value), checksum(wordBytes(changed), 0, 8), `word ${index} -> ${value.toString(16)}`);
  }
  // The router case RFC 1624 is about: a TTL decrement patched into a real header.
  const header = new Uint8Array(20);
  ipv4.write(header, 0, { totalLength: 20, protocol: 17, ttl: 64, src: 0xc0000201, dst: 0xc0000202 });
  const stored = (header[10] << 8) | header[11];
  const next = adjustChecksum(stored, (64 << 8) | 17, (63 << 8) | 17);
  header[8] = 63;
  header[10] = next >>> 8;
  header[11] = next & 0xff;
  t.equal(sum16(header, 0, 20), 0xffff, 'TTL decrement patched incrementally still verifies');
});

t.test('adjustChecksum32 equals full recomputation after a 32-bit address changes', async (t) => {
  const header = new Uint8Array(20);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 1, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.nat({ max: 0xffffffff }),
      fc.nat({ max: 0xffffffff }),
      fc.nat({ max: 0xffffffff }),
      fc.boolean(),
      (id, ttl, protocol, src, dst, newAddress, changeSrc) => {
        ipv4.write(header, 0, { totalLength: 20 + (id & 0x3ff), id, ttl, protocol, src, dst });
        const before = (header[10] << 8) | header[11];
        const adjusted = adjustChecksum32(before, changeSrc ? src : dst, newAddress);
        ipv4.write(header, 0, {
          totalLength: 20 + (id & 0x3ff),
          id,
          ttl,
          protocol,
          src: changeSrc ? newAddress : src,
          dst: changeSrc ? dst : newAddress,
        });
        const recomputed = (header[10] << 8) | header[11];
        return adjusted === recomputed;
      },
    ),
    { numRuns: 5000 },
  );
  t.pass('held for 5000 random headers and address changes');
  // And on bare data, with the address anywhere in the word list.
  fc.assert(
    fc.property(
      wordsArb.filter((ws) => ws.length >= 3),
      fc.nat(),
      fc.nat({ max: 0xffffffff }),
      (ws, pick, value) => {
        const index = 1 + (pick % (ws.length - 2));
        const oldValue = ((ws[index] << 16) | ws[index + 1]) >>> 0;
        const before = checksum(wordBytes(ws), 0, ws.length * 2);
        ws[index] = value >>> 16;
        ws[index + 1] = value & 0xffff;
        return adjustChecksum32(before, oldValue, value) === checksum(wordBytes(ws), 0, ws.length * 2);
      },
    ),
    { numRuns: 3000 },
  );
  t.pass('held for 3000 random word lists');
});
