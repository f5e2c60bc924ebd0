/**
 * The udp backend (flannel's `udp`): the UDP payload is the inner IP packet,
 * unchanged. Any TUN-over-UDP peer that does the same interoperates.
 */
import { newFault, WireError, type Fault } from './fault.js';
import { packetLength } from './ip.js';
import { buildTemplate, encapsulate as encapsulateWith, type OuterTemplate, type Underlay } from './outer.js';

/** flannel's udp backend port. */
export const PORT = 8285;
/** What the udp backend adds to the UDP payload: nothing, the payload is the inner IP packet. */
export const PAYLOAD_OVERHEAD = 0;
/** Outer IPv4 + UDP headers: 28 bytes. */
export const OVERHEAD_IPV4 = 20 + 8;
/** Outer IPv6 + UDP headers: 48 bytes. */
export const OVERHEAD_IPV6 = 40 + 8;

/** The argument of `template`. */
export interface UdpSpec {
  /** Give an underlay for full outer IP/UDP headers; omit it for a UDP socket (then there is nothing to add). */
  underlay?: Underlay;
}

/**
 * A per-peer template: empty without an underlay (a UDP socket sends the inner packet as it is), outer IP +
 * UDP with one. Throws a WireError on a bad underlay.
 */
export function template(spec: UdpSpec = {}): OuterTemplate {
  return buildTemplate(new Uint8Array(0), false, spec.underlay);
}

/** Encapsulates in place (see the top-level `encapsulate`); returns the outer offset. */
export function encapsulate(bytes: Uint8Array, innerOffset: number, innerLength: number, tpl: OuterTemplate, srcPort = 0): number {
  return encapsulateWith(bytes, innerOffset, innerLength, tpl, srcPort);
}

/** Where `decapsulate` found the inner IP packet. */
export interface UdpFrame {
  innerOffset: number;
  innerLength: number;
}

/** A fresh UdpFrame for `decapsulate`. */
export function newFrame(): UdpFrame {
  return { innerOffset: 0, innerLength: 0 };
}

/** Checks that the UDP payload is one well-formed IP packet and locates it. */
export function decapsulate(bytes: Uint8Array, offset: number, length: number, out: UdpFrame, fault?: Fault): boolean {
  const innerLength = packetLength(bytes, offset, length, fault);
  if (innerLength < 0) return false;
  out.innerOffset = offset;
  out.innerLength = innerLength;
  return true;
}

/** Decapsulate, or throw a WireError that names the field. */
export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): UdpFrame {
  const out = newFrame();
  const fault = newFault();
  if (!decapsulate(bytes, offset, length, out, fault)) throw new WireError(fault);
  return out;
}
