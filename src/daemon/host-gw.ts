/**
 * The host-gw backend: no encapsulation and no data plane of ours. For each
 * routed lease the kernel gets `peer-subnet via peer-underlay-address`, and
 * in a dual-stack network `peer-ipv6-subnet via peer-PublicIPv6` too (as
 * flannel's host-gw), which only works when the peer is on the same L2
 * segment; a peer that is not is refused by name. Routes come and go with the leases; they carry
 * protocol ROUTE_PROTO, so routes left by a daemon that was killed are found
 * and removed at the next start, and all of them go on stop.
 */
import { ip, stderrOf } from './ip-command.js';
import type { Logger } from 'pino';
import type { RouteSink } from './lease-router.js';
import type { Target } from './lease-routes.js';
import { describeRoute, ROUTE_PROTO, type KernelRoute, type OwnRoute } from './route-audit.js';

export class HostGwError extends Error {
  override name = 'HostGwError';
}

interface RouteGet {
  dst: string;
  gateway?: string;
  dev?: string;
}

/** The device through which `address` is directly reachable; throws HostGwError when it is not. */
export function directDevice(address: string): string {
  let routes: RouteGet[];
  try {
    routes = JSON.parse(ip(['-j', 'route', 'get', address])) as RouteGet[];
  } catch (error) {
    throw new HostGwError(`host-gw peer ${address} is unreachable from this host: ${stderrOf(error)}`);
  }
  const route = routes[0];
  if (route?.gateway !== undefined) {
    throw new HostGwError(
      `host-gw peer ${address} is not on the same L2 segment: the route to it goes via ${route.gateway}${route.dev ? ` (dev ${route.dev})` : ''}; ` +
        'host-gw needs peers that are directly reachable (use the udp or vxlan backend across routers)',
    );
  }
  if (route?.dev === undefined || route.dev === 'lo')
    throw new HostGwError(`host-gw peer ${address} is not another host on a shared segment (route: ${JSON.stringify(route)})`);
  return route.dev;
}

/** Checks every target before anything is installed: the first one that is not adjacent throws. */
export function checkAdjacent(targets: readonly Target[]): void {
  for (const t of targets) for (const address of [t.address, ...(t.address6 !== undefined ? [t.address6] : [])]) directDevice(address);
}

interface Installed {
  via: string;
  dev: string;
}

/** One kernel route a target asks for; `lease` names the target's lease (its IPv4 subnet). */
interface Wanted {
  via: string;
  lease: string;
}

const familyOf = (dst: string): 4 | 6 => (dst.includes(':') ? 6 : 4);
/** The metric the kernel gives a route added without one: 0 for IPv4, 1024 for IPv6. */
const defaultMetric = (dst: string): number => (familyOf(dst) === 6 ? 1024 : 0);

export class HostGwRoutes implements RouteSink {
  readonly #installed = new Map<string, Installed>();

  constructor(private readonly log: Logger) {}

  /** Removes routes a previous daemon left behind (it was killed before it could). */
  static removeStale(log: Logger): void {
    for (const family of ['-4', '-6']) {
      const stale = ip([family, 'route', 'show', 'proto', ROUTE_PROTO]).trim();
      if (stale === '') continue;
      ip([family, 'route', 'flush', 'proto', ROUTE_PROTO]);
      log.info({ event: 'stale routes removed', routes: stale.split('\n') }, `removed host-gw routes a previous run left: ${stale.split('\n').join('; ')}`);
    }
  }

  apply(targets: readonly Target[]): Map<string, string> {
    const failures = new Map<string, string>();
    const wanted = new Map<string, Wanted>();
    for (const t of targets) {
      wanted.set(t.subnet, { via: t.address, lease: t.subnet });
      if (t.ipv6Subnet !== undefined && t.address6 !== undefined) wanted.set(t.ipv6Subnet, { via: t.address6, lease: t.subnet });
    }
    for (const [subnet, route] of this.#installed) {
      const want = wanted.get(subnet);
      if (want === undefined || want.via !== route.via) this.#remove(subnet, route);
    }
    for (const [subnet, { via, lease }] of wanted) {
      if (this.#installed.has(subnet)) continue;
      try {
        const dev = directDevice(via);
        this.#install(subnet, via, dev);
        this.#installed.set(subnet, { via, dev });
        this.log.info({ event: 'route added', subnet, via, dev }, `route added: ${subnet} via ${via} dev ${dev}`);
      } catch (error) {
        if (!failures.has(lease)) failures.set(lease, error instanceof HostGwError ? error.message : `installing the route failed: ${stderrOf(error)}`);
      }
    }
    return failures;
  }

  /** The routes installed, as the kernel should hold them. */
  routes(): OwnRoute[] {
    return [...this.#installed].map(([subnet, r]) => ({
      family: familyOf(subnet),
      dst: subnet,
      gateway: r.via,
      dev: r.dev,
      protocol: ROUTE_PROTO,
      metric: defaultMetric(subnet),
    }));
  }

  get size(): number {
    return this.#installed.size;
  }

  removeAll(): void {
    for (const [subnet, route] of this.#installed) this.#remove(subnet, route);
  }

  /**
   * A route of someone else's with the same key (destination, default metric, main) gives way to ours, as it
   * always has (the kernel holds one): it is named in the log, as route-reconciler.ts names foreign routes.
   */
  #install(subnet: string, via: string, dev: string): void {
    const family = `-${familyOf(subnet)}`;
    const args = [subnet, 'via', via, 'dev', dev, 'proto', ROUTE_PROTO];
    try {
      ip([family, 'route', 'add', ...args]);
      return;
    } catch (error) {
      if (!/File exists/.test(stderrOf(error))) throw error;
    }
    // `ip route show` without a family shows IPv4 only.
    const there = (JSON.parse(ip([family, '-j', 'route', 'show', 'exact', subnet, 'table', 'main'])) as KernelRoute[]).filter(
      (r) => (r.metric ?? 0) === defaultMetric(subnet),
    );
    ip([family, 'route', 'replace', ...args]);
    for (const r of there) {
      this.log.warn(
        { event: 'foreign route replaced', route: describeRoute(r), subnet },
        `the foreign route ${describeRoute(r)} held the place of tulle's route for the lease ${subnet}: replaced`,
      );
    }
  }

  #remove(subnet: string, route: Installed): void {
    try {
      ip([`-${familyOf(subnet)}`, 'route', 'del', subnet, 'via', route.via, 'dev', route.dev, 'proto', ROUTE_PROTO]);
    } catch {
      // already gone (the device went, or someone removed it)
    }
    this.#installed.delete(subnet);
    this.log.info({ event: 'route removed', subnet, via: route.via }, `route removed: ${subnet} via ${route.via}`);
  }
}
