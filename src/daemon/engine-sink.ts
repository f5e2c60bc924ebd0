/**
 * Targets into the engine's route snapshot: one peer per target with its
 * outer template (udp: nothing in front of the inner packet; vxlan: the
 * VXLAN header and an inner Ethernet header from our VTEP MAC to the peer's),
 * published whole; the workers pick it up at their next batch. Targets past
 * what the snapshot holds are not published but reported back, each with the
 * limit, so the router logs and shows them as not routed (lease-router.ts).
 */
import * as wire from '@tulle/wire';
import { tableLimit, type Peer, type Route, type RouteSnapshot } from '../engine/routes.js';
import type { RouteSink } from './lease-router.js';
import type { Target } from './lease-routes.js';

export function engineRoutes(targets: readonly Target[], backend: 'udp' | 'vxlan', ownMac?: string): { peers: Peer[]; routes: Route[] } {
  const peers = targets.map((t): Peer => ({
    address: t.address,
    port: t.port,
    checksummed: t.checksummed === true,
    template: backend === 'vxlan' ? wire.vxlan.template({ vni: t.vni, srcMac: ownMac!, dstMac: t.vtepMac! }) : wire.udpBackend.template(),
  }));
  const routes = targets.flatMap((t, peer) => [t.subnet, ...(t.ipv6Subnet !== undefined ? [t.ipv6Subnet] : [])].map((subnet) => ({ subnet, peer })));
  return { peers, routes };
}

export class EngineSink implements RouteSink {
  constructor(
    private readonly snapshot: RouteSnapshot,
    private readonly backend: 'udp' | 'vxlan',
    private readonly ownMac?: string,
  ) {}

  apply(targets: readonly Target[]): Map<string, string> {
    // The targets come sorted by subnet: the same ones stay routed from one plan to the next.
    const limit = this.snapshot.capacity;
    const { peers, routes } = engineRoutes(targets.slice(0, limit), this.backend, this.ownMac);
    this.snapshot.publish(peers, routes);
    const why = `${tableLimit(limit)}; ${targets.length} leases to route`;
    return new Map(targets.slice(limit).map((target) => [target.subnet, why]));
  }
}
