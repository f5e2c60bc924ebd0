// The whole frame txBatch writes for a udp-backend peer (native/src/tunnel.cc
// SendWhole with an empty payload template), read back from a datagram pair
// that stands in for the tunnel TAP: the virtio-net header's UDP-tunnel GSO
// fields and offsets, the outer Ethernet, IPv4 and UDP headers, and the inner
// super-packet unchanged right after the outer UDP header. A UDP super-packet
// is not written whole but split. The kernel's side is test/udp-whole.test.ts.
import t from 'tap';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { closeSync, readSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadNative } from '../src/native/load.js';
import { ADDR_CHECKSUMMED } from '../src/engine/batch.js';
import { ADDR_STRIDE, writeAddr } from '../src/engine/routes.js';
import * as wire from '@tulle/wire';

const native = loadNative();
const L = native.layout;
const HEADROOM = 160;
const GSO = { tcp4: 1, tcp6: 4, udp4: 5 } as const;
const TAP_MAC = [0x02, 0x00, 0x5e, 0x00, 0x53, 0x21];
const OUR_ADDRESS = [192, 0, 2, 1];
const LISTEN_PORT = 8285;

/** A super-packet as a TUN with offloads reads it: virtio-net header, then IP and TCP (or UDP) with a partial checksum. */
function superPacket(kind: keyof typeof GSO, payload: number, gsoSize: number) {
  const v6 = kind === 'tcp6';
  const ip = v6 ? 40 : 20;
  const l4 = kind === 'udp4' ? 8 : 20;
  const length = ip + l4 + payload;
  const bytes = new Uint8Array(HEADROOM + length);
  const at = HEADROOM;
  for (let i = 0; i < payload; i++) bytes[at + ip + l4 + i] = (i * 131 + 7) & 0xff;
  const proto = kind === 'udp4' ? 17 : 6;
  if (v6) {
    wire.ipv6.write(bytes, at, {
      payloadLength: length - 40,
      nextHeader: proto,
      src: wire.parseIPv6('2001:db8:18:1::2'),
      dst: wire.parseIPv6('2001:db8:18:2::2'),
    });
  } else {
    wire.ipv4.write(bytes, at, {
      totalLength: length,
      protocol: proto,
      dontFragment: true,
      src: wire.parseIPv4('198.18.1.2'),
      dst: wire.parseIPv4('198.18.2.2'),
    });
  }
  const h = at + ip;
  if (kind === 'udp4') {
    wire.udp.write(bytes, h, 5000, 6000, l4 + payload);
  } else {
    wire.writeU16(bytes, h, 5000);
    wire.writeU16(bytes, h + 2, 6000);
    bytes[h + 12] = 5 << 4;
    bytes[h + 13] = 0x18;
  }
  const pseudo = v6 ? wire.ipv6.pseudoHeaderSum(bytes, at, proto, length - ip) : wire.ipv4.pseudoHeaderSum(bytes, at, proto, length - ip);
  wire.writeU16(bytes, h + (kind === 'udp4' ? 6 : 16), pseudo);
  const vnet = new DataView(bytes.buffer, at - L.VNET_HDR_LEN, L.VNET_HDR_LEN);
  vnet.setUint8(0, 1); // NEEDS_CSUM
  vnet.setUint8(1, GSO[kind]);
  vnet.setUint16(2, ip + l4, true);
  vnet.setUint16(4, gsoSize, true);
  vnet.setUint16(6, ip, true);
  vnet.setUint16(8, kind === 'udp4' ? 6 : 16, true);
  return { bytes, offset: at, length, original: bytes.slice(at) };
}

