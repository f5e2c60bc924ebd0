/**
 * IPv6 fixed header (RFC 8200) and the walk over extension headers that
 * finds the upper-layer protocol.
 */
import { readU16, writeU16 } from './bytes.js';
import { sum16 } from './checksum.js';
import { fail, newFault, WireError, type Fault } from './fault.js';

/** Length of the fixed header: 40 bytes. */
export const HEADER = 40;
/** Offset of the payload length (16 bits): the bytes after the fixed header. */
export const OFF_PAYLOAD_LENGTH = 4;
/** Offset of the next-header byte: an extension header or the upper-layer protocol. */
export const OFF_NEXT_HEADER = 6;
/** Offset of the hop limit byte. */
export const OFF_HOP_LIMIT = 7;
/** Offset of the source address (16 bytes). */
export const OFF_SRC = 8;
/** Offset of the destination address (16 bytes). */
export const OFF_DST = 24;

/** Next header: Hop-by-Hop Options (an extension header). */
export const NEXT_HOP_BY_HOP = 0;
/** Next header: TCP. */
export const NEXT_TCP = 6;
/** Next header: UDP. */
export const NEXT_UDP = 17;
/** Next header: Routing (an extension header). */
export const NEXT_ROUTING = 43;
/** Next header: Fragment (an extension header). */
export const NEXT_FRAGMENT = 44;
/** Next header: ICMPv6. */
export const NEXT_ICMPV6 = 58;
/** Next header: No Next Header. */
export const NEXT_NONE = 59;
/** Next header: Destination Options (an extension header). */
export const NEXT_DEST_OPTS = 60;

/** An IPv6 fixed header as `parse` reads it; create one with `newHeader()` and reuse it. */
export interface IPv6Header {
  trafficClass: number;
  flowLabel: number;
  payloadLength: number; // bytes after the fixed header
  nextHeader: number;
  hopLimit: number;
  src: Uint8Array; // 16 bytes, owned by this object
  dst: Uint8Array;
}

/** A fresh IPv6Header for `parse`, with address arrays of its own. */
export function newHeader(): IPv6Header {
  return { trafficClass: 0, flowLabel: 0, payloadLength: 0, nextHeader: NEXT_NONE, hopLimit: 64, src: new Uint8Array(16), dst: new Uint8Array(16) };
}

/** Parses the fixed header at `offset` with `length` bytes available (trailing padding allowed). */
export function parse(bytes: Uint8Array, offset: number, length: number, out: IPv6Header, fault?: Fault): boolean {
  if (length < HEADER) return fail(fault, 'truncated', 'ipv6', length, `at least ${HEADER} bytes`);
  const version = bytes[offset] >>> 4;
  if (version !== 6) return fail(fault, 'version', 'ipv6.version', version, '6');
  const payloadLength = readU16(bytes, offset + OFF_PAYLOAD_LENGTH);
  if (HEADER + payloadLength > length) {
    return fail(fault, 'length', 'ipv6.payloadLength', payloadLength, `0..${length - HEADER}`);
  }
  out.trafficClass = ((bytes[offset] & 0x0f) << 4) | (bytes[offset + 1] >>> 4);
  out.flowLabel = ((bytes[offset + 1] & 0x0f) << 16) | readU16(bytes, offset + 2);
  out.payloadLength = payloadLength;
  out.nextHeader = bytes[offset + OFF_NEXT_HEADER];
  out.hopLimit = bytes[offset + OFF_HOP_LIMIT];
  out.src.set(bytes.subarray(offset + OFF_SRC, offset + OFF_SRC + 16));
  out.dst.set(bytes.subarray(offset + OFF_DST, offset + OFF_DST + 16));
  return true;
}

/** Parse, or throw a WireError that names the field. */
export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): IPv6Header {
  const out = newHeader();
  const fault = newFault();
  if (!parse(bytes, offset, length, out, fault)) throw new WireError(fault);
  return out;
}

/** What `write` puts in a fixed header; traffic class and flow label default to 0, the hop limit to 64. */
export interface IPv6Fields {
  trafficClass?: number;
  flowLabel?: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit?: number;
  src: Uint8Array;
  dst: Uint8Array;
}

/** Writes the 40-byte fixed header. Returns its length. */
export function write(bytes: Uint8Array, offset: number, h: IPv6Fields): number {
  const tc = h.trafficClass ?? 0;
  const fl = h.flowLabel ?? 0;
  bytes[offset] = 0x60 | (tc >>> 4);
  bytes[offset + 1] = ((tc & 0x0f) << 4) | ((fl >>> 16) & 0x0f);
  writeU16(bytes, offset + 2, fl & 0xffff);
  writeU16(bytes, offset + OFF_PAYLOAD_LENGTH, h.payloadLength);
  bytes[offset + OFF_NEXT_HEADER] = h.nextHeader;
  bytes[offset + OFF_HOP_LIMIT] = h.hopLimit ?? 64;
  bytes.set(h.src, offset + OFF_SRC);
  bytes.set(h.dst, offset + OFF_DST);
  return HEADER;
}

/** Sum of the IPv6 pseudo-header (RFC 8200 §8.1) for an upper-layer checksum. */
export function pseudoHeaderSum(bytes: Uint8Array, ipOffset: number, nextHeader: number, l4Length: number): number {
  return sum16(bytes, ipOffset + OFF_SRC, 32, nextHeader + (l4Length >>> 16) + (l4Length & 0xffff));
}

/**
 * Walks extension headers from the fixed header at `offset`. Returns the
 * offset of the upper-layer header and stores its protocol in `result[0]`
 * (and in `result[1]` 1 if a Fragment header was passed, else 0), or returns
 * -1 if the chain runs past `end` or hits a non-first fragment. No
 * allocation: `result` is caller-owned.
 */
export function upperLayer(bytes: Uint8Array, offset: number, end: number, result: Int32Array | number[]): number {
  let next = bytes[offset + OFF_NEXT_HEADER];
  let at = offset + HEADER;
  result[1] = 0;
  for (let hops = 0; hops < 8; hops++) {
    switch (next) {
      case NEXT_HOP_BY_HOP:
      case NEXT_ROUTING:
      case NEXT_DEST_OPTS:
        if (at + 8 > end) return -1;
        next = bytes[at];
        at += (bytes[at + 1] + 1) * 8;
        break;
      case NEXT_FRAGMENT:
        if (at + 8 > end) return -1;
        if ((readU16(bytes, at + 2) & 0xfff8) !== 0) return -1; // not the first fragment: no ports here
        result[1] = 1;
        next = bytes[at];
        at += 8;
        break;
      default:
        if (at > end) return -1;
        result[0] = next;
        return at;
    }
  }
  return -1;
}
