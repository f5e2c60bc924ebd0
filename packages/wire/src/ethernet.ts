/** Ethernet II header: destination MAC, source MAC, ethertype. No VLAN tags. */
import { readU16, writeU16 } from './bytes.js';
import { fail, newFault, WireError, type Fault } from './fault.js';

/** Length of an Ethernet II header without VLAN tags: 14 bytes. */
export const HEADER = 14;
/** Offset of the destination MAC (6 bytes). */
export const OFF_DST = 0;
/** Offset of the source MAC (6 bytes). */
export const OFF_SRC = 6;
/** Offset of the ethertype (16 bits). */
export const OFF_ETHERTYPE = 12;

/** Ethertype of IPv4. */
export const ETHERTYPE_IPV4 = 0x0800;
/** Ethertype of ARP. */
export const ETHERTYPE_ARP = 0x0806;
/** Ethertype of IPv6. */
export const ETHERTYPE_IPV6 = 0x86dd;

/** An Ethernet header as `parse` reads it; create one with `newHeader()` and reuse it. */
export interface EthernetHeader {
  dst: Uint8Array; // 6 bytes, owned by this object
  src: Uint8Array;
  etherType: number;
}

/** A fresh EthernetHeader for `parse`, with MAC arrays of its own. */
export function newHeader(): EthernetHeader {
  return { dst: new Uint8Array(6), src: new Uint8Array(6), etherType: 0 };
}

/** Parses the Ethernet II header at `offset` (no VLAN tags). Returns false and fills `fault` when fewer than 14 bytes are available. */
export function parse(bytes: Uint8Array, offset: number, length: number, out: EthernetHeader, fault?: Fault): boolean {
  if (length < HEADER) return fail(fault, 'truncated', 'ethernet', length, `at least ${HEADER} bytes`);
  out.dst.set(bytes.subarray(offset, offset + 6));
  out.src.set(bytes.subarray(offset + 6, offset + 12));
  out.etherType = readU16(bytes, offset + OFF_ETHERTYPE);
  return true;
}

/** Parse, or throw a WireError that names the field. */
export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): EthernetHeader {
  const out = newHeader();
  const fault = newFault();
  if (!parse(bytes, offset, length, out, fault)) throw new WireError(fault);
  return out;
}

/** Writes an Ethernet II header from 6-byte MACs. Returns its length. */
export function write(bytes: Uint8Array, offset: number, dst: Uint8Array, src: Uint8Array, etherType: number): number {
  bytes.set(dst.subarray(0, 6), offset);
  bytes.set(src.subarray(0, 6), offset + OFF_SRC);
  writeU16(bytes, offset + OFF_ETHERTYPE, etherType);
  return HEADER;
}

/** The ethertype that carries an IP packet whose first byte is `firstByte`, or 0. */
export function etherTypeForIP(firstByte: number): number {
  const version = firstByte >>> 4;
  return version === 4 ? ETHERTYPE_IPV4 : version === 6 ? ETHERTYPE_IPV6 : 0;
}
