/**
 * An exact-match table from 128-bit keys (four 32-bit words) to small
 * integers, for per-packet IPv6 lookups without allocation: open addressing
 * over typed arrays, built once per route snapshot and then only read.
 */
export class Table6 {
  private readonly slots: Int32Array; // entry index + 1, 0 = empty
  private readonly keys: Uint32Array;
  private readonly values: Int32Array;
  private readonly mask: number;

  constructor(entries: readonly { words: ArrayLike<number>; value: number }[]) {
    let capacity = 8;
    while (capacity < entries.length * 2) capacity *= 2;
    this.slots = new Int32Array(capacity);
    this.keys = new Uint32Array(entries.length * 4);
    this.values = new Int32Array(entries.length);
    this.mask = capacity - 1;
    let n = 0;
    for (const { words, value } of entries) {
      if (this.get(words[0], words[1], words[2], words[3]) >= 0) continue; // first one wins, as in the IPv4 Map
      for (let w = 0; w < 4; w++) this.keys[n * 4 + w] = words[w];
      this.values[n] = value;
      let slot = hash(words[0], words[1], words[2], words[3]) & this.mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = ++n;
    }
  }

  /** The value for the key, or -1. */
  get(w0: number, w1: number, w2: number, w3: number): number {
    let slot = hash(w0, w1, w2, w3) & this.mask;
    for (;;) {
      const entry = this.slots[slot] - 1;
      if (entry < 0) return -1;
      const k = entry * 4;
      if (this.keys[k] === w0 >>> 0 && this.keys[k + 1] === w1 >>> 0 && this.keys[k + 2] === w2 >>> 0 && this.keys[k + 3] === w3 >>> 0) {
        return this.values[entry];
      }
      slot = (slot + 1) & this.mask;
    }
  }
}

function hash(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0 ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15) ^ w1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 13) ^ w2, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 16) ^ w3, 0x165667b1);
  return (h ^ (h >>> 15)) >>> 0;
}
