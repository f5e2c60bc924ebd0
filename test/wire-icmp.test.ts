// ICMP "fragmentation needed" and ICMPv6 "packet too big": the errors parse
// as valid packets (checksums verify, addresses swapped, MTU in place, the
// original quoted), and no error is made where RFC 1122/4443 forbid one.
import t from 'tap';
import { checksum, icmp, ipv4, ipv6, parseIPv6, readU16, readU32, sum16 } from '@tulle/wire';
import { udpPacket } from './helpers/packets.js';

const payload = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);

t.test('IPv4: fragmentation needed', (t) => {
  const p = udpPacket('198.18.1.5', '198.18.2.9', 4000, 5000, payload(1400));
  const out = new Uint8Array(icmp.MAX_ERROR + 8);
  const n = icmp.tooBig(out, 4, p.bytes, p.offset, p.length, 1450);
  t.equal(n, icmp.V4_MAX_ERROR, 'as much of the original as fits in 576 bytes');
  const h = ipv4.decode(out, 4, n);
  t.equal(h.protocol, ipv4.PROTO_ICMP);
  t.equal(h.src, 0xc6120209, 'from the original destination');
  t.equal(h.dst, 0xc6120105, 'to the original source');
  t.equal(h.totalLength, n);
  t.equal(out[24], icmp.TYPE_DEST_UNREACHABLE);
  t.equal(out[25], icmp.CODE_FRAG_NEEDED);
  t.equal(readU16(out, 30), 1450, 'next-hop MTU');
  t.equal(checksum(out, 24, n - 20), 0, 'the ICMP checksum verifies');
  t.same(out.subarray(32, 4 + n), p.bytes.subarray(p.offset, p.offset + n - 28), 'the original is quoted from its first byte');

  const small = udpPacket('198.18.1.5', '198.18.2.9', 4000, 5000, payload(10));
  t.equal(icmp.tooBig(out, 0, small.bytes, small.offset, small.length, 1450), 28 + small.length, 'a short original is quoted whole');
  t.end();
});

t.test('IPv4: no error where none is due', (t) => {
  const out = new Uint8Array(icmp.MAX_ERROR);
  const base = () => udpPacket('198.18.1.5', '198.18.2.9', 4000, 5000, payload(100));
  const refix = (p: ReturnType<typeof base>) => {
    p.bytes[p.offset + 10] = 0;
    p.bytes[p.offset + 11] = 0;
    const c = checksum(p.bytes, p.offset, 20);
    p.bytes[p.offset + 10] = c >>> 8;
    p.bytes[p.offset + 11] = c & 0xff;
    return p;
  };
  const cases: [string, (p: ReturnType<typeof base>) => void][] = [
    ['without DF (the sender allows fragmentation)', (p) => (p.bytes[p.offset + 6] = 0)],
    ['a non-first fragment', (p) => (p.bytes[p.offset + 7] = 10)],
    ['from 0.0.0.0', (p) => p.bytes.fill(0, p.offset + 12, p.offset + 16)],
    ['from a multicast address', (p) => (p.bytes[p.offset + 12] = 239)],
    ['to the broadcast address', (p) => p.bytes.fill(255, p.offset + 16, p.offset + 20)],
    [
      'an ICMP error itself',
      (p) => {
        p.bytes[p.offset + 9] = ipv4.PROTO_ICMP;
        p.bytes[p.offset + 20] = icmp.TYPE_DEST_UNREACHABLE;
      },
    ],
    ['a header shorter than 20 bytes', (p) => (p.bytes[p.offset] = 0x44)],
  ];
  for (const [name, spoil] of cases) {
    const p = base();
    spoil(p);
    t.equal(icmp.tooBig(out, 0, p.bytes, p.offset, p.length, 1450), 0, name);
    t.equal(icmp.tooBig(out, 0, refix(p).bytes, p.offset, p.length, 1450), 0, `${name} (checksum fixed)`);
  }
  const echo = base();
  echo.bytes[echo.offset + 9] = ipv4.PROTO_ICMP;
  echo.bytes[echo.offset + 20] = 8;
  t.ok(icmp.tooBig(out, 0, echo.bytes, echo.offset, echo.length, 1450) > 0, 'an echo request is answered');
  t.equal(icmp.tooBig(out, 0, echo.bytes, echo.offset, 12, 1450), 0, 'a truncated packet is not');
  t.end();
});

t.test('IPv6: packet too big', (t) => {
  const p = udpPacket('2001:db8:18:1::5', '2001:db8:18:2::9', 4000, 5000, payload(1400));
  const out = new Uint8Array(icmp.MAX_ERROR);
  const n = icmp.tooBig(out, 0, p.bytes, p.offset, p.length, 1430);
  t.equal(n, icmp.V6_MAX_ERROR, 'never more than the minimum IPv6 MTU');
  const h = ipv6.decode(out, 0, n);
  t.equal(h.nextHeader, ipv6.NEXT_ICMPV6);
  t.equal(h.payloadLength, n - 40);
  t.same(out.subarray(8, 24), parseIPv6('2001:db8:18:2::9'), 'from the original destination');
  t.same(out.subarray(24, 40), parseIPv6('2001:db8:18:1::5'), 'to the original source');
  t.equal(out[40], icmp.TYPE6_PACKET_TOO_BIG);
  t.equal(readU32(out, 44), 1430, 'the MTU');
  t.equal(checksum(out, 40, n - 40, sum16(out, 8, 32, ipv6.NEXT_ICMPV6 + n - 40)), 0, 'the checksum verifies over the pseudo-header');
  t.same(out.subarray(48, n), p.bytes.subarray(p.offset, p.offset + n - 48), 'the original is quoted');

  icmp.tooBig(out, 0, p.bytes, p.offset, p.length, 1000);
  t.equal(readU32(out, 44), icmp.V6_MIN_MTU, 'an MTU below 1280 is reported as 1280');
  const mcast = udpPacket('2001:db8:18:1::5', 'ff02::1', 4000, 5000, payload(10));
  t.equal(icmp.tooBig(out, 0, mcast.bytes, mcast.offset, mcast.length, 1430), 0, 'no error from a multicast destination');
  const unspecified = udpPacket('::', '2001:db8:18:2::9', 4000, 5000, payload(10));
  t.equal(icmp.tooBig(out, 0, unspecified.bytes, unspecified.offset, unspecified.length, 1430), 0, 'none to the unspecified address');
  const error = udpPacket('2001:db8:18:1::5', '2001:db8:18:2::9', 4000, 5000, payload(10));
  error.bytes[error.offset + 6] = ipv6.NEXT_ICMPV6;
  error.bytes[error.offset + 40] = 1;
  t.equal(icmp.tooBig(out, 0, error.bytes, error.offset, error.length, 1430), 0, 'none for an ICMPv6 error');
  t.equal(icmp.tooBig(out, 0, new Uint8Array([0x50, 0, 0, 0]), 0, 4, 1430), 0, 'none for an unknown IP version');
  t.end();
});