/** Sends one super-packet to a udp-backend tulle peer with the tunnel TAP on; returns the TAP's frame (or none) and what the sockets sent. */
async function send(kind: keyof typeof GSO, payload: number, gsoSize: number) {
  const pkt = superPacket(kind, payload, gsoSize);
  const rx = dgram.createSocket('udp4');
  rx.bind(0, '127.0.0.1');
  await once(rx, 'listening');
  let arrived = 0;
  rx.on('message', () => arrived++);
  const fd = native.udpOpen(4, '127.0.0.1', 0, 8 << 20);
  const [tapWrite, tapRead] = native.datagramPair();
  try {
    const addrs = new Uint8Array(ADDR_STRIDE);
    writeAddr(addrs, 0, '127.0.0.1', rx.address().port, ADDR_CHECKSUMMED);
    const table = new wire.TemplateTable(1);
    table.set(0, wire.udpBackend.template());
    const desc = new Int32Array(wire.DESC_STRIDE);
    desc[wire.DESC_OFFSET] = pkt.offset;
    desc[wire.DESC_LENGTH] = pkt.length;
    desc[wire.DESC_VERDICT] = 0;
    desc[wire.DESC_GSO_SIZE] = gsoSize;
    desc[wire.DESC_FLAGS] = GSO[kind] | wire.FLAG_SEND_WHOLE;
    const params = new Uint8Array(L.TUNNEL_PARAMS_BYTES);
    params.set(TAP_MAC, 0);
    params.set(OUR_ADDRESS, 6);
    new DataView(params.buffer).setUint16(10, LISTEN_PORT);
    const status = new Int32Array(L.TX_STATUS_WORDS);
    const arena = new Uint8Array(1 << 20);
    const sent = native.txBatch(fd, pkt.bytes, desc, 1, table.bytes, table.meta, addrs, arena, L.TX_VNET | L.TX_WHOLE, status, tapWrite, params);
    let frame: Buffer | undefined;
    const buffer = Buffer.alloc(1 << 17);
    try {
      frame = buffer.subarray(0, readSync(tapRead, buffer));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
    const whole = status[L.TX_STATUS_WHOLE_SENT];
    // What was split went through the socket: wait until it arrived (a moment at most).
    for (let i = 0; i < 100 && arrived < (whole > 0 ? 0 : sent); i++) await sleep(10);
    return { pkt, sent, whole, frame, arrived, port: rx.address().port };
  } finally {
    for (const f of [fd, tapWrite, tapRead]) closeSync(f);
    rx.close();
  }
}

for (const kind of ['tcp4', 'tcp6'] as const) {
  t.test(`an inner ${kind === 'tcp4' ? 'IPv4' : 'IPv6'} TCP super-packet leaves as one frame, the inner packet right after the outer UDP header`, async (t) => {
    const payload = 20000;
    const gsoSize = kind === 'tcp4' ? 1432 : 1412;
    const { pkt, sent, whole, frame, port } = await send(kind, payload, gsoSize);
    const ip = kind === 'tcp4' ? 20 : 40;
    t.equal(whole, 1, 'counted as sent whole');
    t.equal(sent, Math.ceil(payload / gsoSize), 'and as the segments the kernel will cut');
    if (!frame) return t.fail('no frame on the TAP');
    const VNET = 24;
    const innerNh = 14 + 20 + 8; // nothing between the outer UDP header and the inner packet
    t.equal(frame.length, VNET + innerNh + pkt.length, 'frame length: header, outer Ethernet, IPv4, UDP, inner packet');
    const v = new DataView(frame.buffer, frame.byteOffset);
    t.equal(v.getUint8(0), 1 | 8, 'flags: NEEDS_CSUM | UDP_TUNNEL_CSUM');
    t.equal(v.getUint8(1), 0x20 | GSO[kind], 'gso_type: UDP_TUNNEL_IPV4 and the inner type');
    t.equal(v.getUint16(2, true), innerNh + ip + 20, 'hdr_len: through the inner TCP header');
    t.equal(v.getUint16(4, true), gsoSize, 'gso_size');
    t.equal(v.getUint16(6, true), innerNh + ip, 'csum_start: the inner TCP header');
    t.equal(v.getUint16(8, true), 16, 'csum_offset: the TCP checksum');
    t.equal(v.getUint16(20, true), 14 + 20, 'outer_th_offset: the outer UDP header');
    t.equal(v.getUint16(22, true), innerNh, 'inner_nh_offset: right after the outer UDP header');
    t.same([...frame.subarray(VNET, VNET + 12)], [...TAP_MAC, ...TAP_MAC], "Ethernet: to and from the TAP's own address");
    t.equal(v.getUint16(VNET + 12), 0x0800, 'Ethernet: IPv4');
    const outer = frame.subarray(VNET + 14);
    const o = new DataView(outer.buffer, outer.byteOffset);
    t.equal(o.getUint16(2), 20 + 8 + pkt.length, 'outer IPv4 total length');
    t.equal(outer[9], 17, 'outer protocol: UDP');
    t.equal(wire.checksum(outer, 0, 20), 0, 'outer IPv4 header checksum');
    t.same([...outer.subarray(12, 16)], OUR_ADDRESS, 'outer source: our underlay address');
    t.same([...outer.subarray(16, 20)], [127, 0, 0, 1], "outer destination: the peer's");
    t.equal(o.getUint16(20), LISTEN_PORT, 'outer source port: the listening port (the udp backend has no pool)');
    t.equal(o.getUint16(22), port, "outer destination port: the peer's");
    t.equal(o.getUint16(24), 8 + pkt.length, 'outer UDP length');
    t.equal(o.getUint16(26), wire.ipv4.pseudoHeaderSum(outer, 0, 17, 8 + pkt.length), 'outer UDP checksum: the pseudo-header sum, for the kernel to finish');
    t.same(Buffer.from(outer.subarray(28)), Buffer.from(pkt.original), 'the inner super-packet, unchanged');
  });
}

t.test('a UDP super-packet is split, not written whole', async (t) => {
  const { sent, whole, frame, arrived } = await send('udp4', 6000, 1400);
  t.equal(whole, 0, 'nothing sent whole');
  t.equal(frame, undefined, 'nothing on the TAP');
  t.equal(sent, 5, 'five datagrams through the socket');
  t.equal(arrived, sent, 'and they arrived');
});
