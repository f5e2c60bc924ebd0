/**
 * The vxlan backend (RFC 7348): UDP payload = VXLAN header + inner Ethernet
 * frame (dst = peer VTEP MAC, src = own VTEP MAC) + inner IP packet.
 * Interoperates with a Linux `vxlan` device, which is what flannel's vxlan
 * backend configures.
 */
import { parseMac } from './address.js';
import * as ethernet from './ethernet.js';
import { fail, newFault, WireError, type Fault } from './fault.js';
import { packetLength } from './ip.js';
import { buildTemplate, encapsulate as encapsulateWith, type OuterTemplate, type Underlay } from './outer.js';
import * as header from './vxlan-header.js';

export { HEADER, FLAG_I, MAX_VNI, PORT, PORT_LINUX, newHeader, type VxlanHeader } from './vxlan-header.js';
export { parse as parseHeader, decode as decodeHeader, write as writeHeader } from './vxlan-header.js';

/** VXLAN header + inner Ethernet header, in front of the inner IP packet. */
export const PAYLOAD_OVERHEAD = header.HEADER + ethernet.HEADER;
/** Outer IPv4 + UDP + VXLAN + Ethernet: the 50 bytes of the usual MTU sums. */
export const OVERHEAD_IPV4 = 20 + 8 + PAYLOAD_OVERHEAD;
/** Outer IPv6 + UDP + VXLAN + Ethernet. */
export const OVERHEAD_IPV6 = 40 + 8 + PAYLOAD_OVERHEAD;
/** flannel's VNI. */
export const DEFAULT_VNI = 1;

/** The argument of `template`. */
export interface VxlanSpec {
  vni?: number;
  /** Own VTEP MAC (inner source) and the peer's (inner destination). */
  srcMac: string | Uint8Array;
  dstMac: string | Uint8Array;
  /** Give an underlay to build full outer IP/UDP headers; omit it for a UDP socket's payload. */
  underlay?: Underlay;
}

function mac(value: string | Uint8Array, field: string): Uint8Array {
  if (typeof value === 'string') return parseMac(value);
  if (value.length !== 6) throw new WireError({ code: 'value', field, value: value.length, allowed: '6 bytes' });
  return value;
}

/**
 * A per-peer template: VXLAN header and inner Ethernet header, preceded by outer IP + UDP when an underlay is
 * given. Throws a WireError on a bad VNI, MAC or underlay.
 */
export function template(spec: VxlanSpec): OuterTemplate {
  const prefix = new Uint8Array(PAYLOAD_OVERHEAD);
  header.write(prefix, 0, spec.vni ?? DEFAULT_VNI);
  ethernet.write(prefix, header.HEADER, mac(spec.dstMac, 'dstMac'), mac(spec.srcMac, 'srcMac'), ethernet.ETHERTYPE_IPV4);
  return buildTemplate(prefix, true, spec.underlay);
}

/** Encapsulates in place (see outer.encapsulate); returns the outer offset. */
export function encapsulate(bytes: Uint8Array, innerOffset: number, innerLength: number, tpl: OuterTemplate, srcPort = 0): number {
  return encapsulateWith(bytes, innerOffset, innerLength, tpl, srcPort);
}

/** What `decapsulate` finds in a VXLAN UDP payload. */
export interface VxlanFrame {
  vni: number;
  reservedClear: boolean;
  /** Offsets of the inner MACs in the buffer (6 bytes each): no copy. */
  dstMacOffset: number;
  srcMacOffset: number;
  etherType: number;
  innerOffset: number;
  /** The inner IP packet's own length (Ethernet padding stripped). */
  innerLength: number;
}

/** A fresh VxlanFrame for `decapsulate`. */
export function newFrame(): VxlanFrame {
  return { vni: 0, reservedClear: true, dstMacOffset: 0, srcMacOffset: 0, etherType: 0, innerOffset: 0, innerLength: 0 };
}

const scratchHeader = header.newHeader();

/**
 * Decapsulates a VXLAN UDP payload at `offset` (`length` bytes): checks the I
 * flag, an IPv4/IPv6 ethertype and a well-formed inner IP packet whose version
 * matches the ethertype. VNI and MAC policy is the caller's (it knows its peers).
 */
export function decapsulate(bytes: Uint8Array, offset: number, length: number, out: VxlanFrame, fault?: Fault): boolean {
  if (!header.parse(bytes, offset, length, scratchHeader, fault)) return false;
  if (length < PAYLOAD_OVERHEAD) return fail(fault, 'truncated', 'vxlan.ethernet', length, `at least ${PAYLOAD_OVERHEAD} bytes`);
  const eth = offset + header.HEADER;
  const etherType = (bytes[eth + 12] << 8) | bytes[eth + 13];
  const innerOffset = eth + ethernet.HEADER;
  const available = length - PAYLOAD_OVERHEAD;
  const expected = etherType === ethernet.ETHERTYPE_IPV4 ? 4 : etherType === ethernet.ETHERTYPE_IPV6 ? 6 : 0;
  if (expected === 0) return fail(fault, 'ethertype', 'ethernet.etherType', etherType, '0x0800 (IPv4) or 0x86dd (IPv6)');
  if (available < 1) return fail(fault, 'truncated', 'vxlan.inner', available, 'an IP packet');
  if (bytes[innerOffset] >>> 4 !== expected) return fail(fault, 'version', 'inner.version', bytes[innerOffset] >>> 4, `${expected} (as the ethertype says)`);
  const innerLength = packetLength(bytes, innerOffset, available, fault);
  if (innerLength < 0) return false;
  out.vni = scratchHeader.vni;
  out.reservedClear = scratchHeader.reservedClear;
  out.dstMacOffset = eth;
  out.srcMacOffset = eth + 6;
  out.etherType = etherType;
  out.innerOffset = innerOffset;
  out.innerLength = innerLength;
  return true;
}

/** Decapsulate, or throw a WireError that names the field. */
export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): VxlanFrame {
  const out = newFrame();
  const fault = newFault();
  if (!decapsulate(bytes, offset, length, out, fault)) throw new WireError(fault);
  return out;
}
