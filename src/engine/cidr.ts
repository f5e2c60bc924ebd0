/**
 * Overlay prefixes of either family as the engine stores them: four 32-bit
 * words (IPv4 uses the first) and a prefix length. Parsing throws with the
 * text and what is allowed; it runs at the edges, never per packet.
 */
import * as wire from '../wire/index.js';

export interface Cidr {
  family: 4 | 6;
  /** The network address in 32-bit words, most significant first; IPv4 uses words[0]. */
  words: [number, number, number, number];
  prefix: number;
}

/** The mask of a `prefix`-bit prefix over one 32-bit word starting at bit `start`. */
export function wordMask(prefix: number, start: number): number {
  const bits = Math.max(0, Math.min(32, prefix - start));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Parses "198.18.1.0/24" or "2001:db8:18:1::/64"; host bits must be clear. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? '' : text.slice(slash + 1);
  const v6 = address.includes(':');
  const max = v6 ? 128 : 32;
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefix > max) {
    throw new Error(`"${text}" is not a CIDR like ${v6 ? '2001:db8:18:1::/64 (prefix length 0..128)' : '198.18.1.0/24 (prefix length 0..32)'}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = wire.parseIP(address);
  } catch {
    throw new Error(`"${text}" is not a CIDR: "${address}" is not an ${v6 ? 'IPv6' : 'IPv4'} address`);
  }
  const words: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < bytes.length / 4; i++) words[i] = wire.readU32(bytes, i * 4);
  const masked = words.map((w, i) => (w & wordMask(prefix, i * 32)) >>> 0) as Cidr['words'];
  if (masked.some((w, i) => w !== words[i])) {
    throw new Error(`"${text}" has host bits set: the network is ${formatCidr({ family: v6 ? 6 : 4, words: masked, prefix })}`);
  }
  return { family: v6 ? 6 : 4, words, prefix };
}

export function formatCidr(cidr: Cidr): string {
  if (cidr.family === 4) return `${wire.formatIPv4(cidr.words[0])}/${cidr.prefix}`;
  const bytes = new Uint8Array(16);
  cidr.words.forEach((w, i) => wire.writeU32(bytes, i * 4, w));
  return `${wire.formatIPv6(bytes)}/${cidr.prefix}`;
}

/** True when `inner` lies inside `outer` (same family, no shorter prefix, same leading bits). */
export function contains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  return outer.words.every((w, i) => ((inner.words[i] & wordMask(outer.prefix, i * 32)) >>> 0) === w);
}

/** True when the two prefixes share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b) || contains(b, a);
}

/** The network address as bytes (4 or 16), e.g. for a TUN address or an ICMP source. */
export function networkBytes(cidr: Cidr): Uint8Array {
  const bytes = new Uint8Array(cidr.family === 4 ? 4 : 16);
  for (let i = 0; i < bytes.length / 4; i++) wire.writeU32(bytes, i * 4, cidr.words[i]);
  return bytes;
}
