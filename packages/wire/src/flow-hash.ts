/**
 * A hash over the inner flow (addresses, protocol, ports) that picks the outer
 * UDP source port, so that ECMP and RSS on the underlay spread flows while
 * keeping each flow on one path (RFC 7348 §5). Fragments and unknown upper
 * layers hash on addresses and protocol only, so all pieces of a flow agree.
 */
import { readU16, readU32 } from './bytes.js';
import * as ipv4 from './ipv4.js';
import * as ipv6 from './ipv6.js';

/** The bottom of the range `sourcePort` maps onto: RFC 6335's dynamic range, which RFC 7348 recommends. */
export const SOURCE_PORT_MIN = 49152;
/** The top of the range `sourcePort` maps onto. */
export const SOURCE_PORT_MAX = 65535;

const PROTO_SCTP = 132;
const PROTO_UDPLITE = 136;
const scratch = new Int32Array(2);

function mix(h: number, word: number): number {
  h = Math.imul(h ^ word, 0x9e3779b1);
  return (h << 13) | (h >>> 19);
}

function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hasPorts(protocol: number): boolean {
  return protocol === ipv4.PROTO_TCP || protocol === ipv4.PROTO_UDP || protocol === PROTO_SCTP || protocol === PROTO_UDPLITE;
}

/**
 * Hash of the IP packet at `offset` (`length` bytes). Reads only inside the
 * given range; a packet too short for its headers hashes on what is there.
 */
export function flowHash(bytes: Uint8Array, offset: number, length: number, seed = 0): number {
  return flowHashInt32(bytes, offset, length, seed) >>> 0;
}

/**
 * Which of `slots` (0 … slots - 1) the packet's flow maps to, by the same hash and multiply-shift as
 * sourcePort(): the socket a flow leaves on. A small integer, so the data plane can pick per packet
 * without allocating (an unsigned 32-bit result, returned, would be a boxed number).
 */
export function flowSlot(bytes: Uint8Array, offset: number, length: number, slots: number): number {
  return Math.floor(((flowHashInt32(bytes, offset, length, 0) >>> 0) * slots) / 0x100000000);
}

/** flowHash as a signed 32-bit integer, which V8 returns unboxed. */
function flowHashInt32(bytes: Uint8Array, offset: number, length: number, seed: number): number {
  let h = seed ^ 0x7f4a7c15;
  if (length < 1) return finish(h) | 0;
  const version = bytes[offset] >>> 4;
  if (version === 4 && length >= ipv4.MIN_HEADER) {
    const protocol = bytes[offset + ipv4.OFF_PROTOCOL];
    h = mix(h, readU32(bytes, offset + ipv4.OFF_SRC));
    h = mix(h, readU32(bytes, offset + ipv4.OFF_DST));
    h = mix(h, protocol);
    const fragment = readU16(bytes, offset + ipv4.OFF_FLAGS_FRAGMENT) & (ipv4.FLAG_MF | ipv4.FRAGMENT_MASK);
    const l4 = offset + (bytes[offset] & 0x0f) * 4;
    if (fragment === 0 && hasPorts(protocol) && l4 + 4 <= offset + length) h = mix(h, readU32(bytes, l4));
    return finish(h) | 0;
  }
  if (version === 6 && length >= ipv6.HEADER) {
    for (let i = ipv6.OFF_SRC; i < ipv6.OFF_SRC + 32; i += 4) h = mix(h, readU32(bytes, offset + i));
    const flowLabel = readU32(bytes, offset) & 0xfffff;
    const l4 = ipv6.upperLayer(bytes, offset, offset + length, scratch);
    // Any fragment (the first too) hashes on addresses and flow label, so all pieces agree.
    if (l4 >= 0 && scratch[1] === 0) {
      h = mix(h, scratch[0]);
      if (hasPorts(scratch[0]) && l4 + 4 <= offset + length) h = mix(h, readU32(bytes, l4));
      else h = mix(h, flowLabel);
    } else {
      h = mix(h, flowLabel);
    }
    return finish(h) | 0;
  }
  return finish(mix(h, bytes[offset])) | 0;
}

/** Maps a hash onto [min, max] the way Linux does (multiply-shift, no modulo bias worth noting). */
export function sourcePort(hash: number, min = SOURCE_PORT_MIN, max = SOURCE_PORT_MAX): number {
  return min + Math.floor(((hash >>> 0) * (max - min + 1)) / 0x100000000);
}
