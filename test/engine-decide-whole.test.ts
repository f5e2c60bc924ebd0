// decideTx decides which super-packets may leave whole (FLAG_SEND_WHOLE): TCP super-packets, to a
// vxlan or udp-backend peer that is a tulle host (checksummed), over IPv4, while the policy allows
// it. The addon only honours the flag, so each condition is checked here, one at a time.
import t from 'tap';
import { decideTx, type TxPolicy } from '../src/engine/decide.js';
import { newCounterBuffer } from '../src/engine/counters.js';
import { RouteReader, RouteSnapshot, type Peer } from '../src/engine/routes.js';
import { DROP_NO_ROUTE, DROP_OVERSIZE } from '../src/engine/verdicts.js';
import * as wire from '@tulle/wire';

const macs = { srcMac: '02:00:5e:00:53:01', dstMac: '02:00:5e:00:53:02' };
const vxlan = wire.vxlan.template({ ...macs, vni: 1 });
const udp = wire.udpBackend.template();
const peers: Peer[] = [
  { address: '192.0.2.1', port: 4789, template: vxlan, checksummed: true }, // 0: may
  { address: '192.0.2.2', port: 4789, template: vxlan, checksummed: false }, // 1: not a tulle host
  { address: '2001:db8:2::3', port: 4789, template: vxlan, checksummed: true }, // 2: IPv6 underlay
  { address: '192.0.2.4', port: 8285, template: udp, checksummed: true }, // 3: udp backend: may
  // 4: a template with its own outer headers (the frame's outer headers are the addon's to build)
  {
    address: '192.0.2.5',
    port: 4789,
    template: wire.vxlan.template({ ...macs, vni: 1, underlay: { src: '192.0.2.9', dst: '192.0.2.5', dstPort: 4789 } }),
    checksummed: true,
  },
  // 5: a payload template with bytes of its own but no inner Ethernet (neither backend's)
  { address: '192.0.2.6', port: 8285, template: wire.buildTemplate(new Uint8Array(8), false), checksummed: true },
  { address: '192.0.2.7', port: 8285, template: udp, checksummed: false }, // 6: udp backend, not a tulle host
];
const snapshot = new RouteSnapshot();
snapshot.publish(peers, [
  ...peers.map((_, i) => ({ subnet: `198.18.${i + 1}.0/24`, peer: i })),
  { subnet: '2001:db8:18:1::/64', peer: 0 },
  { subnet: '2001:db8:18:4::/64', peer: 3 },
]);
const routes = new RouteReader(snapshot);
routes.refresh();
const counters = new Float64Array(newCounterBuffer());

const HEADROOM = 160;
const LENGTH = 4040;
const slab = new Uint8Array(HEADROOM + LENGTH);
const desc = new Int32Array(wire.DESC_STRIDE);

/** One super-packet (or, with gsoSize 0, one packet) to `dst`, decided under `policy`; returns its flags. */
function decide(dst: string, gsoType: number, gsoSize: number, policy: Partial<TxPolicy> = {}, flagsBefore = 0): number {
  const v6 = dst.includes(':');
  slab.fill(0);
  if (v6) {
    slab[HEADROOM] = 0x60;
    slab.set(wire.parseIPv6(dst), HEADROOM + wire.ipv6.OFF_DST);
  } else {
    wire.ipv4.write(slab, HEADROOM, { totalLength: LENGTH, protocol: 6, src: wire.parseIPv4('198.18.9.1'), dst: wire.parseIPv4(dst) });
  }
  const headers = (v6 ? 40 : 20) + 20;
  desc.fill(0);
  desc[wire.DESC_OFFSET] = HEADROOM;
  desc[wire.DESC_LENGTH] = LENGTH;
  desc[wire.DESC_GSO_SIZE] = gsoSize;
  desc[wire.DESC_FLAGS] = gsoSize > 0 ? gsoType | (headers << wire.FLAGS_HEADER_LENGTH_SHIFT) | flagsBefore : flagsBefore;
  decideTx(slab, desc, 1, routes, { mtu: 1450, sockets: 1, whole: true, ...policy }, counters);
  return desc[wire.DESC_FLAGS];
}
const whole = (flags: number) => (flags & wire.FLAG_SEND_WHOLE) !== 0;

