// GSO split through the addon's public surface: TCP and UDP super-packets,
// as a TUN with offloads hands them over (virtio-net header in front), go
// through txBatch to a UDP socket on loopback; every datagram that arrives
// must be a correct segment of its own. Runs with and without UDP_SEGMENT.
import t, { type Test } from 'tap';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeSync } from 'node:fs';
import { loadNative } from '../src/native/load.js';
import * as wire from '@tulle/wire';
import { ADDR_STRIDE, writeAddr } from '../src/engine/routes.js';

const native = loadNative();
const L = native.layout;
const HEADROOM = 128;
const GSO_TCPV4 = 1;
const GSO_TCPV6 = 4;
const GSO_UDP_L4 = 5;

interface Super {
  bytes: Uint8Array;
  offset: number;
  length: number;
}

/** A TCP or UDP super-packet with `payload` bytes, and the virtio-net header a TUN would put before it. */
function superPacket(kind: 'tcp4' | 'tcp6' | 'udp4', payload: number, gsoSize: number, flags = 0x18): Super {
  const v6 = kind === 'tcp6';
  const ip = v6 ? 40 : 20;
  const l4 = kind === 'udp4' ? 8 : 32; // TCP with 12 bytes of options (timestamps)
  const length = ip + l4 + payload;
  const bytes = new Uint8Array(HEADROOM + length);
  const at = HEADROOM;
  for (let i = 0; i < payload; i++) bytes[at + ip + l4 + i] = (i * 131 + 7) & 0xff;
  const proto = kind === 'udp4' ? 17 : 6;
  if (v6) {
    wire.ipv6.write(bytes, at, { payloadLength: length - 40, nextHeader: proto, src: wire.parseIPv6('2001:db8:1::1'), dst: wire.parseIPv6('2001:db8:2::1') });
  } else {
    // The kernel sends TSO packets with a checksum-less total length field filled in; ID 1000.
    wire.ipv4.write(bytes, at, {
      totalLength: length,
      protocol: proto,
      id: 1000,
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
    wire.writeU32(bytes, h + 4, 0xfffff000); // the sequence number wraps inside the packet
    wire.writeU32(bytes, h + 8, 77);
    bytes[h + 12] = (l4 / 4) << 4;
    bytes[h + 13] = flags;
    wire.writeU16(bytes, h + 14, 512);
    bytes.set([1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 3], h + 20);
  }
  // CHECKSUM_PARTIAL: the L4 checksum field holds the pseudo-header sum, as the kernel leaves it.
  const pseudo = v6 ? wire.ipv6.pseudoHeaderSum(bytes, at, proto, length - ip) : wire.ipv4.pseudoHeaderSum(bytes, at, proto, length - ip);
  wire.writeU16(bytes, h + (kind === 'udp4' ? 6 : 16), pseudo);
  // virtio_net_hdr (little-endian): flags, gso_type, hdr_len, gso_size, csum_start, csum_offset.
  const vnet = at - L.VNET_HDR_LEN;
  bytes[vnet] = 1;
  bytes[vnet + 1] = kind === 'udp4' ? GSO_UDP_L4 : v6 ? GSO_TCPV6 : GSO_TCPV4;
  const le16 = (o: number, v: number) => {
    bytes[vnet + o] = v & 0xff;
    bytes[vnet + o + 1] = v >>> 8;
  };
  le16(2, ip + l4);
  le16(4, gsoSize);
  le16(6, ip);
  le16(8, kind === 'udp4' ? 6 : 16);
  return { bytes, offset: at, length };
}

/** Sends one super-packet with txBatch to a loopback socket; returns what txBatch said and what arrived. */
async function sendAndCollect(
  pkt: Super,
  gsoSize: number,
  udpGso: boolean,
  setTemplate = true,
): Promise<{ sent: number; refused: number; verdict: number; got: Buffer[] }> {
  const rx = dgram.createSocket('udp4');
  rx.bind(0, '127.0.0.1');
  await once(rx, 'listening');
  const got: Buffer[] = [];
  rx.on('message', (m) => got.push(m));
  const fd = native.udpOpen(4, '127.0.0.1', 0, 8 << 20);
  try {
    const addrs = new Uint8Array(ADDR_STRIDE);
    writeAddr(addrs, 0, '127.0.0.1', rx.address().port);
    const table = new wire.TemplateTable(1);
    if (setTemplate) table.set(0, wire.udpBackend.template());
    const desc = new Int32Array(wire.DESC_STRIDE);
    desc[wire.DESC_OFFSET] = pkt.offset;
    desc[wire.DESC_LENGTH] = pkt.length;
    desc[wire.DESC_VERDICT] = 0;
    desc[wire.DESC_GSO_SIZE] = gsoSize;
    const status = new Int32Array(L.TX_STATUS_WORDS);
    const arena = new Uint8Array(1 << 20);
    const sent = native.txBatch(fd, pkt.bytes, desc, 1, table.bytes, table.meta, addrs, arena, L.TX_VNET | (udpGso ? L.TX_UDP_GSO : 0), status);
    // Wait until as many datagrams arrived as were sent (and a moment longer when none were).
    for (let i = 0; i < 100 && (got.length < sent || (sent === 0 && i < 20)); i++) await sleep(10);
    return { sent, refused: status[1], verdict: desc[wire.DESC_VERDICT], got };
  } finally {
    closeSync(fd);
    rx.close();
  }
}

function checkSegments(t: Test, kind: 'tcp4' | 'tcp6' | 'udp4', pkt: Super, gsoSize: number, segments: Buffer[]): void {
  const v6 = kind === 'tcp6';
  const ip = v6 ? 40 : 20;
  const l4 = kind === 'udp4' ? 8 : 32;
  const payload = pkt.length - ip - l4;
  const count = Math.ceil(payload / gsoSize);
  t.equal(segments.length, count, `${count} segments arrived`);
  let rebuilt = 0;
  segments.forEach((seg, i) => {
    const bytes = new Uint8Array(seg);
    const chunk = Math.min(gsoSize, payload - i * gsoSize);
    const last = i === count - 1;
    const where = `segment ${i}`;
    t.equal(bytes.length, ip + l4 + chunk, `${where}: length`);
    if (v6) {
      t.equal(wire.ipv6.decode(bytes).payloadLength, l4 + chunk, `${where}: IPv6 payload length`);
    } else {
      const h = wire.ipv4.decode(bytes); // verifies the header checksum
      t.equal(h.totalLength, ip + l4 + chunk, `${where}: IPv4 total length`);
      t.equal(h.id, 1000 + i, `${where}: IPv4 ID`);
    }
    const proto = kind === 'udp4' ? 17 : 6;
    const pseudo = v6 ? wire.ipv6.pseudoHeaderSum(bytes, 0, proto, l4 + chunk) : wire.ipv4.pseudoHeaderSum(bytes, 0, proto, l4 + chunk);
    t.equal(wire.sum16(bytes, ip, l4 + chunk, pseudo), 0xffff, `${where}: L4 checksum`);
    if (kind === 'udp4') {
      t.equal(wire.readU16(bytes, ip + 4), l4 + chunk, `${where}: UDP length`);
    } else {
      t.equal(wire.readU32(bytes, ip + 4), (0xfffff000 + i * gsoSize) >>> 0, `${where}: TCP sequence number`);
      const flags = bytes[ip + 13];
      t.equal(flags & 0x08, last ? 0x08 : 0, `${where}: PSH only on the last`);
      t.equal(flags & 0x80, i === 0 ? pkt.bytes[pkt.offset + ip + 13] & 0x80 : 0, `${where}: CWR only on the first`);
      t.same(Array.from(bytes.subarray(ip + 20, ip + 32)), [1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 3], `${where}: options kept`);
    }
    for (let k = 0; k < chunk; k++) {
      if (bytes[ip + l4 + k] !== (((i * gsoSize + k) * 131 + 7) & 0xff)) {
        t.fail(`${where}: payload byte ${k} differs`);
        return;
      }
    }
    rebuilt += chunk;
  });
  t.equal(rebuilt, payload, 'the payload comes back whole, in order');
}

for (const udpGso of [true, false]) {
  t.test(udpGso ? 'with UDP_SEGMENT' : 'one datagram per segment (sendmmsg)', async (t) => {
    const cases: { kind: 'tcp4' | 'tcp6' | 'udp4'; payload: number; gso: number; flags?: number; why: string }[] = [
      { kind: 'tcp4', payload: 64_000, gso: 1420, why: 'a full TSO packet' },
      { kind: 'tcp4', payload: 5000, gso: 1420, flags: 0x98, why: 'CWR and PSH set, uneven last segment' },
      { kind: 'tcp4', payload: 60_000, gso: 536, why: '112 segments: more than 64 per send' },
      { kind: 'tcp6', payload: 30_000, gso: 1400, why: 'IPv6' },
      { kind: 'udp4', payload: 20_000, gso: 1200, why: 'a UDP (USO) super-packet' },
    ];
    for (const c of cases) {
      await t.test(`${c.kind}, ${c.payload} bytes in ${c.gso}-byte segments: ${c.why}`, async (t) => {
        const pkt = superPacket(c.kind, c.payload, c.gso, c.flags);
        const result = await sendAndCollect(pkt, c.gso, udpGso);
        t.equal(result.sent, Math.ceil(c.payload / c.gso), 'txBatch counts one datagram per segment');
        t.equal(result.refused, 0, 'no UDP_SEGMENT send refused');
        checkSegments(t, c.kind, pkt, c.gso, result.got);
      });
    }
  });
}

t.test('a virtio-net header the packet contradicts is refused, not sent', async (t) => {
  const pkt = superPacket('tcp4', 5000, 1420);
  pkt.bytes[pkt.offset - L.VNET_HDR_LEN + 1] = GSO_TCPV6; // says IPv6, the packet is IPv4
  const result = await sendAndCollect(pkt, 1420, true);
  t.equal(result.verdict, L.VERDICT_BAD_VNET, 'the packet gets VERDICT_BAD_VNET');
  t.equal(result.sent, 0, 'nothing sent');
  t.equal(result.got.length, 0, 'nothing arrived');
});

t.test('a super-packet for a template slot that was never set is refused, not split', async (t) => {
  const pkt = superPacket('tcp4', 5000, 1420);
  const result = await sendAndCollect(pkt, 1420, true, false);
  t.equal(result.verdict, L.VERDICT_ENCAP_FAILED, 'the packet gets VERDICT_ENCAP_FAILED');
  t.equal(result.sent, 0, 'nothing sent');
  t.equal(result.got.length, 0, 'nothing arrived');
});
