/** UDP header (RFC 768) and its checksum over an IPv4 or IPv6 pseudo-header. */
import { readU16, writeU16 } from './bytes.js';
import { checksum, sum16 } from './checksum.js';
import { fail, newFault, WireError, type Fault } from './fault.js';
import * as ipv4 from './ipv4.js';
import * as ipv6 from './ipv6.js';

/** Length of the UDP header: 8 bytes. */
export const HEADER = 8;
/** Offset of the source port (16 bits). */
export const OFF_SRC_PORT = 0;
/** Offset of the destination port (16 bits). */
export const OFF_DST_PORT = 2;
/** Offset of the length (16 bits): header and payload, in bytes. */
export const OFF_LENGTH = 4;
/** Offset of the checksum (16 bits; 0 over IPv4 means none). */
export const OFF_CHECKSUM = 6;

/** A UDP header as `parse` reads it; create one with `newHeader()` and reuse it. */
export interface UdpHeader {
  srcPort: number;
  dstPort: number;
  length: number; // header + payload
  checksum: number;
}

/** A fresh UdpHeader for `parse`. */
export function newHeader(): UdpHeader {
  return { srcPort: 0, dstPort: 0, length: HEADER, checksum: 0 };
}

/**
 * Parses the UDP header at `offset` with `length` bytes available: checks that the length field fits. Returns
 * false and fills `fault` on bad input.
 */
export function parse(bytes: Uint8Array, offset: number, length: number, out: UdpHeader, fault?: Fault): boolean {
  if (length < HEADER) return fail(fault, 'truncated', 'udp', length, `at least ${HEADER} bytes`);
  const udpLength = readU16(bytes, offset + OFF_LENGTH);
  if (udpLength < HEADER || udpLength > length) return fail(fault, 'length', 'udp.length', udpLength, `${HEADER}..${length}`);
  out.srcPort = readU16(bytes, offset);
  out.dstPort = readU16(bytes, offset + OFF_DST_PORT);
  out.length = udpLength;
  out.checksum = readU16(bytes, offset + OFF_CHECKSUM);
  return true;
}

/** Parse, or throw a WireError that names the field. */
export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): UdpHeader {
  const out = newHeader();
  const fault = newFault();
  if (!parse(bytes, offset, length, out, fault)) throw new WireError(fault);
  return out;
}

/** Writes a UDP header with a zero checksum (fill it with `fillChecksum` once the payload is in place). Returns its length. */
export function write(bytes: Uint8Array, offset: number, srcPort: number, dstPort: number, length: number): number {
  writeU16(bytes, offset, srcPort);
  writeU16(bytes, offset + OFF_DST_PORT, dstPort);
  writeU16(bytes, offset + OFF_LENGTH, length);
  writeU16(bytes, offset + OFF_CHECKSUM, 0);
  return HEADER;
}

/**
 * Computes and stores the UDP checksum of the datagram at `udpOffset` inside
 * the IP packet at `ipOffset` (version read from the packet). A computed 0 is
 * sent as 0xffff (RFC 768). Returns the value stored.
 */
export function fillChecksum(bytes: Uint8Array, ipOffset: number, udpOffset: number, udpLength: number): number {
  bytes[udpOffset + OFF_CHECKSUM] = 0;
  bytes[udpOffset + OFF_CHECKSUM + 1] = 0;
  const seed =
    bytes[ipOffset] >>> 4 === 6
      ? ipv6.pseudoHeaderSum(bytes, ipOffset, ipv6.NEXT_UDP, udpLength)
      : ipv4.pseudoHeaderSum(bytes, ipOffset, ipv4.PROTO_UDP, udpLength);
  const value = checksum(bytes, udpOffset, udpLength, seed) || 0xffff;
  writeU16(bytes, udpOffset + OFF_CHECKSUM, value);
  return value;
}

/** True when the stored checksum verifies (or is 0, "none", over IPv4). */
export function verifyChecksum(bytes: Uint8Array, ipOffset: number, udpOffset: number, udpLength: number): boolean {
  const isV6 = bytes[ipOffset] >>> 4 === 6;
  const stored = readU16(bytes, udpOffset + OFF_CHECKSUM);
  if (stored === 0) return !isV6;
  const seed = isV6 ? ipv6.pseudoHeaderSum(bytes, ipOffset, ipv6.NEXT_UDP, udpLength) : ipv4.pseudoHeaderSum(bytes, ipOffset, ipv4.PROTO_UDP, udpLength);
  return sum16(bytes, udpOffset, udpLength, seed) === 0xffff;
}
