/**
 * IPv4 header (RFC 791). Parse validates and fills a caller-owned object;
 * write builds a 20-byte header (no options) with its checksum.
 */
import { checksum, sum16 } from './checksum.js';
import { readU32, writeU16, writeU32 } from './bytes.js';
import { fail, newFault, WireError, type Fault } from './fault.js';

/** Length of a header without options: 20 bytes (IHL 5). */
export const MIN_HEADER = 20;
/** Offset of the byte holding the version (high nibble) and the header length in 32-bit words (IHL, low nibble). */
export const OFF_VERSION_IHL = 0;
/** Offset of the type-of-service byte (DSCP and ECN). */
export const OFF_TOS = 1;
/** Offset of the total length (16 bits): header and payload, in bytes. */
export const OFF_TOTAL_LENGTH = 2;
/** Offset of the identification field (16 bits). */
export const OFF_ID = 4;
/** Offset of the flags (DF, MF) and the fragment offset, 16 bits together. */
export const OFF_FLAGS_FRAGMENT = 6;
/** Offset of the time-to-live byte. */
export const OFF_TTL = 8;
/** Offset of the protocol byte (PROTO_UDP, PROTO_TCP, ...). */
export const OFF_PROTOCOL = 9;
/** Offset of the header checksum (16 bits). */
export const OFF_CHECKSUM = 10;
/** Offset of the source address (4 bytes). */
export const OFF_SRC = 12;
/** Offset of the destination address (4 bytes). */
export const OFF_DST = 16;

/** Don't Fragment, in the 16-bit flags and fragment-offset field. */
export const FLAG_DF = 0x4000;
/** More Fragments, in the 16-bit flags and fragment-offset field. */
export const FLAG_MF = 0x2000;
/** The fragment offset (in 8-byte units) within the 16-bit flags and fragment-offset field. */
export const FRAGMENT_MASK = 0x1fff;

/** Protocol number of ICMP. */
export const PROTO_ICMP = 1;
/** Protocol number of TCP. */
export const PROTO_TCP = 6;
/** Protocol number of UDP. */
export const PROTO_UDP = 17;

/** An IPv4 header as `parse` reads it; create one with `newHeader()` and reuse it. */
export interface IPv4Header {
  headerLength: number; // bytes, 20..60
  tos: number;
  totalLength: number; // bytes, header included
  id: number;
  dontFragment: boolean;
  moreFragments: boolean;
  fragmentOffset: number; // in 8-byte units
  ttl: number;
  protocol: number;
  checksum: number;
  src: number; // unsigned 32-bit
  dst: number;
}

/** A fresh IPv4Header for `parse` (a 20-byte header, all fields zero but TTL 64). */
export function newHeader(): IPv4Header {
  return {
    headerLength: MIN_HEADER,
    tos: 0,
    totalLength: MIN_HEADER,
    id: 0,
    dontFragment: false,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol: 0,
    checksum: 0,
    src: 0,
    dst: 0,
  };
}

/** Options of `parse` and `decode`. */
export interface ParseOptions {
  /** Reject a header whose checksum does not verify (default true). */
  verifyChecksum?: boolean;
}

/**
 * Parses the IPv4 header at `offset`, where `length` bytes are available.
 * The packet may be shorter than `length` (trailing Ethernet padding) but
 * never longer. Returns false and fills `fault` on bad input.
 */
export function parse(bytes: Uint8Array, offset: number, length: number, out: IPv4Header, fault?: Fault, options?: ParseOptions): boolean {
  if (length < MIN_HEADER) return fail(fault, 'truncated', 'ipv4', length, `at least ${MIN_HEADER} bytes`);
  const b0 = bytes[offset];
  const version = b0 >>> 4;
  if (version !== 4) return fail(fault, 'version', 'ipv4.version', version, '4');
  const headerLength = (b0 & 0x0f) * 4;
  if (headerLength < MIN_HEADER) return fail(fault, 'ihl', 'ipv4.ihl', b0 & 0x0f, '5..15 words');
  if (headerLength > length) return fail(fault, 'ihl', 'ipv4.ihl', b0 & 0x0f, `at most ${length >>> 2} words in a ${length}-byte buffer`);
  const totalLength = (bytes[offset + 2] << 8) | bytes[offset + 3];
  if (totalLength < headerLength || totalLength > length) {
    return fail(fault, 'length', 'ipv4.totalLength', totalLength, `${headerLength}..${length}`);
  }
  if (options?.verifyChecksum !== false && sum16(bytes, offset, headerLength) !== 0xffff) {
    return fail(fault, 'checksum', 'ipv4.checksum', (bytes[offset + 10] << 8) | bytes[offset + 11], 'a header that sums to 0xffff');
  }
  const flagsFragment = (bytes[offset + 6] << 8) | bytes[offset + 7];
  out.headerLength = headerLength;
  out.tos = bytes[offset + 1];
  out.totalLength = totalLength;
  out.id = (bytes[offset + 4] << 8) | bytes[offset + 5];
  out.dontFragment = (flagsFragment & FLAG_DF) !== 0;
  out.moreFragments = (flagsFragment & FLAG_MF) !== 0;
  out.fragmentOffset = flagsFragment & FRAGMENT_MASK;
  out.ttl = bytes[offset + 8];
  out.protocol = bytes[offset + 9];
  out.checksum = (bytes[offset + 10] << 8) | bytes[offset + 11];
  out.src = readU32(bytes, offset + 12);
  out.dst = readU32(bytes, offset + 16);
  return true;
}

/** Parse, or throw a WireError that names the field. */
export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset, options?: ParseOptions): IPv4Header {
  const out = newHeader();
  const fault = newFault();
  if (!parse(bytes, offset, length, out, fault, options)) throw new WireError(fault);
  return out;
}

/** What `write` puts in a header; the optional fields default to 0, DF clear and TTL 64. */
export interface IPv4Fields {
  tos?: number;
  totalLength: number;
  id?: number;
  dontFragment?: boolean;
  ttl?: number;
  protocol: number;
  src: number;
  dst: number;
}

/** Writes a 20-byte header (no options) with a valid checksum. Returns its length. */
export function write(bytes: Uint8Array, offset: number, h: IPv4Fields): number {
  bytes[offset] = 0x45;
  bytes[offset + 1] = h.tos ?? 0;
  writeU16(bytes, offset + 2, h.totalLength);
  writeU16(bytes, offset + 4, h.id ?? 0);
  writeU16(bytes, offset + 6, h.dontFragment ? FLAG_DF : 0);
  bytes[offset + 8] = h.ttl ?? 64;
  bytes[offset + 9] = h.protocol;
  bytes[offset + 10] = 0;
  bytes[offset + 11] = 0;
  writeU32(bytes, offset + 12, h.src);
  writeU32(bytes, offset + 16, h.dst);
  writeU16(bytes, offset + 10, checksum(bytes, offset, MIN_HEADER));
  return MIN_HEADER;
}

/** Sum of the IPv4 pseudo-header (RFC 768) for an upper-layer checksum. */
export function pseudoHeaderSum(bytes: Uint8Array, ipOffset: number, protocol: number, l4Length: number): number {
  return sum16(bytes, ipOffset + OFF_SRC, 8, protocol + l4Length);
}
