// Table tests for decideTx and decideRx: every verdict each can write, the descriptor fields they set, and
// the counter each drop bumps. Verdicts, descriptor fields, flags and counters are named by their constants.
import t from 'tap';
import * as wire from '@tulle/wire';
import { C, COUNTERS, type CounterName } from '../src/engine/counters.js';
import { decideRx, decideTx, type RxPolicy } from '../src/engine/decide.js';
import { ADDR_STRIDE, RouteReader, RouteSnapshot, writeAddr } from '../src/engine/routes.js';
import {
  DROP_MALFORMED,
  DROP_NO_ROUTE,
  DROP_NOT_OURS,
  DROP_OVERSIZE,
  DROP_UNKNOWN_SENDER,
  DROP_UNKNOWN_VTEP,
  DROP_WRONG_VNI,
  VERDICT_BAD_VNET,
  VERDICT_TRUNCATED,
} from '../src/engine/verdicts.js';
import { parseCidr, prefixMask, wordMask } from '../src/util/cidr.js';
import { udpPacket } from './helpers/packets.js';

const { DESC_STRIDE, DESC_OFFSET, DESC_LENGTH, DESC_VERDICT, DESC_SRC_PORT, DESC_SOCKET, DESC_GSO_SIZE, DESC_FLAGS, RX_VERIFY } = wire;
const HEADROOM = 128;
const STRIDE = HEADROOM + 4096;
const MTU = 1400;
const VNI = 42;
const OUR_MAC = '02:00:00:00:01:01';
const PEER4_MAC = '02:00:00:00:02:02';
const PEER6_MAC = '02:00:00:00:06:06';
const PEER4 = '192.0.2.2';
const PEER6 = '2001:db8::2';
const OURS4 = '198.18.1.7';
const OURS6 = '2001:db8:18:1::7';
const PEER4_SUBNET = '198.18.2.0/24';
const PEER6_SUBNET = '2001:db8:18:2::/64';

/** Peer indices, as routes() publishes them: decideTx's verdict for an accepted packet. */
const PEER4_INDEX = 0;
const PEER6_INDEX = 1;

/** Peer 0 over IPv4 (its datagrams may lack a UDP checksum), peer 1 over IPv6 (always checksummed). */
function routes(): RouteReader {
  const snapshot = new RouteSnapshot();
  snapshot.publish(
    [
      { address: PEER4, port: wire.vxlan.PORT_LINUX, template: wire.vxlan.template({ vni: VNI, srcMac: OUR_MAC, dstMac: PEER4_MAC }) },
      { address: PEER6, port: wire.vxlan.PORT_LINUX, template: wire.vxlan.template({ vni: VNI, srcMac: OUR_MAC, dstMac: PEER6_MAC }) },
    ],
    [
      { subnet: PEER4_SUBNET, peer: PEER4_INDEX },
      { subnet: PEER6_SUBNET, peer: PEER6_INDEX },
    ],
  );
  const reader = new RouteReader(snapshot);
  reader.refresh();
  return reader;
}

function rxPolicy(backend: 'udp' | 'vxlan', ipv6 = true): RxPolicy {
  const v4 = parseCidr('198.18.1.0/24');
  const v6 = parseCidr('2001:db8:18:1::/64');
  return {
    backend,
    vni: VNI,
    subnet: v4.words[0],
    subnetMask: prefixMask(v4.prefix),
    subnet6: Int32Array.from(ipv6 ? v6.words : [0, 0, 0, 0]),
    subnet6Mask: Int32Array.from([0, 32, 64, 96].map((s) => (ipv6 ? wordMask(v6.prefix, s) : 0))),
    ipv6,
  };
}

/** A packet for a slot: its bytes, and what the reader set before the decision. */
interface Slot {
  bytes: Uint8Array;
  verdict?: number;
  gsoSize?: number;
  /** Header length of a GSO super-packet (DESC_FLAGS >>> 16). */
  gsoHeader?: number;
  /** RX: the sender's underlay address, or undefined for an entry of family 0. */
  from?: string;
}