t.test('a TCP super-packet to a tulle host over IPv4 vxlan may leave whole', async (t) => {
  const flags = decide('198.18.1.7', wire.GSO_TCPV4, 1400);
  t.equal(desc[wire.DESC_VERDICT], 0, 'routed to peer 0');
  t.ok(whole(flags), 'flagged');
  t.equal(flags & wire.FLAGS_GSO_TYPE_MASK, wire.GSO_TCPV4, 'the GSO type is kept');
  t.equal(flags >>> wire.FLAGS_HEADER_LENGTH_SHIFT, 40, 'the header length is kept');
  t.ok(whole(decide('2001:db8:18:1::7', wire.GSO_TCPV6, 1380)), 'inner IPv6 TCP too');
});

t.test('to a tulle host on the udp backend too (its payload template is empty), inner IPv4 and IPv6', async (t) => {
  t.ok(whole(decide('198.18.4.7', wire.GSO_TCPV4, 1400)), 'inner IPv4 TCP');
  t.equal(desc[wire.DESC_VERDICT], 3, 'routed to the udp-backend peer');
  // The kernel takes the inner protocol from the GSO type, not from the (empty) tunnel header.
  t.ok(whole(decide('2001:db8:18:4::7', wire.GSO_TCPV6, 1380)), 'inner IPv6 TCP');
  t.equal(desc[wire.DESC_VERDICT], 3, 'routed to the udp-backend peer');
  t.notOk(whole(decide('198.18.4.7', wire.GSO_UDP_L4, 1400)), 'not a UDP super-packet');
  t.notOk(whole(decide('198.18.7.7', wire.GSO_TCPV4, 1400)), 'not to a udp-backend peer that is not a tulle host');
});

t.test('each condition on its own keeps the flag off', async (t) => {
  t.notOk(whole(decide('198.18.1.7', wire.GSO_TCPV4, 1400, { whole: false })), 'policy off (no TAP, or the TAP refused)');
  t.notOk(whole(decide('198.18.2.7', wire.GSO_TCPV4, 1400)), 'the peer is not a tulle host (not checksummed)');
  t.equal(desc[wire.DESC_VERDICT], 1, 'yet it is routed');
  t.notOk(whole(decide('198.18.3.7', wire.GSO_TCPV4, 1400)), 'the peer is over IPv6');
  t.equal(desc[wire.DESC_VERDICT], 2, 'yet it is routed');
  t.notOk(whole(decide('198.18.6.7', wire.GSO_TCPV4, 1400)), 'a payload template with bytes but no inner Ethernet');
  t.equal(desc[wire.DESC_VERDICT], 5, 'yet it is routed');
  t.notOk(whole(decide('198.18.5.7', wire.GSO_TCPV4, 1400)), 'the template is not payload-only');
  t.equal(desc[wire.DESC_VERDICT], 4, 'yet it is routed');
  t.notOk(whole(decide('198.18.1.7', wire.GSO_UDP_L4, 1400)), 'a UDP super-packet');
  t.notOk(whole(decide('198.18.1.7', 0, 0)), 'a single packet');
  t.notOk(whole(decide('198.18.200.7', wire.GSO_TCPV4, 1400)), 'no route');
  t.equal(desc[wire.DESC_VERDICT], DROP_NO_ROUTE);
  t.notOk(whole(decide('198.18.1.7', wire.GSO_TCPV4, 1420)), 'too big for the MTU (dropped)');
  t.equal(desc[wire.DESC_VERDICT], DROP_OVERSIZE);
});

t.test('a stale flag is cleared, and the socket and source port fields are separate', async (t) => {
  t.notOk(whole(decide('198.18.2.7', wire.GSO_TCPV4, 1400, {}, wire.FLAG_SEND_WHOLE)), 'not for this peer: cleared');
  t.ok(whole(decide('198.18.1.7', wire.GSO_TCPV4, 1400, { sockets: 8 })), 'flagged with a socket pool too');
  t.ok(desc[wire.DESC_SOCKET] >= 0 && desc[wire.DESC_SOCKET] < 8, `socket ${desc[wire.DESC_SOCKET]} of the pool`);
  t.equal(desc[wire.DESC_SRC_PORT], 0, 'the source port is left to the socket');
});
