/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * `sum16` returns the folded ones' complement sum of big-endian 16-bit words,
 * not complemented, so partial sums (a pseudo-header, a template) can be fed
 * forward as `seed`. `checksum` is the complemented value that goes on the wire.
 *
 * Fast path: on little-endian hosts the bulk is read as 32-bit words through a
 * cached Int32Array view of the buffer and summed as their two 16-bit halves,
 * which are the packet's 16-bit words byte-swapped, so the bulk sum is
 * byte-swapped once at the end when the words line up with the packet's pairs
 * (RFC 1071 §2(B)), and used as is when they are offset by one byte.
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const SHORT = 32; // below this many bytes the byte loop wins over setting up the word loop

let lastBuffer: ArrayBufferLike | null = null;
let lastWords: Int32Array = new Int32Array(0);
const wordViews = new WeakMap<ArrayBufferLike, Int32Array>();

function wordsOf(buffer: ArrayBufferLike): Int32Array {
  // A resizable or growable buffer may have changed size since the view was made.
  const length = buffer.byteLength >>> 2;
  if (buffer === lastBuffer && lastWords.length === length) return lastWords;
  let words = wordViews.get(buffer);
  if (words === undefined || words.length !== length) {
    words = new Int32Array(buffer, 0, length);
    wordViews.set(buffer, words);
  }
  lastBuffer = buffer;
  lastWords = words;
  return words;
}

/** Folds a non-negative sum (up to 2^53) to 16 bits with end-around carry. */
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

function swap16(x: number): number {
  return ((x & 0xff) << 8) | (x >>> 8);
}

/** Byte loop: the reference implementation, and the path for short ranges. */
export function sum16Bytes(bytes: Uint8Array, offset: number, length: number, seed = 0): number {
  let sum = seed;
  const end = offset + length;
  let i = offset;
  for (; i + 1 < end; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i < end) sum += bytes[i] << 8;
  return fold(sum);
}

/**
 * Folded ones'-complement sum of the big-endian 16-bit words at `offset` (RFC 1071), not complemented; `seed`
 * is added in. Word-at-a-time on little-endian hosts, the byte loop elsewhere.
 */
export function sum16(bytes: Uint8Array, offset: number, length: number, seed = 0): number {
  if (length < SHORT || !LITTLE_ENDIAN) return sum16Bytes(bytes, offset, length, seed);
  const base = bytes.byteOffset;
  const end = offset + length;
  let sum = seed;
  // Head: single bytes until the absolute address is 4-aligned.
  let i = offset;
  while (((base + i) & 3) !== 0) {
    sum += (i - offset) & 1 ? bytes[i] : bytes[i] << 8;
    i++;
  }
  const alignedBytes = (end - i) & ~3;
  const words = wordsOf(bytes.buffer);
  const w0 = (base + i) >>> 2;
  const w1 = w0 + (alignedBytes >>> 2);
  const bulk = fold(sumWords(words, w0, w1));
  sum += ((i - offset) & 1) === 0 ? swap16(bulk) : bulk;
  // Tail: the last 0-3 bytes.
  for (i += alignedBytes; i < end; i++) sum += (i - offset) & 1 ? bytes[i] : bytes[i] << 8;
  return fold(sum);
}

/**
 * Sum of words[w0, w1) as 16-bit halves. Each 32-bit word is added as its two
 * halves to keep V8 in small-integer arithmetic (about 1.5x faster than adding
 * uint32 values as doubles); a small function of its own optimizes best.
 */
function sumWords(words: Int32Array, w0: number, w1: number): number {
  let a = 0;
  let b = 0;
  let w = w0;
  for (; w + 1 < w1; w += 2) {
    const x = words[w];
    const y = words[w + 1];
    a += (x & 0xffff) + (x >>> 16);
    b += (y & 0xffff) + (y >>> 16);
  }
  if (w < w1) a += (words[w] & 0xffff) + (words[w] >>> 16);
  return a + b;
}

/** The value written into a checksum field: the complement of the sum. */
export function checksum(bytes: Uint8Array, offset: number, length: number, seed = 0): number {
  return ~sum16(bytes, offset, length, seed) & 0xffff;
}

/**
 * RFC 1624 eqn. 3: the new checksum after a 16-bit word changes from `oldWord`
 * to `newWord`, without touching the rest of the data: HC' = ~(~HC + ~m + m').
 */
export function adjustChecksum(check: number, oldWord: number, newWord: number): number {
  const sum = (~check & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~fold(sum) & 0xffff;
}

/** RFC 1624 for a 32-bit field (an IPv4 address): two 16-bit updates. */
export function adjustChecksum32(check: number, oldValue: number, newValue: number): number {
  const c = adjustChecksum(check, oldValue >>> 16, newValue >>> 16);
  return adjustChecksum(c, oldValue & 0xffff, newValue & 0xffff);
}
