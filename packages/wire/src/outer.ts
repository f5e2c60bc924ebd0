/**
 * Outer headers as templates: everything that is the same for every packet to
 * one peer (addresses, ports, VNI, MACs) is written once into a header image;
 * per packet only the lengths, the UDP source port, the inner ethertype and the
 * checksums change. The native batch encapsulator applies the same templates
 * with the same rules, byte for byte (see batch.ts).
 *
 * A template either holds the full outer IP + UDP headers (for raw injection,
 * pcap, a TUN) or, with no underlay given, only what goes into the UDP payload
 * (the VXLAN + Ethernet headers) for sending through a UDP socket.
 */
import { readU16, readU32, writeU16 } from './bytes.js';
import { checksum, sum16 } from './checksum.js';
import { fail, newFault, WireError, type Fault } from './fault.js';
import { parseIP } from './address.js';
import * as ethernet from './ethernet.js';
import * as ipv4 from './ipv4.js';
import * as ipv6 from './ipv6.js';
import * as udp from './udp.js';

/** The largest header image a template may hold (IPv6 + UDP + VXLAN + Ethernet = 70). */
export const MAX_HEADER = 96;
/** Template flag: an inner Ethernet header ends the image; its ethertype follows the inner packet. */
export const TPL_ETHERNET = 1;
/** Template flag: compute the outer UDP checksum (always done over IPv6). */
export const TPL_UDP_CHECKSUM = 2;

/** A per-peer header image and what encapsulation patches in it; build one with `buildTemplate`, `vxlan.template` or `udpBackend.template`. */
export interface OuterTemplate {
  /** The header image, `headerLength` bytes. */
  readonly bytes: Uint8Array;
  readonly headerLength: number;
  /** 4 or 6 when the image starts with an IP header; 0 when it is only UDP payload. */
  readonly ipVersion: 0 | 4 | 6;
  readonly flags: number;
}

/** The outer addresses, ports and IP options of a template with full outer headers. */
export interface Underlay {
  /** Outer source and destination addresses, both IPv4 or both IPv6. */
  src: string;
  dst: string;
  dstPort: number;
  /** Used when encapsulate() is given no per-flow port (default: dstPort, as flannel's udp backend does). */
  srcPort?: number;
  ttl?: number;
  tos?: number;
  /** Outer DF bit (IPv4); default true: VTEPs do not fragment (RFC 7348 §4.3). */
  dontFragment?: boolean;
  /** Outer UDP checksum over IPv4 (default true); IPv6 always has one. */
  udpChecksum?: boolean;
}

/** Builds a template from the UDP payload prefix (`payloadPrefix`, may be empty) and an optional underlay. */
export function buildTemplate(payloadPrefix: Uint8Array, innerEthernet: boolean, underlay?: Underlay): OuterTemplate {
  let flags = innerEthernet ? TPL_ETHERNET : 0;
  const ipAndUdp = underlay === undefined ? 0 : (underlay.src.includes(':') ? ipv6.HEADER : ipv4.MIN_HEADER) + udp.HEADER;
  if (ipAndUdp + payloadPrefix.length > MAX_HEADER) {
    throw new WireError({ code: 'value', field: 'template', value: ipAndUdp + payloadPrefix.length, allowed: `at most ${MAX_HEADER} bytes of headers` });
  }
  if (underlay === undefined) {
    return { bytes: payloadPrefix.slice(), headerLength: payloadPrefix.length, ipVersion: 0, flags };
  }
  const src = parseIP(underlay.src);
  const dst = parseIP(underlay.dst);
  if (src.length !== dst.length) {
    throw new WireError({
      code: 'value',
      field: 'underlay.dst',
      value: dst.length,
      allowed: `an address of the same family as underlay.src (${underlay.src})`,
    });
  }
  checkPort('underlay.dstPort', underlay.dstPort);
  if (underlay.srcPort !== undefined) checkPort('underlay.srcPort', underlay.srcPort);
  const ipVersion = src.length === 4 ? 4 : 6;
  const ipHeader = ipVersion === 4 ? ipv4.MIN_HEADER : ipv6.HEADER;
  const headerLength = ipHeader + udp.HEADER + payloadPrefix.length;
  const bytes = new Uint8Array(headerLength);
  if (ipVersion === 4) {
    ipv4.write(bytes, 0, {
      totalLength: 0,
      protocol: ipv4.PROTO_UDP,
      ttl: underlay.ttl ?? 64,
      tos: underlay.tos ?? 0,
      dontFragment: underlay.dontFragment ?? true,
      src: readAddress(src),
      dst: readAddress(dst),
    });
    if (underlay.udpChecksum ?? true) flags |= TPL_UDP_CHECKSUM;
  } else {
    ipv6.write(bytes, 0, { payloadLength: 0, nextHeader: ipv6.NEXT_UDP, hopLimit: underlay.ttl ?? 64, trafficClass: underlay.tos ?? 0, src, dst });
    flags |= TPL_UDP_CHECKSUM;
  }
  udp.write(bytes, ipHeader, underlay.srcPort ?? underlay.dstPort, underlay.dstPort, 0);
  bytes.set(payloadPrefix, ipHeader + udp.HEADER);
  return { bytes, headerLength, ipVersion, flags };
}

