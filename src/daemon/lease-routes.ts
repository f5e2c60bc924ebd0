/**
 * From the lease table to what the data plane routes: one target per usable
 * lease, and for every lease a state that `tulle leases` shows (own, routed,
 * expired, or skipped with the reason). Pure: the clock is an argument.
 *
 * A lease is never routed once its expiration has passed, whatever the
 * store says; `nextExpiry` tells the caller when to plan again.
 */
import * as wire from '@tulle/wire';
import type { BackendType, Lease } from '../lease/lease.js';
import { contains, overlaps4, parseCidr, parseCidr4, type Cidr4 } from '../util/cidr.js';

export interface PlanContext {
  ownSubnet: string;
  backendType: BackendType;
  /** The network-wide port: a lease without BackendData.Port listens here (unused by host-gw). */
  networkPort: number;
  /** vxlan: the network's VNI, for leases that name none. */
  vni?: number;
  /** True when this host's underlay is IPv6: peers are reached at their publicIPv6. */
  ipv6Underlay: boolean;
  /** A dual-stack overlay's IPv6 network: leases' IPv6 subnets inside it are routed too. */
  ipv6Network?: string;
  /** vxlan's directRouting: targets also carry the lease's public address of the other family (direct-routing.ts). */
  directRouting?: boolean;
  now: number;
}

/** A host to send to: what a route snapshot (udp, vxlan) or a kernel route (host-gw) needs. */
export interface Target {
  subnet: string;
  /** The host's IPv6 subnet, in a dual-stack overlay. */
  ipv6Subnet?: string;
  address: string;
  /** host-gw: the host's PublicIPv6, which its IPv6 subnet is routed via (flannel's host-gw GetV6Route). */
  address6?: string;
  port: number;
  vtepMac?: string;
  vni?: number;
  /** The host's datagrams always carry a UDP checksum (BackendData.UDPChecksum). */
  checksummed?: boolean;
  /** directRouting: the lease's public address of the family `address` is not, when it has one. */
  otherFamilyAddress?: string;
}

export type LeaseState = 'own' | 'routed' | 'expired' | 'skipped';

export interface LeaseStatus {
  lease: Lease;
  state: LeaseState;
  /** Why a lease is skipped. */
  reason?: string;
}

export interface RoutePlan {
  targets: Target[];
  statuses: LeaseStatus[];
  /** The earliest expiration among routed leases: plan again then. */
  nextExpiry?: number;
}

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

export function planRoutes(leases: readonly Lease[], ctx: PlanContext): RoutePlan {
  const own = parseCidr4(ctx.ownSubnet);
  const targets: Target[] = [];
  const statuses: LeaseStatus[] = [];
  let nextExpiry: number | undefined;
  for (const lease of leases) {
    if (lease.subnet === ctx.ownSubnet) {
      statuses.push({ lease, state: 'own' });
      continue;
    }
    if (!(lease.expiration > ctx.now)) {
      statuses.push({ lease, state: 'expired' });
      continue;
    }
    const skip = (reason: string) => statuses.push({ lease, state: 'skipped', reason });
    let subnet: Cidr4;
    try {
      subnet = parseCidr4(lease.subnet);
    } catch {
      skip('its subnet is not an IPv4 CIDR');
      continue;
    }
    if (overlaps4(subnet, own)) {
      skip(`its subnet overlaps ours (${ctx.ownSubnet})`);
      continue;
    }
    if (lease.backendType !== ctx.backendType) {
      skip(`its backend is ${lease.backendType}, ours ${ctx.backendType}`);
      continue;
    }
    const address = ctx.ipv6Underlay ? lease.publicIPv6 : lease.publicIP;
    if (address === undefined || !(ctx.ipv6Underlay ? wire.isIPv6(address) : wire.isIPv4(address)) || address === '0.0.0.0') {
      skip(ctx.ipv6Underlay ? 'it has no IPv6 public address and our underlay is IPv6' : 'it has no IPv4 public address');
      continue;
    }
    const data = lease.backendData ?? {};
    const port = data.Port ?? ctx.networkPort;
    if (ctx.backendType !== 'host-gw' && (!Number.isInteger(port) || port < 1 || port > 65535)) {
      skip(`its BackendData.Port is not a port (${String(data.Port)})`);
      continue;
    }
    const target: Target = { subnet: lease.subnet, address, port, ...(data.UDPChecksum === true ? { checksummed: true } : {}) };
    if (ctx.directRouting === true) {
      const other = ctx.ipv6Underlay ? lease.publicIP : lease.publicIPv6;
      if (other !== undefined && other !== '0.0.0.0' && (ctx.ipv6Underlay ? wire.isIPv4(other) : wire.isIPv6(other))) target.otherFamilyAddress = other;
    }
    let note: string | undefined;
    if (lease.ipv6Subnet !== undefined && ctx.ipv6Network !== undefined) {
      let inside = false;
      try {
        inside = contains(parseCidr(ctx.ipv6Network), parseCidr(lease.ipv6Subnet));
      } catch {
        // not a CIDR: not routed, said below
      }
      if (!inside) {
        skip(`its IPv6 subnet ${lease.ipv6Subnet} is not inside ${ctx.ipv6Network}`);
        continue;
      }
      // host-gw routes the IPv6 subnet via the host's PublicIPv6; without one (a static peer with an IPv4
      // address) the lease is routed for IPv4 only, and says so.
      if (ctx.backendType !== 'host-gw') target.ipv6Subnet = lease.ipv6Subnet;
      else if (lease.publicIPv6 !== undefined && wire.isIPv6(lease.publicIPv6)) {
        target.ipv6Subnet = lease.ipv6Subnet;
        target.address6 = lease.publicIPv6;
      } else note = `IPv4 only: its IPv6 subnet ${lease.ipv6Subnet} has no IPv6 public address to be routed via`;
    }
    if (ctx.backendType === 'vxlan') {
      if (typeof data.VtepMAC !== 'string' || !MAC.test(data.VtepMAC)) {
        skip('it has no VtepMAC in its BackendData');
        continue;
      }
      target.vtepMac = data.VtepMAC;
      target.vni = data.VNI ?? ctx.vni;
    }
    targets.push(target);
    statuses.push({ lease, state: 'routed', ...(note !== undefined ? { reason: note } : {}) });
    if (nextExpiry === undefined || lease.expiration < nextExpiry) nextExpiry = lease.expiration;
  }
  return { targets, statuses, ...(nextExpiry !== undefined ? { nextExpiry } : {}) };
}
