/**
 * vxlan with `backend.directRouting` (flannel's DirectRouting): which path
 * each peer takes. A peer whose public address the kernel reaches without a
 * gateway (on a segment this host shares, as `ip route get` says) is reached
 * by a kernel route `subnet via address dev <that device>`, as host-gw does;
 * any other peer through vxlan. flannel asks the same question
 * (`ip route get` has one route and no gateway).
 *
 * Each subnet of a lease goes via the lease's public address of its own
 * family: the kernel takes no IPv6 route via an IPv4 gateway. A peer is
 * direct only when all its subnets can be; otherwise all of it stays on
 * vxlan, so one peer never straddles both paths. Pure: the kernel's answers
 * are arguments.
 */
import { formatCidr, parseCidr } from '../util/cidr.js';
import type { Target } from './lease-routes.js';

export type PeerPath = 'direct' | 'vxlan';

/** The kernel's answer to `ip -j route get ADDRESS`, the fields that matter here. */
export interface RouteLookup {
  dst: string;
  type?: string;
  gateway?: string;
  dev?: string;
}

/** One kernel route a direct peer needs: `dst via gateway dev dev`. */
export interface DirectRoute {
  family: 4 | 6;
  dst: string;
  gateway: string;
  dev: string;
}

export interface PeerPathDecision {
  subnet: string;
  /** The peer's address on the underlay (its vxlan endpoint). */
  address: string;
  path: PeerPath;
  /** Why this path: "192.0.2.2 is on-link on eth0", "the route to 198.51.100.3 goes via 192.0.2.254". */
  reason: string;
  /** The kernel routes it takes when direct; empty on vxlan. */
  routes: DirectRoute[];
}

/** The key an address is looked up by: one spelling per address whatever the input's. */
export function addressKey(address: string): string {
  return formatCidr(parseCidr(`${address}/${address.includes(':') ? 128 : 32}`));
}

/**
 * `ip -j -force -batch -` output of `route get` lines: one JSON array per
 * answered line (lookups that fail print nothing), by the address asked.
 */
export function parseRouteGets(output: string): Map<string, RouteLookup> {
  const found = new Map<string, RouteLookup>();
  for (const line of output.split('\n')) {
    if (line.trim() === '') continue;
    const first = (JSON.parse(line) as RouteLookup[])[0];
    if (first?.dst === undefined) continue;
    try {
      found.set(addressKey(first.dst), first);
    } catch {
      // not an address: nothing asked for it
    }
  }
  return found;
}

/** The device `address` is on-link on, or why it is not. */
export function onLink(address: string, lookup: RouteLookup | undefined): { dev: string } | { why: string } {
  if (lookup === undefined) return { why: `the kernel has no route to ${address}` };
  if (lookup.gateway !== undefined)
    return { why: `the route to ${address} goes via ${lookup.gateway}${lookup.dev !== undefined ? ` (dev ${lookup.dev})` : ''}` };
  if (lookup.type === 'local' || lookup.dev === 'lo' || lookup.dev === undefined) return { why: `${address} is not another host on a shared segment` };
  return { dev: lookup.dev };
}

/** The addresses whose routes `decidePeerPath` needs for `targets`. */
export function addressesToLookUp(targets: readonly Target[], ipv6Underlay: boolean): string[] {
  const out = new Set<string>();
  for (const t of targets) for (const need of needs(t, ipv6Underlay)) if (need.via !== undefined) out.add(need.via);
  return [...out];
}

function needs(t: Target, ipv6Underlay: boolean): { family: 4 | 6; dst: string; via: string | undefined }[] {
  return [
    { family: 4 as const, dst: t.subnet, via: ipv6Underlay ? t.otherFamilyAddress : t.address },
    ...(t.ipv6Subnet !== undefined ? [{ family: 6 as const, dst: t.ipv6Subnet, via: ipv6Underlay ? t.address : t.otherFamilyAddress }] : []),
  ];
}

export function decidePeerPath(target: Target, lookups: ReadonlyMap<string, RouteLookup>, ipv6Underlay: boolean): PeerPathDecision {
  const base = { subnet: target.subnet, address: target.address };
  const routes: DirectRoute[] = [];
  const devices = new Set<string>();
  for (const { family, dst, via } of needs(target, ipv6Underlay)) {
    if (via === undefined) return { ...base, path: 'vxlan', reason: `its lease has no IPv${family} public address for its IPv${family} subnet`, routes: [] };
    let lookup: RouteLookup | undefined;
    try {
      lookup = lookups.get(addressKey(via));
    } catch {
      return { ...base, path: 'vxlan', reason: `${via} is not an address`, routes: [] };
    }
    const link = onLink(via, lookup);
    if ('why' in link) return { ...base, path: 'vxlan', reason: link.why, routes: [] };
    routes.push({ family, dst, gateway: via, dev: link.dev });
    devices.add(`${via} on ${link.dev}`);
  }
  return { ...base, path: 'direct', reason: `on-link: ${[...devices].join(', ')}`, routes };
}