function readAddress(b: Uint8Array): number {
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

function checkPort(field: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new WireError({ code: 'value', field, value: port, allowed: '1..65535' });
}

/**
 * The per-packet step shared by every encapsulation path. Copies the header
 * image in front of the inner packet and patches lengths, source port,
 * ethertype and checksums. Returns the outer packet's offset, or -1 (fault
 * filled) when there is no headroom or the result would exceed 65,535 bytes.
 * `srcPort` 0 keeps the template's port.
 */
export function applyTemplate(
  bytes: Uint8Array,
  innerOffset: number,
  innerLength: number,
  image: Uint8Array,
  imageOffset: number,
  headerLength: number,
  ipVersion: number,
  flags: number,
  srcPort: number,
  fault?: Fault,
): number {
  if (innerOffset < 0 || innerLength < 0 || innerOffset + innerLength > bytes.length) {
    return failed(fault, 'length', 'innerLength', innerLength, `0..${Math.max(0, bytes.length - innerOffset)} (inside the buffer)`);
  }
  const start = innerOffset - headerLength;
  if (headerLength < 0 || headerLength > MAX_HEADER)
    return failed(fault, 'value', 'template.headerLength', headerLength, `0..${MAX_HEADER} (an unset template slot is -1)`);
  if (start < 0) return failed(fault, 'headroom', 'innerOffset', innerOffset, `at least ${headerLength}`);
  const version = innerLength > 0 ? bytes[innerOffset] >>> 4 : 0;
  if (version !== 4 && version !== 6) return failed(fault, 'version', 'inner.version', version, '4 or 6 (an IP packet)');
  const total = headerLength + innerLength;
  // The 16-bit length field is the IPv4 total length, but only the payload length in IPv6.
  const limit = ipVersion === 4 ? 0xffff : ipVersion === 6 ? 0xffff + ipv6.HEADER : Infinity;
  if (total > limit) return failed(fault, 'length', 'innerLength', innerLength, `at most ${limit - headerLength}`);
  // A byte loop, not set(subarray()): no allocation per packet.
  for (let i = 0; i < headerLength; i++) bytes[start + i] = image[imageOffset + i];
  if ((flags & TPL_ETHERNET) !== 0) writeU16(bytes, innerOffset - 2, version === 4 ? ethernet.ETHERTYPE_IPV4 : ethernet.ETHERTYPE_IPV6);
  if (ipVersion === 0) return start;
  const ipHeader = ipVersion === 4 ? ipv4.MIN_HEADER : ipv6.HEADER;
  const udpAt = start + ipHeader;
  const udpLength = total - ipHeader;
  if (ipVersion === 4) {
    writeU16(bytes, start + ipv4.OFF_TOTAL_LENGTH, total);
    writeU16(bytes, start + ipv4.OFF_CHECKSUM, 0);
    writeU16(bytes, start + ipv4.OFF_CHECKSUM, checksum(bytes, start, ipv4.MIN_HEADER));
  } else {
    writeU16(bytes, start + ipv6.OFF_PAYLOAD_LENGTH, udpLength);
  }
  if (srcPort !== 0) writeU16(bytes, udpAt + udp.OFF_SRC_PORT, srcPort);
  writeU16(bytes, udpAt + udp.OFF_LENGTH, udpLength);
  if ((flags & TPL_UDP_CHECKSUM) !== 0) udp.fillChecksum(bytes, start, udpAt, udpLength);
  return start;
}

function failed(fault: Fault | undefined, code: 'headroom' | 'length' | 'value' | 'version', field: string, value: number, allowed: string): -1 {
  fail(fault, code, field, value, allowed);
  return -1;
}

/**
 * Encapsulates the inner packet at `innerOffset` in place, writing the outer
 * headers into the headroom before it. Returns the outer packet's offset; its
 * length is `template.headerLength + innerLength`. Throws WireError on bad input.
 */
export function encapsulate(bytes: Uint8Array, innerOffset: number, innerLength: number, template: OuterTemplate, srcPort = 0): number {
  const start = applyTemplate(bytes, innerOffset, innerLength, template.bytes, 0, template.headerLength, template.ipVersion, template.flags, srcPort);
  if (start >= 0) return start;
  // Only the failure path allocates: run again to learn why.
  const fault = newFault();
  applyTemplate(bytes, innerOffset, innerLength, template.bytes, 0, template.headerLength, template.ipVersion, template.flags, srcPort, fault);
  throw new WireError(fault);
}

/** What parseOuter finds in an outer IP + UDP packet. */
export interface OuterPacket {
  ipVersion: 4 | 6;
  /** The outer source address: IPv4 as a number in `src4`, IPv6 at `srcOffset` (16 bytes) in the buffer. */
  src4: number;
  srcOffset: number;
  srcPort: number;
  dstPort: number;
  payloadOffset: number;
  payloadLength: number;
}

/** A fresh OuterPacket for `parseOuter`. */
export function newOuterPacket(): OuterPacket {
  return { ipVersion: 4, src4: 0, srcOffset: 0, srcPort: 0, dstPort: 0, payloadOffset: 0, payloadLength: 0 };
}

/**
 * Validates an outer IPv4/IPv6 + UDP packet (header checksum, lengths, UDP
 * checksum) and locates the UDP payload. Extension headers are not followed.
 */
export function parseOuter(bytes: Uint8Array, offset: number, length: number, out: OuterPacket, fault?: Fault): boolean {
  if (length < 1) return fail(fault, 'truncated', 'outer', length, 'an IP packet');
  const version = bytes[offset] >>> 4;
  let ipHeader: number;
  let ipEnd: number;
  if (version === 4) {
    if (length < ipv4.MIN_HEADER) return fail(fault, 'truncated', 'ipv4', length, `at least ${ipv4.MIN_HEADER} bytes`);
    ipHeader = (bytes[offset] & 0x0f) * 4;
    if (ipHeader < ipv4.MIN_HEADER || ipHeader > length) return fail(fault, 'ihl', 'ipv4.ihl', ipHeader >>> 2, '5..15 words inside the buffer');
    const total = readU16(bytes, offset + ipv4.OFF_TOTAL_LENGTH);
    if (total < ipHeader || total > length) return fail(fault, 'length', 'ipv4.totalLength', total, `${ipHeader}..${length}`);
    if (sum16(bytes, offset, ipHeader) !== 0xffff)
      return fail(fault, 'checksum', 'ipv4.checksum', readU16(bytes, offset + ipv4.OFF_CHECKSUM), 'a header that sums to 0xffff');
    if ((readU16(bytes, offset + ipv4.OFF_FLAGS_FRAGMENT) & (ipv4.FLAG_MF | ipv4.FRAGMENT_MASK)) !== 0) {
      return fail(fault, 'flags', 'ipv4.fragment', readU16(bytes, offset + ipv4.OFF_FLAGS_FRAGMENT), 'an unfragmented packet');
    }
    if (bytes[offset + ipv4.OFF_PROTOCOL] !== ipv4.PROTO_UDP)
      return fail(fault, 'value', 'ipv4.protocol', bytes[offset + ipv4.OFF_PROTOCOL], `${ipv4.PROTO_UDP} (UDP)`);
    ipEnd = offset + total;
    out.ipVersion = 4;
    out.src4 = readU32(bytes, offset + ipv4.OFF_SRC);
    out.srcOffset = offset + ipv4.OFF_SRC;
  } else if (version === 6) {
    if (length < ipv6.HEADER) return fail(fault, 'truncated', 'ipv6', length, `at least ${ipv6.HEADER} bytes`);
    ipHeader = ipv6.HEADER;
    const payload = readU16(bytes, offset + ipv6.OFF_PAYLOAD_LENGTH);
    if (ipHeader + payload > length) return fail(fault, 'length', 'ipv6.payloadLength', payload, `0..${length - ipHeader}`);
    if (bytes[offset + ipv6.OFF_NEXT_HEADER] !== ipv6.NEXT_UDP)
      return fail(fault, 'value', 'ipv6.nextHeader', bytes[offset + ipv6.OFF_NEXT_HEADER], `${ipv6.NEXT_UDP} (UDP)`);
    ipEnd = offset + ipHeader + payload;
    out.ipVersion = 6;
    out.src4 = 0;
    out.srcOffset = offset + ipv6.OFF_SRC;
  } else {
    return fail(fault, 'version', 'ip.version', version, '4 or 6');
  }
  const udpAt = offset + ipHeader;
  const header = scratchUdp;
  if (!udp.parse(bytes, udpAt, ipEnd - udpAt, header, fault)) return false;
  if (header.length !== ipEnd - udpAt) return fail(fault, 'length', 'udp.length', header.length, `${ipEnd - udpAt} (the IP payload)`);
  if (!udp.verifyChecksum(bytes, offset, udpAt, header.length))
    return fail(fault, 'checksum', 'udp.checksum', header.checksum, 'a datagram that sums to 0xffff');
  out.srcPort = header.srcPort;
  out.dstPort = header.dstPort;
  out.payloadOffset = udpAt + udp.HEADER;
  out.payloadLength = header.length - udp.HEADER;
  return true;
}

const scratchUdp = udp.newHeader();
