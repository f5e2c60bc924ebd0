/**
 * Prefixes of both families: `Cidr` as the engine stores them (four 32-bit
 * words, IPv4 in the first, and a prefix length), and `Cidr4` with the IPv4
 * arithmetic that configuration checks, subnet allocation and host routes
 * need. Pure; parsing throws with the text and what is allowed. It runs at
 * the edges, never per packet.
 */
import * as wire from '@tulle/wire';

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
  return outer.words.every((w, i) => (inner.words[i] & wordMask(outer.prefix, i * 32)) >>> 0 === w);
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

// IPv4 only: an address is one unsigned 32-bit number.

export interface Cidr4 {
  network: number;
  prefix: number;
}

export function parseCidr4(text: string): Cidr4 {
  const cidr = parseCidr(text);
  if (cidr.family !== 4) throw new Error(`"${text}" is not an IPv4 CIDR like 198.18.1.0/24 (prefix length 0..32)`);
  return { network: cidr.words[0], prefix: cidr.prefix };
}

export function prefixMask(prefix: number): number {
  return wordMask(prefix, 0);
}

export function formatCidr4(c: Cidr4): string {
  return `${wire.formatIPv4(c.network)}/${c.prefix}`;
}

/** Number of addresses in the prefix (2^(32-prefix)). */
export function size4(c: Cidr4): number {
  return 2 ** (32 - c.prefix);
}

export function containsAddress(c: Cidr4, address: number): boolean {
  return (address & prefixMask(c.prefix)) >>> 0 === c.network;
}

/** True when `inner` lies wholly inside `outer`. */
export function containsCidr(outer: Cidr4, inner: Cidr4): boolean {
  return inner.prefix >= outer.prefix && containsAddress(outer, inner.network);
}

export function overlaps4(a: Cidr4, b: Cidr4): boolean {
  return containsCidr(a, b) || containsCidr(b, a);
}

/** The prefix that holds `address` (host bits cleared): "198.18.1.7", 24 → 198.18.1.0/24. */
export function prefixOf(address: number, prefix: number): Cidr4 {
  return { network: (address & prefixMask(prefix)) >>> 0, prefix };
}

/**
 * flannel's defaults for the allocation range: from the network's second
 * subnet (the first is left out, as flannel does) to its last.
 */
export function defaultSubnetRange(network: Cidr4, subnetLen: number): { min: number; max: number } {
  const step = 2 ** (32 - subnetLen);
  return { min: network.network + step, max: network.network + size4(network) - step };
}

/** Every subnet of length `subnetLen` from `min` to `max` (both subnet addresses), in order. */
export function* subnetsBetween(min: number, max: number, subnetLen: number): Generator<Cidr4> {
  const step = 2 ** (32 - subnetLen);
  for (let at = min; at <= max; at += step) yield { network: at >>> 0, prefix: subnetLen };
}

/** The subnet's first address with `prefix`: the TUN's address (flannel: the subnet's .0 with the network's prefix). */
export function firstAddress(c: Cidr4, plus = 0): string {
  return wire.formatIPv4((c.network + plus) >>> 0);
}
