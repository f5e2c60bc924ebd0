/**
 * Which subnet a host may take, by flannel's rules (pkg/subnet/etcd
 * local_manager.go): a lease fits the network when it has SubnetLen and lies
 * in [SubnetMin, SubnetMax]; a new host picks at random among the first 100
 * free subnets of that range, so hosts starting together rarely collide and a
 * collision is settled by the create transaction. Pure: no I/O.
 */
import type { NetworkConfig } from '../lease/lease.js';
import { formatCidr4, overlaps4, parseCidr4 } from '../util/cidr.js';
import * as wire from '@tulle/wire';

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
