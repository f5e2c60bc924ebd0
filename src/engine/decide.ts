/**
 * The per-batch decisions: the part of the data plane that is TypeScript by
 * design. Pure functions over a batch (slab + descriptors) and a RouteReader;
 * no I/O, no allocation, nothing thrown per packet. Drops are written as
 * negative verdicts and counted.
 */
import * as wire from '@tulle/wire';
import { C } from './counters.js';
import {
  ADDR_CHECKSUMMED,
  ADDR_FAMILY,
  ADDR_FLAGS,
  ADDR_STRIDE,
  DESC_FLAGS,
  DESC_GSO_SIZE,
  DESC_LENGTH,
  DESC_OFFSET,
  DESC_SOCKET,
  DESC_SRC_PORT,
  DESC_STRIDE,
  DESC_VERDICT,
  FLAG_SEND_WHOLE,
  FLAGS_GSO_TYPE_MASK,
  FLAGS_HEADER_LENGTH_SHIFT,
  GSO_TCPV4,
  GSO_TCPV6,
} from './batch.js';
import type { RouteReader } from './routes.js';
import {
  DROP_MALFORMED,
  DROP_NO_ROUTE,
  DROP_NOT_OURS,
  DROP_OVERSIZE,
  DROP_UNKNOWN_SENDER,
  DROP_UNKNOWN_VTEP,
  DROP_WRONG_VNI,
  VERDICT_TRUNCATED,
} from './verdicts.js';

export interface TxPolicy {
  /** Largest inner packet a peer can take (overlay MTU). */
  mtu: number;
  /** Sockets to spread flows over (their ports are the outer source ports); 1: no choice to make. */
  sockets: number;
  /**
   * TCP super-packets to tulle hosts may leave whole (a tunnel TAP is open, and has not refused a frame):
   * decideTx flags them FLAG_SEND_WHOLE.
   */
  whole: boolean;
}

/**
 * TUN → peers: pick each packet's peer by longest-prefix match on its destination, its socket by its
 * flow, and whether it may leave whole.
 */
export function decideTx(slab: Uint8Array, desc: Int32Array, count: number, routes: RouteReader, policy: TxPolicy, counters: Float64Array): void {
  for (let i = 0; i < count; i++) {
    const d = i * DESC_STRIDE;
    const off = desc[d + DESC_OFFSET];
    const len = desc[d + DESC_LENGTH];
    const gsoSize = desc[d + DESC_GSO_SIZE];
    const flags = desc[d + DESC_FLAGS];
    // A GSO super-packet leaves as segments of header + gsoSize bytes: those must fit the MTU.
    const wireLength = gsoSize > 0 ? (flags >>> FLAGS_HEADER_LENGTH_SHIFT) + gsoSize : len;
    let verdict = desc[d + DESC_VERDICT];
    const version = len >= 1 ? slab[off] >>> 4 : 0;
    if (verdict < 0) {
      // Refused while reading (a virtio-net header the packet contradicts); counted by the TX pipeline.
    } else if (version === 4 ? len < wire.ipv4.MIN_HEADER : version === 6 ? len < wire.ipv6.HEADER : true) {
      verdict = DROP_MALFORMED;
    } else if (wireLength > policy.mtu) {
      verdict = DROP_OVERSIZE; // answered with ICMP "too big" by the TX pipeline (too-big.ts)
    } else {
      verdict = version === 4 ? routes.lookup(wire.readU32(slab, off + wire.ipv4.OFF_DST)) : routes.lookup6(slab, off + wire.ipv6.OFF_DST);
      if (verdict < 0) verdict = DROP_NO_ROUTE;
    }
    desc[d + DESC_VERDICT] = verdict;
    // The socket (so the source port) follows the flow: packets of one flow keep their order.
    desc[d + DESC_SOCKET] = policy.sockets > 1 && verdict >= 0 ? wire.flowSlot(slab, off, len, policy.sockets) : 0;
    desc[d + DESC_SRC_PORT] = 0; // the socket's port (or, for a whole frame, the same port as the socket's)
    const whole = gsoSize > 0 && policy.whole && verdict >= 0 && mayLeaveWhole(flags, verdict, routes);
    desc[d + DESC_FLAGS] = whole ? flags | FLAG_SEND_WHOLE : flags & ~FLAG_SEND_WHOLE;
    if (verdict === DROP_NO_ROUTE) counters[C.dropNoRoute]++;
    else if (verdict === DROP_OVERSIZE) counters[C.dropOversize]++;
    else if (verdict === DROP_MALFORMED) counters[C.dropMalformed]++;
  }
}

/**
 * Whether a super-packet (read with `flags`) to `peer` may leave whole. Only TCP: a UDP super-packet's
 * datagram boundaries would not survive a receiver that takes it whole. Only to a tulle host: a frame that
 * crosses a veth whole, or that the kernel cuts in software, arrives with its inner checksums unfinished,
 * and a receiver that verifies them (one that takes us for a Linux vxlan device without checksums) would
 * drop every segment. Only over IPv4: the frame's outer headers are IPv4. Only with a payload template
 * whose bytes the kernel can copy into every segment as the tunnel header: vxlan's (VXLAN and inner
 * Ethernet) or the udp backend's (empty). As Whole() in native/src/tunnel.cc. Read from the send table
 * the verdict indexes (same version).
 */
