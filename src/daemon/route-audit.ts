/**
 * Which of the host's routes into the overlay are tulle's, which of tulle's
 * are missing or wrong, and which of the others take traffic for a lease
 * away from tulle (flannel #2554: a route left on eth0 for another host's
 * subnet outlived restarts and sent that subnet's traffic the wrong way).
 * Pure: the routes and rules are arguments, as `ip -j route|rule show` prints them.
 *
 * The rule, for a route whose destination lies inside the overlay network
 * (or the IPv6 one), in a table the kernel looks at before or as `main`:
 *
 *   - on one of tulle's devices (the TUN, its tunnel TAP): tulle's own
 *   - protocol 201 in `main`: tulle's own if it is one tulle wants now (a
 *     host-gw route), otherwise stale, from an earlier run
 *   - inside this host's own subnet: legitimate when it stays on this host:
 *     on a device other than the underlay one, with no gateway or one inside
 *     the own subnet — a container bridge (docker0, cni0), a veth of a
 *     point-to-point CNI, the bridge's own local and broadcast entries; via a
 *     gateway elsewhere, on the underlay device, or a blackhole, it takes the
 *     own subnet's traffic away: foreign
 *   - otherwise foreign when it shadows a routed lease: it overlaps the
 *     lease's subnet and the kernel picks it before tulle's route for the
 *     lease — any such route in a table looked at before `main` (`local`,
 *     or one an ip rule names with a lower priority than `main`'s), and in
 *     `main` one more specific than tulle's route (the network's route on
 *     the TUN for udp and vxlan, the lease's own for host-gw), or as
 *     specific with a metric no higher.
 *
 * Routes wider than the overlay (a default route) and routes in tables
 * looked at only after `main` never win over tulle's and are left alone.
 */
import { contains, overlaps, parseCidr, type Cidr } from '../util/cidr.js';

/** rtnetlink protocol number tagging tulle's routes (unassigned in iproute2's rt_protos). */
export const ROUTE_PROTO = '201';

/** A route as `ip -j route show table all` prints it (absent fields take the kernel's defaults). */
export interface KernelRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  protocol?: string;
  metric?: number;
  scope?: string;
  prefsrc?: string;
  tos?: string;
  nexthops?: { gateway?: string; dev?: string }[];
}

/** An ip rule as `ip -j rule show` prints it. */
export interface KernelRule {
  priority: number;
  table?: string;
}

/** A route tulle sets up and keeps, in `main`. */
export interface OwnRoute {
  family: 4 | 6;
  dst: string;
  dev: string;
  gateway?: string;
  protocol: string;
  metric: number;
  scope?: string;
  prefsrc?: string;
}

/** A lease tulle routes (or its own), for naming what a foreign route shadows. */
export interface AuditLease {
  subnet: string;
  ipv6Subnet?: string;
  publicIP: string;
}

export interface AuditContext {
  network: string;
  ipv6Network?: string;
  ownSubnet: string;
  ownIpv6Subnet?: string;
  /** Peer leases tulle routes now. */
  leases: readonly AuditLease[];
  ownPublicIP: string;
  /** tulle's routes as they should be. */
  own: readonly OwnRoute[];
  /** tulle's devices: every route through them is its own. */
  ownDevices: readonly string[];
  underlayDevice: string;
}

export interface ForeignRoute {
  family: 4 | 6;
  route: KernelRoute;
  /** "198.18.2.0/24 via 192.0.2.99 dev eth0 proto boot" */
  description: string;
  /** The leases it shadows, "198.18.2.0/24 (192.0.2.2)". */
  shadows: string[];
}

export interface Audit {
  /** Own routes absent from the kernel, or different there; with what holds their place, if anything. */
  missing: { route: OwnRoute; instead?: KernelRoute }[];
  /** Protocol-201 routes tulle does not want now. */
  stale: { family: 4 | 6; route: KernelRoute }[];
  foreign: ForeignRoute[];
}

export interface KernelView {
  routes4: readonly KernelRoute[];
  routes6: readonly KernelRoute[];
  rules4: readonly KernelRule[];
  rules6: readonly KernelRule[];
}

