/**
 * vxlan with `backend.directRouting`: the kernel routes that take peers on a
 * shared segment off the tunnel (direct-routing.ts decides which peers).
 *
 * Every routed peer stays in the engine's snapshot, direct or not: its vxlan
 * datagrams are accepted whichever path its own daemon picked (the two ends
 * decide apart, and not at the same instant), and a peer that leaves the
 * segment has its vxlan route ready. A direct peer's subnet routes are more
 * specific than the overlay's route into the TUN, so the kernel sends its
 * traffic out of the underlay device and the engine never sees it. Switching
 * is make-before-break by construction: going direct adds the routes (the
 * traffic moves at once), going back to vxlan deletes them (the traffic
 * falls to the TUN, where the engine already routes the peer). A changed
 * address is a `route replace`, atomic in the kernel.
 *
 * The paths are decided at every lease batch and again every
 * RECHECK_INTERVAL_MS, with one `ip -batch` of route lookups for all peers:
 * a periodic look rather than `ip monitor`, because what decides is the
 * kernel's own lookup (addresses, routes, rules, links going down all count
 * without telling them apart), its cost stays one process per interval
 * whatever the peer count or the host's unrelated route churn, and there is
 * no long-lived child to supervise. The price is up to one interval before a
 * change of the underlay is followed; in that time the old path still works
 * unless the change broke it.
 */
import { spawnSync } from 'node:child_process';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import {
  addressesToLookUp,
  decidePeerPath,
  parseRouteGets,
  type DirectRoute,
  type PeerPath,
  type PeerPathDecision,
  type RouteLookup,
} from './direct-routing.js';
import { ip, stderrOf } from './ip-command.js';
import type { RouteSink } from './lease-router.js';
import type { Target } from './lease-routes.js';
import { describeRoute, ROUTE_PROTO, type KernelRoute, type OwnRoute } from './route-audit.js';

/** How often the paths are decided again between lease batches. */
export const RECHECK_INTERVAL_MS = 5_000;
/** At most this many peers get a labelled series of their own in /metrics. */
const MAX_PEER_SERIES = 64;
/** The kernel's default metrics: IPv6 routes get 1024 when none is given. */
const METRIC = { 4: 0, 6: 1024 } as const;

/** What `tulle status` shows of one peer. */
export interface PeerPathView {
  subnet: string;
  address: string;
  path: PeerPath;
  reason: string;
}

