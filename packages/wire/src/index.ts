/**
 * @tulle/wire (also `tulle/wire`): the encapsulation library. Pure TypeScript
 * over Uint8Array, no I/O, no Node-only APIs, no dependencies: it runs in any
 * JavaScript runtime.
 *
 *   import { vxlan, ipv4, checksum } from '@tulle/wire';
 *
 * @packageDocumentation
 */
/** The IPv4 header (RFC 791): parse, decode, write, the pseudo-header sum, field offsets and constants. */
export * as ipv4 from './ipv4.js';
/** The IPv6 fixed header (RFC 8200) and the walk over extension headers to the upper layer. */
export * as ipv6 from './ipv6.js';
/** The UDP header (RFC 768) and its checksum over the IPv4 or IPv6 pseudo-header. */
export * as udp from './udp.js';
/** The Ethernet II header (no VLAN tags). */
export * as ethernet from './ethernet.js';
/** The vxlan backend (RFC 7348): templates, encapsulation, decapsulation, and the VXLAN header alone. */
export * as vxlan from './vxlan.js';
/** The udp backend (flannel's): bare IP packets as UDP payload. */
export * as udpBackend from './udp-backend.js';
/** What both IP versions share: the packet's own length. */
export * as ip from './ip.js';
/** The ICMP errors that make path MTU discovery work through an overlay: IPv4 "fragmentation needed", ICMPv6 "packet too big". */
export * as icmp from './icmp.js';
export { sum16, sum16Bytes, checksum, fold, adjustChecksum, adjustChecksum32 } from './checksum.js';
export { flowHash, flowSlot, sourcePort, SOURCE_PORT_MIN, SOURCE_PORT_MAX } from './flow-hash.js';
export {
  encapsulate,
  applyTemplate,
  buildTemplate,
  parseOuter,
  newOuterPacket,
  MAX_HEADER,
  TPL_ETHERNET,
  TPL_UDP_CHECKSUM,
  type OuterTemplate,
  type OuterPacket,
  type Underlay,
} from './outer.js';
export * from './batch.js';
export { WireError, newFault, type Fault, type FaultCode } from './fault.js';
export { parseIPv4, formatIPv4, parseIPv6, formatIPv6, parseIP, formatIP, parseMac, formatMac, isIPv4, isIPv6 } from './address.js';
export { readU16, readU32, writeU16, writeU32 } from './bytes.js';
