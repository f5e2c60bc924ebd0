/**
 * Keeps what the data plane routes in step with the lease table: every
 * batch of lease events, and every time a routed lease runs out, the table
 * is planned again (lease-routes.ts) and the targets handed to the backend's
 * sink (the engine's snapshot, or host-gw's kernel routes).
 */
import type { Logger } from 'pino';
import { LeaseTable, type LeaseEvent } from '../lease/lease.js';
import { planRoutes, type LeaseStatus, type PlanContext, type Target } from './lease-routes.js';

export interface RouteSink {
  /** Makes `targets` the routed set; returns the subnets it could not route, with why. */
  apply(targets: readonly Target[]): Map<string, string>;
}

/** Batches larger than this are logged as one line. */
const MAX_EVENT_LINES = 16;
/** setTimeout's limit: later expirations are looked at again after this long. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class LeaseRouter {
  readonly table = new LeaseTable();
  #statuses: LeaseStatus[] = [];
  #timer: NodeJS.Timeout | undefined;
  #lastSkipped = new Map<string, string>();
  #stopped = false;

  /**
   * @param ownPublicIP this host's lease holds it; the own subnet under another address is someone else's lease
   * @param onOwnLost called when the store revokes this host's lease (removed, or now another host's): like
   *   flannel, the daemon then stops, and its supervisor starts it again with a new lease
   */
  constructor(
    private readonly ctx: Omit<PlanContext, 'now'>,
    private readonly sink: RouteSink,
    private readonly log: Logger,
    private readonly options: { ownPublicIP?: string; ownIpv6Subnet?: string; onOwnLost?: (why: string) => void; now?: () => number } = {},
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  onBatch(events: readonly LeaseEvent[]): void {
    if (this.#stopped) return;
    for (const e of events) {
      if (e.lease.subnet !== this.ctx.ownSubnet) continue;
      if (e.type === 'removed') this.options.onOwnLost?.(`the store revoked this host's lease ${e.lease.subnet}`);
      else if (this.options.ownPublicIP !== undefined && e.lease.publicIP !== this.options.ownPublicIP) {
        this.options.onOwnLost?.(`the store gave this host's subnet ${e.lease.subnet} to ${e.lease.publicIP}`);
      } else if (e.lease.ipv6Subnet !== undefined && this.options.ownIpv6Subnet !== undefined && e.lease.ipv6Subnet !== this.options.ownIpv6Subnet) {
        // The gossip store moved our IPv6 subnet (an earlier claim won it): the TUN and routes have the old one.
        this.options.onOwnLost?.(`the store moved this host's IPv6 subnet ${this.options.ownIpv6Subnet} to ${e.lease.ipv6Subnet}`);
      }
    }
    const others = events.filter((e) => e.lease.subnet !== this.ctx.ownSubnet);
    if (others.length > MAX_EVENT_LINES) {
      // A large batch (a store's first) is one line, not one per lease.
      const added = others.filter((e) => e.type === 'added').length;
      this.log.info({ event: 'lease batch', added, removed: others.length - added }, `leases: ${added} added, ${others.length - added} removed`);
    } else {
      for (const e of others) {
        this.log.info(
          { event: `lease ${e.type}`, subnet: e.lease.subnet, publicIP: e.lease.publicIP, backendType: e.lease.backendType },
          `lease ${e.type}: ${e.lease.subnet} at ${e.lease.publicIP}`,
        );
      }
    }
    this.table.apply(events);
    this.replan();
  }

  /** Plans and applies the routes now; called on every batch and when a lease expires. */
  replan(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    const plan = planRoutes(this.table.list(), { ...this.ctx, now: this.now() });
    const failures = this.sink.apply(plan.targets);
    this.#statuses = plan.statuses.map((s) => {
      const why = failures.get(s.lease.subnet);
      return why !== undefined && s.state === 'routed' ? { ...s, state: 'skipped', reason: why } : s;
    });
    // One warning per lease per new reason, not one per batch.
    const skipped = new Map(this.#statuses.filter((s) => s.state === 'skipped' || s.state === 'expired').map((s) => [s.lease.subnet, s.reason ?? s.state]));
    for (const [subnet, reason] of skipped) {
      if (this.#lastSkipped.get(subnet) !== reason) this.log.warn({ event: 'lease not routed', subnet, reason }, `lease ${subnet} not routed: ${reason}`);
    }
    this.#lastSkipped = skipped;
    const routed = this.#statuses.filter((s) => s.state === 'routed').length;
    this.log.debug({ event: 'routes', routed, leases: this.table.size }, `routes: ${routed} of ${this.table.size} leases`);
    if (plan.nextExpiry !== undefined) {
      this.#timer = setTimeout(() => this.replan(), Math.min(Math.max(plan.nextExpiry - this.now(), 0) + 1, MAX_TIMER_MS));
      this.#timer.unref();
    }
  }

  statuses(): LeaseStatus[] {
    return this.#statuses;
  }

  /** Peers routed right now. */
  get routed(): number {
    return this.#statuses.filter((s) => s.state === 'routed').length;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
