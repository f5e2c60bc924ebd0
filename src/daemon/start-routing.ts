/**
 * Start-up step 4 (run.ts): routes follow the leases (lease-router.ts), and
 * the host's routes into the overlay are checked against them now and every
 * 10 s (route-reconciler.ts).
 */
import type { Logger } from 'pino';
import type { Lease } from '../lease/lease.js';
import type { DataPlane } from './data-plane.js';
import type { LeaseFeed } from './lease-feed.js';
import { LeaseRouter } from './lease-router.js';
import { RouteReconciler, routedLeases } from './route-reconciler.js';
import type { HostPlan } from './start-plan.js';
import type { Teardown } from './teardown.js';

export interface Routing {
  router: LeaseRouter;
  routeCheck: RouteReconciler;
  /** Resolves with the reason when the store revokes this host's lease. */
  lost: Promise<string>;
}

export function startRouting(plan: HostPlan, own: Lease, dataPlane: DataPlane, feed: LeaseFeed, log: Logger, teardown: Teardown): Routing {
  let ownLost!: (why: string) => void;
  const lost = new Promise<string>((resolve) => (ownLost = resolve));
  const router = new LeaseRouter(plan.routes, dataPlane.sink, log, {
    ownPublicIP: own.publicIP,
    ...(plan.ipv6 !== undefined ? { ownIpv6Subnet: plan.ipv6.subnet } : {}),
    onOwnLost: (why) => ownLost(why),
  });
  teardown.push('stopping the lease router', () => router.stop());
  const routeCheck = new RouteReconciler(
    { ...plan.routeCheck, ownDevices: dataPlane.ownDevices },
    { leases: () => routedLeases(router.statuses()), own: () => dataPlane.ownRoutes() },
    log,
  );
  teardown.push('stopping the route check', () => routeCheck.stop());
  feed.attach((events) => {
    router.onBatch(events);
    routeCheck.soon();
  });
  routeCheck.start();
  return { router, routeCheck, lost };
}
