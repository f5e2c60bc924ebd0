/**
 * Which subnet a host may take, by flannel's rules (pkg/subnet/etcd
 * local_manager.go): a lease fits the network when it has SubnetLen and lies
 * in [SubnetMin, SubnetMax]; a new host picks at random among the first 100
 * free subnets of that range, so hosts starting together rarely collide and a
 * collision is settled by the create transaction. Pure: no I/O.
 */
import type { Ipv6Range, NetworkConfig } from '../lease/lease.js';
import { formatCidr4, overlaps4, parseCidr4 } from '../util/cidr.js';
import * as wire from '@tulle/wire';
import { bigIntToIpv6, ipv6ToBigInt, parseCidr6, subnetSize6 } from '../util/ipv6-number.js';

/** flannel looks no further than this many free subnets before picking one. */
export const CANDIDATES = 100;

/** Whether `subnet` is one this network's hosts may hold (flannel's isSubnetConfigCompat). */
export function fitsNetwork(config: NetworkConfig, subnet: string): boolean {
  let s: { network: number; prefix: number };
  try {
    s = parseCidr4(subnet);
  } catch {
    return false;
  }
  return s.prefix === config.subnetLen && s.network >= wire.parseIPv4(config.subnetMin) && s.network <= wire.parseIPv4(config.subnetMax);
}

/** Free subnets in [SubnetMin, SubnetMax] in address order, at most `limit`; `taken` are the leased subnets. */
export function freeSubnets(config: NetworkConfig, taken: readonly string[], limit = CANDIDATES): string[] {
  const size = 2 ** (32 - config.subnetLen);
  const used = taken.flatMap((t) => {
    try {
      return [parseCidr4(t)];
    } catch {
      return [];
    }
  });
  const out: string[] = [];
  const max = wire.parseIPv4(config.subnetMax);
  for (let a = wire.parseIPv4(config.subnetMin); a <= max && out.length < limit; a += size) {
    const candidate = { network: a, prefix: config.subnetLen };
    if (!used.some((u) => overlaps4(u, candidate))) out.push(formatCidr4(candidate));
  }
  return out;
}

/** A random free subnet, or undefined when the range is full. `random` returns [0, 1). */
export function pickSubnet(config: NetworkConfig, taken: readonly string[], random: () => number = Math.random): string | undefined {
  const free = freeSubnets(config, taken);
  if (free.length === 0) return undefined;
  return free[Math.min(free.length - 1, Math.floor(random() * free.length))];
}

/**
 * The IPv6 half of a dual-stack network (flannel's allocateSubnet with EnableIPv6): the same rules over
 * IPv6SubnetMin..IPv6SubnetMax, so a dual-stack lease holds one free subnet of each family.
 */
export function fitsIpv6Range(range: Ipv6Range, subnet: string): boolean {
  const s = parseCidr6(subnet);
  return s !== undefined && s.prefix === range.subnetLen && s.network >= ipv6ToBigInt(range.subnetMin) && s.network <= ipv6ToBigInt(range.subnetMax);
}

/** Free IPv6 subnets in [IPv6SubnetMin, IPv6SubnetMax] in address order, at most `limit`; `taken` are the leased ones. */
export function freeIpv6Subnets(range: Ipv6Range, taken: readonly string[], limit = CANDIDATES): string[] {
  const size = subnetSize6(range.subnetLen);
  const used = taken.flatMap((t) => {
    const c = parseCidr6(t);
    return c === undefined ? [] : [{ start: c.network, end: c.network + subnetSize6(c.prefix) }];
  });
  const out: string[] = [];
  const max = ipv6ToBigInt(range.subnetMax);
  for (let a = ipv6ToBigInt(range.subnetMin); a <= max && out.length < limit; a += size) {
    // Taken ranges can be of any length (another config's leases): skip past the one that overlaps.
    const clash = used.find((u) => u.start < a + size && a < u.end);
    if (clash === undefined) out.push(`${bigIntToIpv6(a)}/${range.subnetLen}`);
    else if (clash.end > a + size) a = ((clash.end - 1n) / size) * size; // the loop steps to the first subnet after it
  }
  return out;
}

/** A random free IPv6 subnet, or undefined when the range is full. */
export function pickIpv6Subnet(range: Ipv6Range, taken: readonly string[], random: () => number = Math.random): string | undefined {
  const free = freeIpv6Subnets(range, taken);
  if (free.length === 0) return undefined;
  return free[Math.min(free.length - 1, Math.floor(random() * free.length))];
}