function batch(slots: Slot[]): { slab: Uint8Array; desc: Int32Array; srcAddrs: Uint8Array } {
  const slab = new Uint8Array(slots.length * STRIDE);
  const desc = new Int32Array(slots.length * DESC_STRIDE);
  const srcAddrs = new Uint8Array(slots.length * ADDR_STRIDE);
  slots.forEach((s, i) => {
    const at = i * STRIDE + HEADROOM;
    slab.set(s.bytes, at);
    const d = i * DESC_STRIDE;
    desc[d + DESC_OFFSET] = at;
    desc[d + DESC_LENGTH] = s.bytes.length;
    desc[d + DESC_VERDICT] = s.verdict ?? 0;
    desc[d + DESC_SRC_PORT] = -1; // decideTx must write both
    desc[d + DESC_SOCKET] = -1;
    desc[d + DESC_GSO_SIZE] = s.gsoSize ?? 0;
    desc[d + DESC_FLAGS] = (s.gsoHeader ?? 0) << 16;
    if (s.from !== undefined) writeAddr(srcAddrs, i * ADDR_STRIDE, s.from, wire.vxlan.PORT_LINUX);
  });
  return { slab, desc, srcAddrs };
}

function ip(src: string, dst: string, payload = 32, srcPort = 1000): Uint8Array {
  const p = udpPacket(src, dst, srcPort, 7, new Uint8Array(payload));
  return p.bytes.subarray(p.offset, p.offset + p.length);
}

/** The counters a decision moved, by name. */
function moved(counters: Float64Array): Partial<Record<CounterName, number>> {
  return Object.fromEntries(COUNTERS.filter((_, i) => counters[i] !== 0).map((name) => [name, counters[C[name]]]));
}

t.test('decideTx: every verdict, and its counter', (t) => {
  const cases: { name: string; slot: Slot; verdict: number; counter?: CounterName }[] = [
    { name: 'IPv4 to a routed subnet: the peer', slot: { bytes: ip(OURS4, '198.18.2.9') }, verdict: PEER4_INDEX },
    { name: 'IPv6 to a routed subnet: the peer', slot: { bytes: ip(OURS6, '2001:db8:18:2::9') }, verdict: PEER6_INDEX },
    { name: 'IPv4 to no route', slot: { bytes: ip(OURS4, '198.18.9.9') }, verdict: DROP_NO_ROUTE, counter: 'dropNoRoute' },
    { name: 'IPv6 to no route', slot: { bytes: ip(OURS6, '2001:db8:18:9::9') }, verdict: DROP_NO_ROUTE, counter: 'dropNoRoute' },
    { name: 'empty', slot: { bytes: new Uint8Array(0) }, verdict: DROP_MALFORMED, counter: 'dropMalformed' },
    { name: 'version 5', slot: { bytes: new Uint8Array(40).fill(0x50, 0, 1) }, verdict: DROP_MALFORMED, counter: 'dropMalformed' },
    {
      name: 'IPv4 shorter than its header',
      slot: { bytes: ip(OURS4, '198.18.2.9').slice(0, wire.ipv4.MIN_HEADER - 1) },
      verdict: DROP_MALFORMED,
      counter: 'dropMalformed',
    },
    {
      name: 'IPv6 shorter than its header',
      slot: { bytes: ip(OURS6, '2001:db8:18:2::9').slice(0, wire.ipv6.HEADER - 1) },
      verdict: DROP_MALFORMED,
      counter: 'dropMalformed',
    },
    { name: 'longer than the MTU', slot: { bytes: ip(OURS4, '198.18.2.9', MTU - 28 + 1) }, verdict: DROP_OVERSIZE, counter: 'dropOversize' },
    { name: 'exactly the MTU', slot: { bytes: ip(OURS4, '198.18.2.9', MTU - 28) }, verdict: PEER4_INDEX },
    {
      name: 'a super-packet whose segments exceed the MTU',
      slot: { bytes: ip(OURS4, '198.18.2.9', 3000), gsoSize: MTU - 40 + 1, gsoHeader: 40 },
      verdict: DROP_OVERSIZE,
      counter: 'dropOversize',
    },
    { name: 'a super-packet whose segments fit', slot: { bytes: ip(OURS4, '198.18.2.9', 3000), gsoSize: MTU - 40, gsoHeader: 40 }, verdict: PEER4_INDEX },
    {
      name: 'refused while read (bad virtio-net header): kept, counted by the pipeline',
      slot: { bytes: ip(OURS4, '198.18.2.9'), verdict: VERDICT_BAD_VNET },
      verdict: VERDICT_BAD_VNET,
    },
  ];
  for (const c of cases) {
    const { slab, desc } = batch([c.slot]);
    const counters = new Float64Array(COUNTERS.length);
    decideTx(slab, desc, 1, routes(), { mtu: MTU, sockets: 1, whole: false }, counters);
    t.equal(desc[DESC_VERDICT], c.verdict, `${c.name}: verdict`);
    t.same(moved(counters), c.counter === undefined ? {} : { [c.counter]: 1 }, `${c.name}: counters`);
    t.equal(desc[DESC_SOCKET], 0, `${c.name}: one socket, so socket 0`);
    t.equal(desc[DESC_SRC_PORT], 0, `${c.name}: the template's (or the socket's) source port`);
  }
  t.end();
});

