/**
 * Keeps the host's routes into the overlay in step with the leases, at start
 * and every RECONCILE_INTERVAL_MS (and soon after a lease batch): tulle's own
 * routes that are missing or wrong are put back, protocol-201 routes it no
 * longer wants are removed, and foreign routes that shadow a lease
 * (route-audit.ts says which) are logged by name, listed in `tulle status`
 * and counted in /metrics — and, with `reconcileRoutes: replace`, removed.
 *
 * Each pass runs synchronously, so it never interleaves with the lease
 * router's own route changes.
 */
import { ip, stderrOf } from './ip-command.js';
import type { Logger } from 'pino';
import type { LeaseStatus } from './lease-routes.js';
import { Counter, Gauge, type Registry } from 'prom-client';
import {
  auditRoutes,
  deleteArgs,
  describeRoute,
  metricOf,
  protocolOf,
  replaceArgs,
  tableOf,
  typeOf,
  type AuditContext,
  type AuditLease,
  type ForeignRoute,
  type KernelRoute,
  type KernelRule,
  type KernelView,
  type OwnRoute,
} from './route-audit.js';

export type ReconcileMode = 'report' | 'replace';

/** How often the routes are looked at while the daemon runs. */
export const RECONCILE_INTERVAL_MS = 10_000;
/** A lease batch is followed by a pass this much later (batches come in bursts). */
const AFTER_BATCH_MS = 1_000;
/** At most this many foreign routes get a labelled series of their own in /metrics. */
const MAX_ROUTE_SERIES = 16;

export interface ForeignRouteView {
  destination: string;
  type: string;
  table: string;
  device?: string;
  gateway?: string;
  protocol: string;
  metric: number;
  /** "198.18.2.0/24 via 192.0.2.99 dev eth0 proto boot" */
  route: string;
  /** The leases it shadows, "198.18.2.0/24 (192.0.2.2)". */
  shadows: string[];
}

/** What `tulle status` shows. */
export interface RoutesView {
  mode: ReconcileMode;
  /** ISO time of the last pass. */
  checkedAt?: string;
  /** Foreign routes that shadow a lease, as of the last pass (replace: those that could not be removed). */
  foreign: ForeignRouteView[];
  /** Since start: own routes put back, stale own routes removed, foreign routes removed. */
  restored: number;
  staleRemoved: number;
  foreignRemoved: number;
}

export interface ReconcilerSources {
  /** Peer leases routed now. */
  leases(): AuditLease[];
  /** tulle's own routes as they should be now. */
  own(): OwnRoute[];
}

export type ReconcilerContext = Omit<AuditContext, 'leases' | 'own'> & { mode: ReconcileMode };

/** The peer leases the router routes now. */
export function routedLeases(statuses: readonly LeaseStatus[]): AuditLease[] {
  return statuses
    .filter((s) => s.state === 'routed')
    .map(({ lease }) => ({
      subnet: lease.subnet,
      ...(lease.ipv6Subnet !== undefined ? { ipv6Subnet: lease.ipv6Subnet } : {}),
      publicIP: lease.publicIP === '0.0.0.0' && lease.publicIPv6 !== undefined ? lease.publicIPv6 : lease.publicIP,
    }));
}

function viewOf(f: ForeignRoute): ForeignRouteView {
  const r = f.route;
  return {
    destination: r.dst,
    type: typeOf(r),
    table: tableOf(r),
    ...(r.dev !== undefined ? { device: r.dev } : {}),
    ...(r.gateway !== undefined ? { gateway: r.gateway } : {}),
    protocol: protocolOf(r),
    metric: metricOf(r),
    route: f.description,
    shadows: f.shadows,
  };
}

export class RouteReconciler {
  #foreign: ForeignRoute[] = [];
  #checkedAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #failing: string | undefined;
  #stopped = false;
  /** Failures to change a route, by route: each is logged when it first happens, not at every pass. */
  #complaints = new Set<string>();
  #complainedNow = new Set<string>();
  readonly #totals = { restored: 0, staleRemoved: 0, foreignRemoved: 0 };

  constructor(
    private readonly ctx: ReconcilerContext,
    private readonly sources: ReconcilerSources,
    private readonly log: Logger,
  ) {}

  /** A pass now, then one every `intervalMs`. */
  start(intervalMs = RECONCILE_INTERVAL_MS): void {
    this.check();
    this.#timer = setInterval(() => this.check(), intervalMs);
    this.#timer.unref();
  }

