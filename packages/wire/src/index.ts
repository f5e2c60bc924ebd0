/**
 * tulle/wire: the encapsulation library. Pure TypeScript over Uint8Array, no
 * I/O, no Node-only APIs: it runs in any JavaScript runtime.
 *
 *   import { vxlan, ipv4, checksum } from 'tulle/wire';
 */
export * as ipv4 from './ipv4.js';
export * as ipv6 from './ipv6.js';
export * as udp from './udp.js';
export * as ethernet from './ethernet.js';
export * as vxlan from './vxlan.js';
export * as udpBackend from './udp-backend.js';
export * as ip from './ip.js';
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
