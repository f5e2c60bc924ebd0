/**
 * The host-gw backend: no encapsulation and no data plane of ours. For each
 * routed lease the kernel gets `peer-subnet via peer-underlay-address`,
 * which only works when the peer is on the same L2 segment; a peer that is
 * not is refused by name. Routes come and go with the leases; they carry
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
  for (const t of targets) directDevice(t.address);
}

interface Installed {
  via: string;
  dev: string;
}

export class HostGwRoutes implements RouteSink {
  readonly #installed = new Map<string, Installed>();

  constructor(private readonly log: Logger) {}

  /** Removes routes a previous daemon left behind (it was killed before it could). */
  static removeStale(log: Logger): void {
    const stale = ip(['-4', 'route', 'show', 'proto', ROUTE_PROTO]).trim();
    if (stale === '') return;
    ip(['-4', 'route', 'flush', 'proto', ROUTE_PROTO]);
    log.info({ event: 'stale routes removed', routes: stale.split('\n') }, `removed host-gw routes a previous run left: ${stale.split('\n').join('; ')}`);
  }

  apply(targets: readonly Target[]): Map<string, string> {
    const failures = new Map<string, string>();
    const wanted = new Map(targets.map((t) => [t.subnet, t]));
    for (const [subnet, route] of this.#installed) {
      const want = wanted.get(subnet);
      if (want === undefined || want.address !== route.via) this.#remove(subnet, route);
    }
    for (const target of targets) {
      if (this.#installed.has(target.subnet)) continue;
      try {
        const dev = directDevice(target.address);
        this.#install(target.subnet, target.address, dev);
        this.#installed.set(target.subnet, { via: target.address, dev });
        this.log.info(
          { event: 'route added', subnet: target.subnet, via: target.address, dev },
          `route added: ${target.subnet} via ${target.address} dev ${dev}`,
        );
      } catch (error) {
        failures.set(target.subnet, error instanceof HostGwError ? error.message : `installing the route failed: ${stderrOf(error)}`);
      }
    }
    return failures;
  }

  /** The routes installed, as the kernel should hold them. */
  routes(): OwnRoute[] {
    return [...this.#installed].map(([subnet, r]) => ({ family: 4, dst: subnet, gateway: r.via, dev: r.dev, protocol: ROUTE_PROTO, metric: 0 }));
  }

  get size(): number {
    return this.#installed.size;
  }

  removeAll(): void {
    for (const [subnet, route] of this.#installed) this.#remove(subnet, route);
  }

  /**
   * A route of someone else's with the same key (destination, metric 0, main) gives way to ours, as it
   * always has (the kernel holds one): it is named in the log, as route-reconciler.ts names foreign routes.
   */
  #install(subnet: string, via: string, dev: string): void {
    const args = [subnet, 'via', via, 'dev', dev, 'proto', ROUTE_PROTO];
    try {
      ip(['route', 'add', ...args]);
      return;
    } catch (error) {
      if (!/File exists/.test(stderrOf(error))) throw error;
    }
    const there = (JSON.parse(ip(['-j', 'route', 'show', 'exact', subnet, 'table', 'main'])) as KernelRoute[]).filter((r) => (r.metric ?? 0) === 0);
    ip(['route', 'replace', ...args]);
    for (const r of there) {
      this.log.warn(
        { event: 'foreign route replaced', route: describeRoute(r), subnet },
        `the foreign route ${describeRoute(r)} held the place of tulle's route for the lease ${subnet}: replaced`,
      );
    }
  }

  #remove(subnet: string, route: Installed): void {
    try {
      ip(['route', 'del', subnet, 'via', route.via, 'dev', route.dev, 'proto', ROUTE_PROTO]);
    } catch {
      // already gone (the device went, or someone removed it)
    }
    this.#installed.delete(subnet);
    this.log.info({ event: 'route removed', subnet, via: route.via }, `route removed: ${subnet} via ${route.via}`);
  }
}
