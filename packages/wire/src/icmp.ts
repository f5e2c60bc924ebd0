/**
 * The ICMP errors tulle originates: IPv4 "fragmentation needed and DF set"
 * (RFC 792, next-hop MTU per RFC 1191) and ICMPv6 "packet too big"
 * (RFC 4443 §3.2). They make path MTU discovery work through the overlay:
 * the sender learns the overlay MTU instead of losing packets silently.
 * No allocation; the caller owns both buffers.
 *
 * The error comes from the original packet's destination, as the kernel's own
 * tunnels do (iptunnel_pmtud_build_icmp): an overlay has no router address to
 * send from, and a source that is the receiver's own address would be dropped
 * by it as a martian.
 */
import { checksum, sum16 } from './checksum.js';
import { readU16, writeU16, writeU32 } from './bytes.js';
import { FLAG_DF, FRAGMENT_MASK, PROTO_ICMP } from './ipv4.js';
import { NEXT_ICMPV6 } from './ipv6.js';

/** ICMPv4 type 3, Destination Unreachable. */
export const TYPE_DEST_UNREACHABLE = 3;
/** ICMPv4 code 4 of type 3: fragmentation needed and DF set. */
export const CODE_FRAG_NEEDED = 4;
/** ICMPv6 type 2, Packet Too Big. */
export const TYPE6_PACKET_TOO_BIG = 2;
/** RFC 1812 §4.3.2.3: an ICMPv4 error holds as much of the original as fits in 576 bytes. */
export const V4_MAX_ERROR = 576;
/** RFC 4443 §2.4(c): an ICMPv6 error must not exceed the minimum IPv6 MTU. */
export const V6_MAX_ERROR = 1280;
/** The minimum IPv6 MTU (RFC 8200 §5): a Packet Too Big never reports less. */
export const V6_MIN_MTU = 1280;
/** The longest error `tooBig` writes. */
export const MAX_ERROR = V6_MAX_ERROR;

/**
 * Writes, at `out[outOffset]`, the error that answers the IP packet at
 * `packet[offset..offset+length)` being too big for `mtu`, back to the
 * packet's sender. Returns the error's length, or 0 when no error is due:
 * IPv4 without DF, a non-first fragment, an ICMP error itself, or an address
 * that cannot take part (unspecified, multicast, broadcast).
 */
export function tooBig(out: Uint8Array, outOffset: number, packet: Uint8Array, offset: number, length: number, mtu: number): number {
  if (length < 1) return 0;
  const version = packet[offset] >>> 4;
  if (version === 4) return tooBig4(out, outOffset, packet, offset, length, mtu);
  if (version === 6) return tooBig6(out, outOffset, packet, offset, length, mtu);
  return 0;
}

function unicast4(bytes: Uint8Array, at: number): boolean {
  const first = bytes[at];
  // 0/8, multicast and class E, the limited broadcast.
  return first !== 0 && first < 224 && !(bytes[at + 1] === 255 && bytes[at + 2] === 255 && bytes[at + 3] === 255 && first === 255);
}

function tooBig4(out: Uint8Array, at: number, packet: Uint8Array, offset: number, length: number, mtu: number): number {
  if (length < 20) return 0;
  const ihl = (packet[offset] & 0x0f) * 4;
  const flags = readU16(packet, offset + 6);
  if ((flags & FLAG_DF) === 0 || (flags & FRAGMENT_MASK) !== 0 || ihl < 20 || ihl > length) return 0;
  if (!unicast4(packet, offset + 12) || !unicast4(packet, offset + 16)) return 0;
  // Never answer an ICMP error with an error (RFC 1122 §3.2.2): only echo, timestamp etc. are answered.
  if (packet[offset + 9] === PROTO_ICMP) {
    if (length < ihl + 1) return 0;
    const type = packet[offset + ihl];
    if (type === 3 || type === 4 || type === 5 || type === 11 || type === 12) return 0;
  }
  const quote = Math.min(length, V4_MAX_ERROR - 28);
  const total = 28 + quote;
  out[at] = 0x45;
  out[at + 1] = 0;
  writeU16(out, at + 2, total);
  writeU32(out, at + 4, 0); // id 0, no flags: an ICMP error may itself be fragmented
  out[at + 8] = 64;
  out[at + 9] = PROTO_ICMP;
  writeU16(out, at + 10, 0);
  for (let i = 0; i < 4; i++) {
    out[at + 12 + i] = packet[offset + 16 + i];
    out[at + 16 + i] = packet[offset + 12 + i];
  }
  writeU16(out, at + 10, checksum(out, at, 20));
  const icmp = at + 20;
  out[icmp] = TYPE_DEST_UNREACHABLE;
  out[icmp + 1] = CODE_FRAG_NEEDED;
  writeU16(out, icmp + 2, 0);
  writeU16(out, icmp + 4, 0);
  writeU16(out, icmp + 6, Math.min(mtu, 0xffff));
  out.set(packet.subarray(offset, offset + quote), icmp + 8);
  writeU16(out, icmp + 2, checksum(out, icmp, 8 + quote));
  return total;
}

function unicast6(bytes: Uint8Array, at: number): boolean {
  if (bytes[at] === 0xff) return false;
  for (let i = 0; i < 16; i++) if (bytes[at + i] !== 0) return true;
  return false; // the unspecified address
}

function tooBig6(out: Uint8Array, at: number, packet: Uint8Array, offset: number, length: number, mtu: number): number {
  if (length < 40) return 0;
  const src = offset + 8;
  const dst = offset + 24;
  if (!unicast6(packet, src) || !unicast6(packet, dst)) return 0;
  // An ICMPv6 error (type < 128) is never answered; extension headers before it are rare enough to ignore here.
  if (packet[offset + 6] === NEXT_ICMPV6 && length > 40 && packet[offset + 40] < 128) return 0;
  const quote = Math.min(length, V6_MAX_ERROR - 48);
  const payload = 8 + quote;
  writeU32(out, at, 0x60000000);
  writeU16(out, at + 4, payload);
  out[at + 6] = NEXT_ICMPV6;
  out[at + 7] = 64;
  for (let i = 0; i < 16; i++) {
    out[at + 8 + i] = packet[dst + i];
    out[at + 24 + i] = packet[src + i];
  }
  const icmp = at + 40;
  out[icmp] = TYPE6_PACKET_TOO_BIG;
  out[icmp + 1] = 0;
  writeU16(out, icmp + 2, 0);
  writeU32(out, icmp + 4, Math.max(mtu, V6_MIN_MTU));
  out.set(packet.subarray(offset, offset + quote), icmp + 8);
  const pseudo = sum16(out, at + 8, 32, NEXT_ICMPV6 + payload);
  writeU16(out, icmp + 2, checksum(out, icmp, payload, pseudo));
  return 40 + payload;
}
