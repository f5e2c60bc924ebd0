/**
 * The udp backend (flannel's `udp`): the UDP payload is the inner IP packet,
 * unchanged. Any TUN-over-UDP peer that does the same interoperates.
 */
import { newFault, WireError, type Fault } from './fault.js';
import { packetLength } from './ip.js';
import { buildTemplate, encapsulate as encapsulateWith, type OuterTemplate, type Underlay } from './outer.js';

/** flannel's udp backend port. */
export const PORT = 8285;
export const PAYLOAD_OVERHEAD = 0;
export const OVERHEAD_IPV4 = 20 + 8;
export const OVERHEAD_IPV6 = 40 + 8;

export interface UdpSpec {
  /** Give an underlay for full outer IP/UDP headers; omit it for a UDP socket (then there is nothing to add). */
  underlay?: Underlay;
}

export function template(spec: UdpSpec = {}): OuterTemplate {
  return buildTemplate(new Uint8Array(0), false, spec.underlay);
}

export function encapsulate(bytes: Uint8Array, innerOffset: number, innerLength: number, tpl: OuterTemplate, srcPort = 0): number {
  return encapsulateWith(bytes, innerOffset, innerLength, tpl, srcPort);
}

export interface UdpFrame {
  innerOffset: number;
  innerLength: number;
}

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

export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset): UdpFrame {
  const out = newFrame();
  const fault = newFault();
  if (!decapsulate(bytes, offset, length, out, fault)) throw new WireError(fault);
  return out;
}