t.test('decideTx: with a pool of sockets, a flow keeps its socket and flows spread', (t) => {
  const sockets = 8;
  const flows = 64;
  const slots: Slot[] = [];
  for (let f = 0; f < flows; f++) for (let k = 0; k < 2; k++) slots.push({ bytes: ip(OURS4, '198.18.2.9', 32 + k, 1000 + f) });
  slots.push({ bytes: ip(OURS4, '198.18.9.9') });
  const { slab, desc } = batch(slots);
  decideTx(slab, desc, slots.length, routes(), { mtu: MTU, sockets, whole: false }, new Float64Array(COUNTERS.length));
  const used = new Set<number>();
  for (let f = 0; f < flows; f++) {
    const first = desc[2 * f * DESC_STRIDE + DESC_SOCKET];
    t.ok(first >= 0 && first < sockets, `flow ${f}: socket ${first} in 0..${sockets - 1}`);
    t.equal(desc[(2 * f + 1) * DESC_STRIDE + DESC_SOCKET], first, `flow ${f}: both packets on one socket`);
    used.add(first);
  }
  t.ok(used.size >= sockets / 2, `${flows} flows use ${used.size} of ${sockets} sockets`);
  t.equal(desc[flows * 2 * DESC_STRIDE + DESC_SOCKET], 0, 'a dropped packet gets socket 0');
  t.end();
});

/** A VXLAN payload as peer `mac` sends it: VXLAN header (vni), inner Ethernet from `mac` to ours, the IP packet. */
function vxlanFrom(mac: string, inner: Uint8Array, vni = VNI): Uint8Array {
  const tpl = wire.vxlan.template({ vni, srcMac: mac, dstMac: OUR_MAC });
  const buffer = new Uint8Array(tpl.headerLength + inner.length);
  buffer.set(inner, tpl.headerLength);
  const start = wire.vxlan.encapsulate(buffer, tpl.headerLength, inner.length, tpl);
  return buffer.subarray(start);
}

/** decideRx leaves an accepted packet's verdict as the receive wrote it: 0, to be written to the TUN. */
const ACCEPTED = 0;