/** Types that carry no traffic elsewhere: `throw` hands the lookup on to the next rule. */
const NOT_SHADOWING = new Set(['throw', 'multicast']);
const CONNECTED = new Set(['unicast', 'local', 'broadcast', 'anycast', 'multicast']);

export function tableOf(r: KernelRoute): string {
  return r.table ?? 'main';
}

export function typeOf(r: KernelRoute): string {
  return r.type ?? 'unicast';
}

export function protocolOf(r: KernelRoute): string {
  return r.protocol ?? 'boot';
}

export function metricOf(r: KernelRoute): number {
  return r.metric ?? 0;
}

/** The kernel prints host routes without a prefix length. */
export function dstCidr(r: KernelRoute, family: 4 | 6): Cidr {
  return parseCidr(r.dst.includes('/') ? r.dst : `${r.dst}/${family === 4 ? 32 : 128}`);
}

function gatewaysOf(r: KernelRoute): string[] {
  if (r.gateway !== undefined) return [r.gateway];
  return (r.nexthops ?? []).flatMap((h) => (h.gateway !== undefined ? [h.gateway] : []));
}

function devicesOf(r: KernelRoute): string[] {
  if (r.dev !== undefined) return [r.dev];
  return (r.nexthops ?? []).flatMap((h) => (h.dev !== undefined ? [h.dev] : []));
}

