// Builders for well-formed inner packets with valid checksums, for tests.
import * as wire from '@tulle/wire';

/**
 * Writes a valid IPv4 or IPv6 UDP packet of exactly `length` bytes at `offset`
 * (`length` is raised to the header size if smaller), payload from `random`.
 * Returns the length written.
 */
export function buildInnerPacket(bytes: Uint8Array, offset: number, length: number, version: 4 | 6, random: () => number): number {
  const ipHeader = version === 4 ? 20 : 40;
  const total = Math.max(length, ipHeader + 8);
  for (let i = offset + ipHeader + 8; i < offset + total; i++) bytes[i] = random() & 0xff;
  if (version === 4) {
    wire.ipv4.write(bytes, offset, { totalLength: total, protocol: wire.ipv4.PROTO_UDP, src: 0xc6120202, dst: 0xc6120101 + (random() & 0xff) });
  } else {
    const src = wire.parseIPv6('2001:db8:12::2');
    const dst = wire.parseIPv6('2001:db8:12::1');
    dst[15] = random() & 0xff;
    wire.ipv6.write(bytes, offset, { payloadLength: total - 40, nextHeader: wire.ipv6.NEXT_UDP, src, dst });
  }
  wire.udp.write(bytes, offset + ipHeader, 1024 + (random() & 0x3ff), 7000, total - ipHeader);
  wire.udp.fillChecksum(bytes, offset, offset + ipHeader, total - ipHeader);
  return total;
}

/** A complete IPv4/UDP packet in a fresh buffer, with `headroom` free bytes before it. */
export function udpPacket(
  src: string,
  dst: string,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
  headroom = 0,
): { bytes: Uint8Array; offset: number; length: number } {
  const v6 = src.includes(':');
  const ipHeader = v6 ? 40 : 20;
  const length = ipHeader + 8 + payload.length;
  const bytes = new Uint8Array(headroom + length);
  const offset = headroom;
  if (v6) {
    wire.ipv6.write(bytes, offset, { payloadLength: 8 + payload.length, nextHeader: wire.ipv6.NEXT_UDP, src: wire.parseIPv6(src), dst: wire.parseIPv6(dst) });
  } else {
    wire.ipv4.write(bytes, offset, {
      totalLength: length,
      protocol: wire.ipv4.PROTO_UDP,
      src: wire.parseIPv4(src),
      dst: wire.parseIPv4(dst),
      dontFragment: true,
    });
  }
  wire.udp.write(bytes, offset + ipHeader, srcPort, dstPort, 8 + payload.length);
  bytes.set(payload, offset + ipHeader + 8);
  wire.udp.fillChecksum(bytes, offset, offset + ipHeader, 8 + payload.length);
  return { bytes, offset, length };
}