/** The kernel's route to each address, by addressKey; addresses it has none to are absent. */
export function lookUpRoutes(addresses: readonly string[]): Map<string, RouteLookup> {
  if (addresses.length === 0) return new Map();
  // -force: a lookup that fails (no route) prints nothing and the others still answer.
  const result = spawnSync('ip', ['-j', '-force', '-batch', '-'], {
    input: addresses.map((a) => `route get ${a}\n`).join(''),
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (result.error !== undefined) throw result.error;
  return parseRouteGets(result.stdout);
}

/** What the sink asks of the kernel: the `ip` command (ipKernel), or a fake in tests. */
export interface DirectRouteKernel {
  lookUp(addresses: readonly string[]): Map<string, RouteLookup>;
  /** The routes in `main` that hold the route's place (its destination and metric). */
  holders(route: DirectRoute): KernelRoute[];
  replace(route: DirectRoute): void;
  /** Removes the route; one already gone is no error. */
  remove(route: DirectRoute): void;
}

export const ipKernel: DirectRouteKernel = {
  lookUp: lookUpRoutes,
  holders: (route) =>
    (JSON.parse(ip([`-${route.family}`, '-j', 'route', 'show', 'exact', route.dst, 'table', 'main'])) as KernelRoute[]).filter(
      (r) => (r.metric ?? 0) === METRIC[route.family],
    ),
  replace: (route) =>
    void ip([
      `-${route.family}`,
      'route',
      'replace',
      route.dst,
      'via',
      route.gateway,
      'dev',
      route.dev,
      'proto',
      ROUTE_PROTO,
      'metric',
      String(METRIC[route.family]),
    ]),
  remove: (route) => {
    try {
      ip([`-${route.family}`, 'route', 'del', route.dst, 'via', route.gateway, 'dev', route.dev, 'proto', ROUTE_PROTO, 'metric', String(METRIC[route.family])]);
    } catch {
      // already gone (the device went, or someone removed it)
    }
  },
};

const keyOf = (r: DirectRoute) => `${r.family} ${r.dst}`;

/** The routes a target would have if it is direct, as "family dst via gateway", whatever the kernel says now. */
function routesAsBefore(t: Target, ipv6Underlay: boolean): string[] {
  const v4 = ipv6Underlay ? t.otherFamilyAddress : t.address;
  const v6 = ipv6Underlay ? t.address : t.otherFamilyAddress;
  return [`4 ${t.subnet} via ${v4}`, ...(t.ipv6Subnet !== undefined ? [`6 ${t.ipv6Subnet} via ${v6}`] : [])];
}
const sameRoute = (a: DirectRoute, b: DirectRoute) => a.gateway === b.gateway && a.dev === b.dev;

export class DirectRoutingSink implements RouteSink {
  #targets: Target[] = [];
  #decisions: PeerPathDecision[] = [];
  /** Installed routes by family and destination. */
  readonly #installed = new Map<string, DirectRoute>();
  #timer: NodeJS.Timeout | undefined;
  #failing: string | undefined;

  constructor(
    private readonly engine: RouteSink,
    private readonly ipv6Underlay: boolean,
    private readonly log: Logger,
    private readonly kernel: DirectRouteKernel = ipKernel,
  ) {}

  apply(targets: readonly Target[]): Map<string, string> {
    const failures = this.engine.apply(targets);
    this.#targets = targets.filter((t) => !failures.has(t.subnet));
    this.recheck();
    return failures;
  }

  start(intervalMs = RECHECK_INTERVAL_MS): void {
    this.#timer = setInterval(() => this.recheck(), intervalMs);
    this.#timer.unref();
  }

  /** Stops the re-checks and removes every direct route: the peers fall back to the TUN, which goes next. */
  stop(): void {
    clearInterval(this.#timer);
    for (const [key, route] of this.#installed) this.#remove(key, route);
    this.#decisions = [];
  }

  /** Decides every peer's path again and makes the kernel's routes follow. A failure to look up is logged once, never thrown. */
  recheck(): void {
    let lookups: Map<string, RouteLookup>;
    try {
      lookups = this.kernel.lookUp(addressesToLookUp(this.#targets, this.ipv6Underlay));
      if (this.#failing !== undefined) this.log.info({ event: 'path lookup ok' }, 'looking up the paths to peers works again');
      this.#failing = undefined;
    } catch (error) {
      // The last decision holds until the kernel can be asked again, for the peers that are still routed as they were.
      const why = stderrOf(error);
      if (this.#failing !== why) this.log.warn({ event: 'path lookup failed', reason: why }, `looking up the paths to peers failed: ${why}`);
      this.#failing = why;
      this.#keepOnly(new Set(this.#targets.flatMap((t) => routesAsBefore(t, this.ipv6Underlay))), why);
      return;
    }
    const decisions = this.#targets.map((t) => decidePeerPath(t, lookups, this.ipv6Underlay));
    const wanted = new Map<string, DirectRoute>();
    // Make: new and changed routes first, so that no peer is without a path in between.
    for (const [i, d] of decisions.entries()) {
      const mine: DirectRoute[] = [];
      try {
        for (const route of d.routes) {
          const had = this.#installed.get(keyOf(route));
          if (had === undefined || !sameRoute(had, route)) {
            this.#install(route, had !== undefined);
            this.#installed.set(keyOf(route), route);
          }
          mine.push(route);
        }
      } catch (error) {
        // A peer that failed part-way keeps none of its routes: all of it goes through vxlan.
        decisions[i] = { ...d, path: 'vxlan', reason: `installing a direct route failed: ${stderrOf(error)}`, routes: [] };
        continue;
      }
      for (const route of mine) wanted.set(keyOf(route), route);
    }
    // Break: routes no peer wants now.
    for (const [key, route] of this.#installed) if (!wanted.has(key)) this.#remove(key, route);
    this.#logChanges(decisions);
    this.#decisions = decisions;
  }

  /** Removes the routes whose peer is gone or has another address now; such a peer is on vxlan until the kernel answers. */
  #keepOnly(keys: ReadonlySet<string>, why: string): void {
    for (const [key, route] of this.#installed) if (!keys.has(`${key} via ${route.gateway}`)) this.#remove(key, route);
    const before = new Map(this.#decisions.map((d) => [d.subnet, d]));
    this.#decisions = this.#targets.map((t) => {
      const d = before.get(t.subnet);
      if (d !== undefined && d.address === t.address && d.routes.every((r) => this.#installed.has(keyOf(r)))) return d;
      return { subnet: t.subnet, address: t.address, path: 'vxlan', reason: `looking up the path failed: ${why}`, routes: [] };
    });
    for (const [key, route] of this.#installed) if (!this.#decisions.some((d) => d.routes.some((r) => keyOf(r) === key))) this.#remove(key, route);
  }

  #logChanges(decisions: readonly PeerPathDecision[]): void {
    const before = new Map(this.#decisions.map((d) => [d.subnet, d]));
    for (const d of decisions) {
      const was = before.get(d.subnet);
      if (was !== undefined && was.path === d.path && was.reason === d.reason) continue;
      this.log.info(
        { event: 'peer path', subnet: d.subnet, address: d.address, path: d.path, was: was?.path, reason: d.reason },
        `peer ${d.subnet} (${d.address}): ${was !== undefined && was.path !== d.path ? `${was.path} → ` : ''}${d.path} (${d.reason})`,
      );
    }
  }

  /**
   * A route of someone else's with the same key gives way to ours, and is named in the log (as host-gw.ts
   * does); one of ours an earlier run left (protocol 201) is simply taken over.
   */
  #install(route: DirectRoute, replacing: boolean): void {
    if (!replacing) {
      for (const r of this.kernel.holders(route).filter((r) => r.protocol !== ROUTE_PROTO)) {
        this.log.warn(
          { event: 'foreign route replaced', route: describeRoute(r), subnet: route.dst },
          `the foreign route ${describeRoute(r)} held the place of tulle's direct route for ${route.dst}: replaced`,
        );
      }
    }
    this.kernel.replace(route);
  }

  #remove(key: string, route: DirectRoute): void {
    this.kernel.remove(route);
    this.#installed.delete(key);
  }

  /** The direct routes as the kernel should hold them (route-reconciler.ts keeps them so). */
  routes(): OwnRoute[] {
    return [...this.#installed.values()].map((r) => ({
      family: r.family,
      dst: r.dst,
      gateway: r.gateway,
      dev: r.dev,
      protocol: ROUTE_PROTO,
      metric: METRIC[r.family],
    }));
  }

  paths(): PeerPathView[] {
    return this.#decisions.map(({ subnet, address, path, reason }) => ({ subnet, address, path, reason }));
  }

  registerMetrics(registry: Registry): void {
    const paths = () => this.#decisions;
    new Gauge({
      name: 'tulle_peer_paths',
      help: 'Routed peers by the path they take: direct (a kernel route on a shared segment) or vxlan.',
      labelNames: ['path'],
      registers: [registry],
      collect() {
        this.reset();
        for (const path of ['direct', 'vxlan'] as const) this.labels(path).set(paths().filter((d) => d.path === path).length);
      },
    });
    new Gauge({
      name: 'tulle_peer_path',
      help: `Each peer's path (value 1; the first ${MAX_PEER_SERIES} peers by subnet).`,
      labelNames: ['peer', 'address', 'path'],
      registers: [registry],
      collect() {
        this.reset();
        const sorted = [...paths()].sort((a, b) => a.subnet.localeCompare(b.subnet)).slice(0, MAX_PEER_SERIES);
        for (const d of sorted) this.labels({ peer: d.subnet, address: d.address, path: d.path }).set(1);
      },
    });
  }
}
