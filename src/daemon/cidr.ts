/**
 * IPv4 prefix arithmetic for configuration checks, subnet allocation and
 * host routes. Pure; allocates and throws, so it runs at the edges only.
 */
import * as wire from '../wire/index.js';
import { parseCidr4, prefixMask, type Cidr4 } from '../engine/routes.js';

export { parseCidr4, type Cidr4 };

export function formatCidr4(c: Cidr4): string {
  return `${wire.formatIPv4(c.network)}/${c.prefix}`;
}

/** Number of addresses in the prefix (2^(32-prefix)). */
export function size(c: Cidr4): number {
  return 2 ** (32 - c.prefix);
}

export function containsAddress(c: Cidr4, address: number): boolean {
  return ((address & prefixMask(c.prefix)) >>> 0) === c.network;
}

/** True when `inner` lies wholly inside `outer`. */
export function containsCidr(outer: Cidr4, inner: Cidr4): boolean {
  return inner.prefix >= outer.prefix && containsAddress(outer, inner.network);
}

export function overlaps(a: Cidr4, b: Cidr4): boolean {
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
  return { min: network.network + step, max: network.network + size(network) - step };
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