function mayLeaveWhole(flags: number, peer: number, routes: RouteReader): boolean {
  const type = flags & FLAGS_GSO_TYPE_MASK;
  if (type !== GSO_TCPV4 && type !== GSO_TCPV6) return false;
  const { addrs, templateMeta } = routes.send;
  const a = peer * ADDR_STRIDE;
  if (addrs[a + ADDR_FAMILY] !== 4 || (addrs[a + ADDR_FLAGS] & ADDR_CHECKSUMMED) === 0) return false;
  const m = peer * wire.META_STRIDE;
  if (templateMeta[m + wire.META_IP_VERSION] !== 0) return false;
  return (templateMeta[m + wire.META_FLAGS] & wire.TPL_ETHERNET) !== 0 || templateMeta[m + wire.META_HEADER_LENGTH] === 0;
}

export interface RxPolicy {
  backend: 'udp' | 'vxlan';
  /** Our VNI (vxlan). */
  vni: number;
  /** Our overlay subnet: a decapsulated packet must be addressed into it. */
  subnet: number;
  subnetMask: number;
  /** Our IPv6 overlay subnet (network words and their masks); with none, no mask matches an IPv6 packet. */
  subnet6: Int32Array;
  subnet6Mask: Int32Array;
  /** False without an IPv6 subnet: IPv6 packets are then never ours. */
  ipv6: boolean;
}

const frame = wire.vxlan.newFrame();

/**
 * Peers → TUN: accept only datagrams from known peers (for vxlan: with our VNI
 * and the peer's own VTEP MAC as the inner source) that decapsulate to a
 * well-formed IP packet addressed to our subnet; rewrite OFFSET/LENGTH to the
 * inner packet for the TUN write.
 */
export function decideRx(
  slab: Uint8Array,
  desc: Int32Array,
  count: number,
  srcAddrs: Uint8Array,
  routes: RouteReader,
  policy: RxPolicy,
  counters: Float64Array,
): void {
  for (let i = 0; i < count; i++) {
    const d = i * DESC_STRIDE;
    let off = desc[d + DESC_OFFSET];
    let len = desc[d + DESC_LENGTH];
    let verdict = desc[d + DESC_VERDICT];
    if (verdict === VERDICT_TRUNCATED) {
      verdict = DROP_MALFORMED;
    } else {
      const a = i * ADDR_STRIDE;
      const family = srcAddrs[a];
      const peer = family === 4 ? routes.sender(wire.readU32(srcAddrs, a + 4)) : family === 6 ? routes.sender6(srcAddrs, a + 4) : -1;
      if (peer < 0) {
        verdict = DROP_UNKNOWN_SENDER;
      } else if (policy.backend === 'vxlan') {
        if (!wire.vxlan.decapsulate(slab, off, len, frame)) verdict = DROP_MALFORMED;
        else if (frame.vni !== policy.vni) verdict = DROP_WRONG_VNI;
        else if (!routes.vtepMatches(peer, slab, frame.srcMacOffset)) verdict = DROP_UNKNOWN_VTEP;
        else {
          off = frame.innerOffset;
          len = frame.innerLength;
          // Without an outer checksum nothing has checked the inner bytes yet: verify before merging.
          if (!routes.checksummed(peer)) desc[d + DESC_FLAGS] |= wire.RX_VERIFY;
        }
      } else {
        const inner = wire.ip.packetLength(slab, off, len);
        if (inner < 0) verdict = DROP_MALFORMED;
        else len = inner;
      }
      if (verdict >= 0) {
        const version = slab[off] >>> 4;
        if (version === 4) {
          if ((wire.readU32(slab, off + wire.ipv4.OFF_DST) & policy.subnetMask) >>> 0 !== policy.subnet) verdict = DROP_NOT_OURS;
        } else if (version !== 6 || !policy.ipv6 || !inSubnet6(slab, off + wire.ipv6.OFF_DST, policy)) {
          verdict = DROP_NOT_OURS;
        }
      }
    }
    desc[d + DESC_OFFSET] = off;
    desc[d + DESC_LENGTH] = len;
    desc[d + DESC_VERDICT] = verdict;
    if (verdict === DROP_MALFORMED) counters[C.dropMalformed]++;
    else if (verdict === DROP_UNKNOWN_SENDER) counters[C.dropUnknownSender]++;
    else if (verdict === DROP_WRONG_VNI) counters[C.dropWrongVni]++;
    else if (verdict === DROP_UNKNOWN_VTEP) counters[C.dropUnknownVtep]++;
    else if (verdict === DROP_NOT_OURS) counters[C.dropNotOurs]++;
  }
}

function inSubnet6(bytes: Uint8Array, offset: number, policy: RxPolicy): boolean {
  for (let w = 0; w < 4; w++) {
    if ((wire.readU32(bytes, offset + w * 4) & policy.subnet6Mask[w]) !== policy.subnet6[w]) return false;
  }
  return true;
}
