/**
 * Small non-cryptographic hashes: which digest bucket a record falls in and
 * a record's content fingerprint. Integrity comes from the MAC, not from these.
 */

/** FNV-1a over a string's UTF-16 code units, 32 bits. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** FNV-1a over bytes, 32 bits. */
export function hashBytes(b: Uint8Array, start = 0, end = b.length): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= b[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mixes numbers into a hash (murmur3 finaliser steps), 32 bits. */
export function mix(h: number, v: number): number {
  h ^= v >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
