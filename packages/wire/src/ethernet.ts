/** Ethernet II header: destination MAC, source MAC, ethertype. No VLAN tags. */
import { readU16, writeU16 } from './bytes.js';
import { fail, newFault, WireError, type Fault } from './fault.js';

export const HEADER = 14;
export const OFF_DST = 0;
export const OFF_SRC = 6;
export const OFF_ETHERTYPE = 12;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

export interface EthernetHeader {
  dst: Uint8Array; // 6 bytes, owned by this object
  src: Uint8Array;
  etherType: number;
}

export function newHeader(): EthernetHeader {
  return { dst: new Uint8Array(6), src: new Uint8Array(6), etherType: 0 };
}

export function parse(bytes: Uint8Array, offset: number, length: number, out: EthernetHeader, fault?: Fault): boolean {
  if (length < HEADER) return fail(fault, 'truncated', 'ethernet', length, `at least ${HEADER} bytes`);
  out.dst.set(bytes.subarray(offset, offset + 6));
  out.src.set(bytes.subarray(offset + 6, offset + 12));
  out.etherType = readU16(bytes, offset + OFF_ETHERTYPE);
  return true;
}

export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): EthernetHeader {
  const out = newHeader();
  const fault = newFault();
  if (!parse(bytes, offset, length, out, fault)) throw new WireError(fault);
  return out;
}

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
