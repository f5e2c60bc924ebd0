// Dual-stack daemons for any lease store: the configuration of host i of a switched lab, the subnets
// the host got (from its state dir, whichever store granted them), and pings over both families.
import { join } from 'node:path';
import type { Test } from 'tap';
import type { Host } from '../../src/lab/topology.js';
import { HostState } from '../../src/lease/state-file.js';
import type { Lab } from '../../src/lab/netns.js';

export const DUAL_NETWORK = '198.18.0.0/16';
export const DUAL_IPV6_NETWORK = '2001:db8:18::/48';
const MACS = ['02:00:5e:00:53:31', '02:00:5e:00:53:32', '02:00:5e:00:53:33'];

/** What the store needs besides the hosts: the gossip key. */
export interface DualStackStore {
  type: 'static' | 'gossip';
  /** gossip: the shared key. */
  key?: string;
}

/**
 * Host i's configuration on the vxlan backend with an IPv6 overlay: the static store names every subnet
 * (198.18.n.0/24 and 2001:db8:18:n::/64, n = i + 1); the gossip store allocates them, joining through host 0.
 */
export function dualStackConfig(store: DualStackStore, hosts: Host[], i: number, dir: string): Record<string, unknown> {
  const common = {
    network: DUAL_NETWORK,
    ipv6Network: DUAL_IPV6_NETWORK,
    underlay: { address: hosts[i].underlay },
    stateDir: join(dir, `state-${i}`),
  };
  if (store.type === 'gossip') {
    return {
      ...common,
      backend: { type: 'vxlan' },
      store: { type: 'gossip', key: store.key, preset: 'local', peers: i === 0 ? [] : [hosts[0].underlay] },
    };
  }
  return {
    ...common,
    subnet: `198.18.${i + 1}.0/24`,
    ipv6Subnet: `2001:db8:18:${i + 1}::/64`,
    backend: { type: 'vxlan', mac: MACS[i] },
    peers: hosts.flatMap((h, j) =>
      j === i ? [] : [{ subnet: `198.18.${j + 1}.0/24`, ipv6Subnet: `2001:db8:18:${j + 1}::/64`, address: h.underlay, mac: MACS[j] }],
    ),
  };
}

/** The subnets the host runs with, as its state dir keeps them. */
export function grantedSubnets(stateDir: string): { subnet: string; ipv6Subnet: string | undefined } {
  const lease = new HostState(stateDir).lease;
  if (lease === undefined) throw new Error(`no lease saved in ${stateDir}`);
  return { subnet: lease.subnet, ipv6Subnet: lease.ipv6Subnet };
}

/** Pings from every host to every other's overlay address, IPv4 and IPv6 (the subnets' first address: the TUN's). */
export function pingBothFamilies(t: Test, lab: Lab, hosts: Host[], subnets: { subnet: string; ipv6Subnet: string | undefined }[], what = ''): void {
  const address = (s: string) => s.split('/')[0];
  for (const [i, h] of hosts.entries()) {
    for (const [j, s] of subnets.entries()) {
      if (i === j) continue;
      const v4 = lab.exec(h.ns, ['ping', '-c', '2', '-i', '0.2', '-W', '2', address(s.subnet)], { allowFailure: true });
      t.match(v4, / 0% packet loss/, `${what}${h.ns} → ${address(s.subnet)}`);
      const v6 = lab.exec(h.ns, ['ping', '-6', '-c', '2', '-i', '0.2', '-W', '2', address(s.ipv6Subnet ?? '::')], { allowFailure: true });
      t.match(v6, / 0% packet loss/, `${what}${h.ns} → ${address(s.ipv6Subnet ?? '(no IPv6 subnet)')}`);
    }
  }
}