export function describeRoute(r: KernelRoute): string {
  const type = typeOf(r);
  const gateways = gatewaysOf(r);
  const devices = devicesOf(r);
  return [
    type !== 'unicast' ? type : '',
    r.dst,
    gateways.length > 0 ? `via ${gateways.join(',')}` : '',
    devices.length > 0 ? `dev ${devices.join(',')}` : '',
    tableOf(r) !== 'main' ? `table ${tableOf(r)}` : '',
    `proto ${protocolOf(r)}`,
    r.metric !== undefined ? `metric ${r.metric}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/** Tables the kernel looks at before `main`: `local`, and those named by rules with a lower priority than main's. */
export function earlyTables(rules: readonly KernelRule[]): Set<string> {
  const mainPriority = Math.min(...rules.filter((r) => r.table === 'main').map((r) => r.priority));
  const early = new Set(rules.filter((r) => r.table !== undefined && r.table !== 'main' && r.priority < mainPriority).map((r) => r.table!));
  early.add('local');
  return early;
}

function sameDst(r: KernelRoute, own: OwnRoute): boolean {
  try {
    const a = dstCidr(r, own.family);
    const b = parseCidr(own.dst);
    return a.family === b.family && a.prefix === b.prefix && a.words.every((w, i) => w === b.words[i]);
  } catch {
    return false;
  }
}

function sameAsOwn(r: KernelRoute, own: OwnRoute): boolean {
  return (
    tableOf(r) === 'main' &&
    typeOf(r) === 'unicast' &&
    sameDst(r, own) &&
    r.dev === own.dev &&
    r.gateway === own.gateway &&
    protocolOf(r) === own.protocol &&
    metricOf(r) === own.metric
  );
}

/** The kernel keys a route in a table by destination, TOS and metric: a route with the own route's key stands in its place. */
function atOwnKey(r: KernelRoute, own: OwnRoute): boolean {
  return tableOf(r) === 'main' && sameDst(r, own) && metricOf(r) === own.metric && r.tos === undefined;
}

export function auditRoutes(kernel: KernelView, ctx: AuditContext): Audit {
  const missing: Audit['missing'] = [];
  for (const own of ctx.own) {
    const routes = own.family === 4 ? kernel.routes4 : kernel.routes6;
    if (routes.some((r) => sameAsOwn(r, own))) continue;
    const instead = routes.find((r) => atOwnKey(r, own));
    missing.push({ route: own, ...(instead !== undefined ? { instead } : {}) });
  }
  const stale: Audit['stale'] = [];
  const foreign: ForeignRoute[] = [];
  const ownDevices = new Set(ctx.ownDevices);
  const ownRoutes = ctx.own.map((o) => ({ own: o, cidr: parseCidr(o.dst) }));
  for (const family of [4, 6] as const) {
    const networkText = family === 4 ? ctx.network : ctx.ipv6Network;
    if (networkText === undefined) continue;
    const network = parseCidr(networkText);
    const ownText = family === 4 ? ctx.ownSubnet : ctx.ownIpv6Subnet;
    const ownSubnet = ownText !== undefined ? parseCidr(ownText) : undefined;
    const leases = ctx.leases.flatMap((l) => {
      const subnet = family === 4 ? l.subnet : l.ipv6Subnet;
      return subnet !== undefined ? [{ cidr: parseCidr(subnet), name: `${subnet} (${l.publicIP})` }] : [];
    });
    const ownName = `${ownText} (${ctx.ownPublicIP}, this host)`;
    const early = earlyTables(family === 4 ? kernel.rules4 : kernel.rules6);
    for (const r of family === 4 ? kernel.routes4 : kernel.routes6) {
      let dst: Cidr;
      try {
        dst = dstCidr(r, family);
      } catch {
        continue; // "default" and the like: not inside the overlay
      }
      if (!contains(network, dst)) continue;
      const table = tableOf(r);
      if (table !== 'main' && !early.has(table)) continue;
      if (devicesOf(r).some((d) => ownDevices.has(d))) continue;
      if (ctx.own.some((o) => o.family === family && sameAsOwn(r, o))) continue;
      if (protocolOf(r) === ROUTE_PROTO && table === 'main') {
        stale.push({ family, route: r });
        continue;
      }
      if (NOT_SHADOWING.has(typeOf(r))) continue;
      const shadows: string[] = [];
      if (ownSubnet !== undefined && contains(ownSubnet, dst)) {
        const local = (gateway: string) => {
          try {
            return contains(ownSubnet, parseCidr(`${gateway}/${family === 4 ? 32 : 128}`));
          } catch {
            return false;
          }
        };
        const stays = CONNECTED.has(typeOf(r)) && gatewaysOf(r).every(local) && devicesOf(r).length > 0 && devicesOf(r).every((d) => d !== ctx.underlayDevice);
        if (!stays) shadows.push(ownName);
      } else {
        for (const lease of leases) {
          if (!overlaps(dst, lease.cidr)) continue;
          if (early.has(table)) {
            shadows.push(lease.name);
            continue;
          }
          // tulle's route for the lease: the most specific of its own that holds the lease's subnet.
          const carrier = ownRoutes.filter((o) => o.own.family === family && contains(o.cidr, lease.cidr)).sort((a, b) => b.cidr.prefix - a.cidr.prefix)[0];
          if (carrier === undefined) continue;
          if (dst.prefix > carrier.cidr.prefix || (dst.prefix === carrier.cidr.prefix && metricOf(r) <= carrier.own.metric)) shadows.push(lease.name);
        }
      }
      if (shadows.length > 0) foreign.push({ family, route: r, description: describeRoute(r), shadows });
    }
  }
  return { missing, stale, foreign };
}

/** `ip` arguments that delete exactly this route. */
export function deleteArgs(family: 4 | 6, r: KernelRoute): string[] {
  const type = typeOf(r);
  return [
    `-${family}`,
    'route',
    'del',
    ...(type !== 'unicast' ? [type] : []),
    r.dst,
    'table',
    tableOf(r),
    'proto',
    protocolOf(r),
    'metric',
    String(metricOf(r)),
    ...(r.tos !== undefined ? ['tos', r.tos] : []),
    ...(r.gateway !== undefined ? ['via', r.gateway] : []),
    ...(r.dev !== undefined ? ['dev', r.dev] : []),
  ];
}

/** `ip` arguments that put an own route in place (over whatever holds its key). */
export function replaceArgs(own: OwnRoute): string[] {
  return [
    `-${own.family}`,
    'route',
    'replace',
    own.dst,
    ...(own.gateway !== undefined ? ['via', own.gateway] : []),
    'dev',
    own.dev,
    'proto',
    own.protocol,
    ...(own.scope !== undefined ? ['scope', own.scope] : []),
    ...(own.prefsrc !== undefined ? ['src', own.prefsrc] : []),
    'metric',
    String(own.metric),
  ];
}
