/**
 * What other programs read about this host's lease: flannel's subnet.env
 * (Docker's unit and CNI's flannel plugin source it) and, on request, the
 * Docker options flannel's mk-docker-opts.sh derives from it; and the
 * subnet a subnet.env names, which a host asks for again as flanneld does.
 * Pure text.
 */
import * as wire from '@tulle/wire';
import { firstAddress, formatCidr4, parseCidr4, prefixOf } from '../util/cidr.js';
import { bigIntToIpv6, parseCidr6 } from '../util/ipv6-number.js';

export interface HostLease {
  network: string;
  subnet: string;
  /** A dual-stack overlay's IPv6 network and this host's IPv6 subnet. */
  ipv6Network?: string;
  ipv6Subnet?: string;
  mtu: number;
  ipMasq: boolean;
}

/** The subnet's first host address with its prefix: the bridge's address (Docker's --bip), as flannel writes it. */
export function bridgeAddress(subnet: string): string {
  const c = parseCidr4(subnet);
  return `${firstAddress(c, c.prefix >= 31 ? 0 : 1)}/${c.prefix}`;
}

/** The IPv6 subnet's first address after the network's, with its prefix (flannel's WriteSubnetFile: IncrementIP). */
export function bridgeAddress6(subnet: string): string {
  const c = parseCidr6(subnet);
  if (c === undefined) throw new Error(`"${subnet}" is not an IPv6 subnet like 2001:db8:18:1::/64`);
  return `${bigIntToIpv6(c.network + 1n)}/${c.prefix}`;
}

export function subnetEnv(lease: HostLease): string {
  const dual = lease.ipv6Network !== undefined && lease.ipv6Subnet !== undefined;
  return [
    `FLANNEL_NETWORK=${lease.network}`,
    `FLANNEL_SUBNET=${bridgeAddress(lease.subnet)}`,
    // flannel writes these after the IPv4 pair in a dual-stack network (pkg/subnet/subnet.go WriteSubnetFile).
    ...(dual ? [`FLANNEL_IPV6_NETWORK=${lease.ipv6Network}`, `FLANNEL_IPV6_SUBNET=${bridgeAddress6(lease.ipv6Subnet!)}`] : []),
    `FLANNEL_MTU=${lease.mtu}`,
    `FLANNEL_IPMASQ=${lease.ipMasq}`,
    '',
  ].join('\n');
}

/**
 * mk-docker-opts.sh's output: Docker masquerades only when tulle does not
 * (FLANNEL_IPMASQ=true → --ip-masq=false), so traffic is not translated twice.
 */
export function dockerOpts(lease: HostLease): string {
  const bip = `--bip=${bridgeAddress(lease.subnet)}`;
  const masq = `--ip-masq=${!lease.ipMasq}`;
  const mtu = `--mtu=${lease.mtu}`;
  return [`DOCKER_OPT_BIP="${bip}"`, `DOCKER_OPT_IPMASQ="${masq}"`, `DOCKER_OPT_MTU="${mtu}"`, `DOCKER_OPTS=" ${bip} ${masq} ${mtu}"`, ''].join('\n');
}

/**
 * The subnet a subnet.env names when its FLANNEL_NETWORK is `network`: FLANNEL_SUBNET holds the bridge's address
 * with the subnet's prefix, and flanneld asks for that subnet again when it restarts without a lease. Undefined
 * for another network or a file without a usable FLANNEL_SUBNET.
 */
export function subnetFromEnv(text: string, network: string): string | undefined {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?(FLANNEL_[A-Z0-9_]+)=(["']?)([^"'\s]*)\2\s*$/.exec(line);
    if (m !== null) values.set(m[1], m[3]);
  }
  const bridge = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(values.get('FLANNEL_SUBNET') ?? '');
  if (values.get('FLANNEL_NETWORK') !== network || bridge === null || Number(bridge[2]) > 32) return undefined;
  try {
    return formatCidr4(prefixOf(wire.parseIPv4(bridge[1]), Number(bridge[2])));
  } catch {
    return undefined;
  }
}
