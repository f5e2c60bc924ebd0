/**
 * Anti-entropy digests: records hash into TOPS × SUBS buckets by key; each
 * bucket holds the XOR of its records' content fingerprints, kept current on
 * every change (XOR out the old, XOR in the new). Two nodes compare the TOPS
 * top-level hashes (128 bytes); only for differing tops do they compare the
 * SUBS sub-bucket hashes; only for differing sub-buckets do records move.
 */

export const TOPS = 32;
export const SUBS = 32;
export const BUCKETS = TOPS * SUBS;

export function bucketOf(keyHash: number): number {
  return (keyHash >>> 7) % BUCKETS;
}

export class Digest {
  readonly sub: Uint32Array;
  readonly top: Uint32Array;

  constructor(from?: Digest) {
    this.sub = from ? from.sub.slice() : new Uint32Array(BUCKETS);
    this.top = from ? from.top.slice() : new Uint32Array(TOPS);
  }

  /** XORs a fingerprint into (or out of) the record's bucket. */
  toggle(keyHash: number, content: number): void {
    const b = bucketOf(keyHash);
    this.sub[b] ^= content;
    this.top[(b / SUBS) | 0] ^= content;
  }
}