  /** A pass shortly (after a lease batch). */
  soon(): void {
    if (this.#stopped || this.#soon !== undefined) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      this.check();
    }, AFTER_BATCH_MS);
    this.#soon.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#soon);
  }

  /** One pass; a failure to read or change the routes is logged (once per reason), never thrown. */
  check(): void {
    if (this.#stopped) return;
    try {
      this.#pass();
      if (this.#failing !== undefined) this.log.info({ event: 'route check ok' }, 'route check works again');
      this.#failing = undefined;
    } catch (error) {
      const why = stderrOf(error);
      if (this.#failing !== why) this.log.warn({ event: 'route check failed', reason: why }, `checking the host's routes failed: ${why}`);
      this.#failing = why;
    }
  }

  #read(): KernelView {
    const routes = (family: 4 | 6, network: string | undefined) =>
      network === undefined ? [] : (JSON.parse(ip([`-${family}`, '-j', 'route', 'show', 'table', 'all', 'root', network]) || '[]') as KernelRoute[]);
    const rules = (family: 4 | 6) => JSON.parse(ip([`-${family}`, '-j', 'rule', 'show']) || '[]') as KernelRule[];
    return {
      routes4: routes(4, this.ctx.network),
      routes6: routes(6, this.ctx.ipv6Network),
      rules4: rules(4),
      rules6: this.ctx.ipv6Network !== undefined ? rules(6) : [],
    };
  }

  /** Logs a failure to change `route` unless the last pass logged it already. */
  #complain(route: string, event: string, message: string, reason: string): void {
    this.#complainedNow.add(route);
    if (!this.#complaints.has(route)) this.log.warn({ event, route, reason }, `${message}: ${reason}`);
  }

  #pass(): void {
    this.#complainedNow = new Set();
    try {
      this.#repair();
    } finally {
      this.#complaints = this.#complainedNow;
    }
  }

  #repair(): void {
    const own = this.sources.own();
    let audit = auditRoutes(this.#read(), { ...this.ctx, leases: this.sources.leases(), own });
    let changed = false;
    for (const { route, instead } of audit.missing) {
      try {
        ip(replaceArgs(route));
      } catch (error) {
        this.#complain(
          `${route.dst} dev ${route.dev}`,
          'own route not restored',
          `could not restore tulle's route ${route.dst} dev ${route.dev}`,
          stderrOf(error),
        );
        continue;
      }
      changed = true;
      this.#totals.restored += 1;
      const was = instead !== undefined ? `; it had been replaced by ${describeRoute(instead)}` : '; it was missing';
      this.log.warn(
        {
          event: 'own route restored',
          route: route.dst,
          via: route.gateway,
          dev: route.dev,
          replaced: instead !== undefined ? describeRoute(instead) : undefined,
        },
        `restored tulle's route ${route.dst}${route.gateway !== undefined ? ` via ${route.gateway}` : ''} dev ${route.dev}${was}`,
      );
    }
    for (const { family, route } of audit.stale) {
      try {
        ip(deleteArgs(family, route));
      } catch (error) {
        this.#complain(describeRoute(route), 'stale route not removed', `could not remove the stale route ${describeRoute(route)}`, stderrOf(error));
        continue;
      }
      changed = true;
      this.#totals.staleRemoved += 1;
      this.log.info({ event: 'stale route removed', route: describeRoute(route) }, `removed a route an earlier run left: ${describeRoute(route)}`);
    }
    // Own routes that were put back may have displaced what the audit saw.
    if (changed) audit = auditRoutes(this.#read(), { ...this.ctx, leases: this.sources.leases(), own });

    const previous = new Set(this.#foreign.map((f) => f.description));
    const remaining: ForeignRoute[] = [];
    for (const f of audit.foreign) {
      if (!previous.has(f.description)) {
        this.log.warn(
          {
            event: 'foreign route',
            route: f.description,
            destination: f.route.dst,
            dev: f.route.dev,
            gateway: f.route.gateway,
            protocol: protocolOf(f.route),
            table: tableOf(f.route),
            shadows: f.shadows,
          },
          `foreign route ${f.description} shadows the lease${f.shadows.length > 1 ? 's' : ''} ${f.shadows.join(', ')}: traffic to it does not go through tulle${this.ctx.mode === 'report' ? ' (reconcileRoutes: replace removes such routes)' : ''}`,
        );
      }
      if (this.ctx.mode === 'replace') {
        try {
          ip(deleteArgs(f.family, f.route));
          this.#totals.foreignRemoved += 1;
          this.log.warn({ event: 'foreign route removed', route: f.description, shadows: f.shadows }, `removed the foreign route ${f.description}`);
          continue;
        } catch (error) {
          this.#complain(f.description, 'foreign route not removed', `could not remove the foreign route ${f.description}`, stderrOf(error));
        }
      }
      remaining.push(f);
    }
    const now = new Set(audit.foreign.map((f) => f.description));
    for (const f of this.#foreign) {
      if (!now.has(f.description)) this.log.info({ event: 'foreign route gone', route: f.description }, `the foreign route ${f.description} is gone`);
    }
    this.#foreign = remaining;
    this.#checkedAt = Date.now();
  }

  view(): RoutesView {
    return {
      mode: this.ctx.mode,
      ...(this.#checkedAt !== undefined ? { checkedAt: new Date(this.#checkedAt).toISOString() } : {}),
      foreign: this.#foreign.map(viewOf),
      ...this.#totals,
    };
  }

  registerMetrics(registry: Registry): void {
    const foreign = () => this.#foreign;
    const totals = this.#totals;
    new Gauge({
      name: 'tulle_foreign_routes',
      help: 'Foreign routes that shadow a lease, as of the last route check.',
      registers: [registry],
      collect() {
        this.set(foreign().length);
      },
    });
    new Gauge({
      name: 'tulle_foreign_route',
      help: `Each foreign route that shadows a lease (value 1; the first ${MAX_ROUTE_SERIES} by destination).`,
      labelNames: ['destination', 'device', 'gateway', 'protocol', 'table', 'shadows'],
      registers: [registry],
      collect() {
        this.reset();
        const sorted = [...foreign()].sort((a, b) => a.description.localeCompare(b.description)).slice(0, MAX_ROUTE_SERIES);
        for (const f of sorted) {
          this.labels({
            destination: f.route.dst,
            device: f.route.dev ?? '',
            gateway: f.route.gateway ?? '',
            protocol: protocolOf(f.route),
            table: tableOf(f.route),
            shadows: f.shadows.join(' '),
          }).set(1);
        }
      },
    });
    new Counter({
      name: 'tulle_route_repairs_total',
      help: 'Route changes the route check made: own routes restored, stale own routes removed, foreign routes removed.',
      labelNames: ['action'],
      registers: [registry],
      collect() {
        this.reset();
        this.labels('restored').inc(totals.restored);
        this.labels('stale_removed').inc(totals.staleRemoved);
        this.labels('foreign_removed').inc(totals.foreignRemoved);
      },
    });
  }
}