t.test('decideRx: every verdict, and its counter', (t) => {
  const cases: {
    name: string;
    backend: 'udp' | 'vxlan';
    ipv6?: boolean;
    slot: Slot;
    verdict: number;
    counter?: CounterName;
    /** Accepted: the inner packet's offset from the datagram's start and its length; RX_VERIFY set or not. */
    inner?: { at: number; length: number; verify: boolean };
  }[] = [
    {
      name: 'vxlan, IPv4 inside, from a peer without checksums: accepted, to be verified',
      backend: 'vxlan',
      slot: { bytes: vxlanFrom(PEER4_MAC, ip('198.18.2.9', OURS4)), from: PEER4 },
      verdict: ACCEPTED,
      inner: { at: wire.vxlan.PAYLOAD_OVERHEAD, length: ip('198.18.2.9', OURS4).length, verify: true },
    },
    {
      name: 'vxlan, IPv6 inside, from a peer over IPv6 (always checksummed): accepted',
      backend: 'vxlan',
      slot: { bytes: vxlanFrom(PEER6_MAC, ip('2001:db8:18:2::9', OURS6)), from: PEER6 },
      verdict: ACCEPTED,
      inner: { at: wire.vxlan.PAYLOAD_OVERHEAD, length: ip('2001:db8:18:2::9', OURS6).length, verify: false },
    },
    {
      name: 'udp, IPv4 with trailing bytes: accepted, cut to the IP length',
      backend: 'udp',
      slot: { bytes: Uint8Array.from([...ip('198.18.2.9', OURS4), 0, 0, 0]), from: PEER4 },
      verdict: ACCEPTED,
      inner: { at: 0, length: ip('198.18.2.9', OURS4).length, verify: false },
    },
    {
      name: 'udp, IPv6: accepted',
      backend: 'udp',
      slot: { bytes: ip('2001:db8:18:2::9', OURS6), from: PEER6 },
      verdict: ACCEPTED,
      inner: { at: 0, length: ip('2001:db8:18:2::9', OURS6).length, verify: false },
    },
    {
      name: 'truncated on receipt',
      backend: 'vxlan',
      slot: { bytes: vxlanFrom(PEER4_MAC, ip('198.18.2.9', OURS4)), from: PEER4, verdict: VERDICT_TRUNCATED },
      verdict: DROP_MALFORMED,
      counter: 'dropMalformed',
    },
    {
      name: 'from an unknown sender',
      backend: 'vxlan',
      slot: { bytes: vxlanFrom(PEER4_MAC, ip('198.18.2.9', OURS4)), from: '192.0.2.99' },
      verdict: DROP_UNKNOWN_SENDER,
      counter: 'dropUnknownSender',
    },
    {
      name: 'from an unknown IPv6 sender',
      backend: 'udp',
      slot: { bytes: ip('2001:db8:18:2::9', OURS6), from: '2001:db8::99' },
      verdict: DROP_UNKNOWN_SENDER,
      counter: 'dropUnknownSender',
    },
    { name: 'with no sender address', backend: 'udp', slot: { bytes: ip('198.18.2.9', OURS4) }, verdict: DROP_UNKNOWN_SENDER, counter: 'dropUnknownSender' },
    {
      name: 'vxlan without the I flag',
      backend: 'vxlan',
      slot: { bytes: vxlanFrom(PEER4_MAC, ip('198.18.2.9', OURS4)).map((v, i) => (i === 0 ? 0 : v)), from: PEER4 },
      verdict: DROP_MALFORMED,
      counter: 'dropMalformed',
    },
    {
      name: 'vxlan, too short for the Ethernet header',
      backend: 'vxlan',
      slot: { bytes: vxlanFrom(PEER4_MAC, ip('198.18.2.9', OURS4)).slice(0, 12), from: PEER4 },
      verdict: DROP_MALFORMED,
      counter: 'dropMalformed',
    },
    {
      name: 'udp, not an IP packet',
      backend: 'udp',
      slot: { bytes: new Uint8Array(40).fill(0x11), from: PEER4 },
      verdict: DROP_MALFORMED,
      counter: 'dropMalformed',
    },
    {
      name: 'another VNI',
      backend: 'vxlan',
      slot: { bytes: vxlanFrom(PEER4_MAC, ip('198.18.2.9', OURS4), VNI + 1), from: PEER4 },
      verdict: DROP_WRONG_VNI,
      counter: 'dropWrongVni',
    },
    {
      name: "an inner source MAC not the peer's VTEP",
      backend: 'vxlan',
      slot: { bytes: vxlanFrom(PEER6_MAC, ip('198.18.2.9', OURS4)), from: PEER4 },
      verdict: DROP_UNKNOWN_VTEP,
      counter: 'dropUnknownVtep',
    },
    {
      name: 'IPv4 addressed outside our subnet',
      backend: 'vxlan',
      slot: { bytes: vxlanFrom(PEER4_MAC, ip('198.18.2.9', '198.18.3.1')), from: PEER4 },
      verdict: DROP_NOT_OURS,
      counter: 'dropNotOurs',
    },
    {
      name: 'IPv6 addressed outside our subnet',
      backend: 'udp',
      slot: { bytes: ip('2001:db8:18:2::9', '2001:db8:18:3::1'), from: PEER6 },
      verdict: DROP_NOT_OURS,
      counter: 'dropNotOurs',
    },
    {
      name: 'IPv6 where we have no IPv6 subnet',
      backend: 'udp',
      ipv6: false,
      slot: { bytes: ip('2001:db8:18:2::9', OURS6), from: PEER6 },
      verdict: DROP_NOT_OURS,
      counter: 'dropNotOurs',
    },
  ];
  for (const c of cases) {
    const { slab, desc, srcAddrs } = batch([c.slot]);
    const counters = new Float64Array(COUNTERS.length);
    decideRx(slab, desc, 1, srcAddrs, routes(), rxPolicy(c.backend, c.ipv6 ?? true), counters);
    t.equal(desc[DESC_VERDICT], c.verdict, `${c.name}: verdict`);
    t.same(moved(counters), c.counter === undefined ? {} : { [c.counter]: 1 }, `${c.name}: counters`);
    if (c.inner !== undefined) {
      t.equal(desc[DESC_OFFSET], HEADROOM + c.inner.at, `${c.name}: OFFSET at the inner packet`);
      t.equal(desc[DESC_LENGTH], c.inner.length, `${c.name}: LENGTH the inner packet's`);
      t.equal((desc[DESC_FLAGS] & RX_VERIFY) !== 0, c.inner.verify, `${c.name}: RX_VERIFY ${c.inner.verify ? 'set' : 'clear'}`);
    }
  }
  t.end();
});

t.test('decideRx: a batch mixing verdicts counts each drop once', (t) => {
  const slots: Slot[] = [
    { bytes: vxlanFrom(PEER4_MAC, ip('198.18.2.9', OURS4)), from: PEER4 },
    { bytes: vxlanFrom(PEER4_MAC, ip('198.18.2.9', OURS4), VNI + 1), from: PEER4 },
    { bytes: vxlanFrom(PEER4_MAC, ip('198.18.2.9', OURS4)), from: '192.0.2.99' },
    { bytes: vxlanFrom(PEER4_MAC, ip('198.18.2.9', OURS4)), from: PEER4 },
  ];
  const { slab, desc, srcAddrs } = batch(slots);
  const counters = new Float64Array(COUNTERS.length);
  decideRx(slab, desc, slots.length, srcAddrs, routes(), rxPolicy('vxlan'), counters);
  t.same(
    [0, 1, 2, 3].map((i) => desc[i * DESC_STRIDE + DESC_VERDICT]),
    [ACCEPTED, DROP_WRONG_VNI, DROP_UNKNOWN_SENDER, ACCEPTED],
  );
  t.same(moved(counters), { dropWrongVni: 1, dropUnknownSender: 1 });
  t.end();
});
