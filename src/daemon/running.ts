/**
 * What start-up has running once the data plane, the routes, the forward
 * rules and the host outputs are in place: what the status, the servers, the
 * start-up line and the stats file read from.
 */
import type { Lease } from '../lease/lease.js';
import type { HostFacts } from './config/host-checks.js';
import type { DaemonConfig } from './config/schema.js';
import type { DataPlane } from './data-plane.js';
import type { ForwardAccept } from './forward-accept.js';
import type { HostOutputs } from './host-outputs.js';
import type { OpenedStore } from './open-store.js';
import type { HostPlan } from './start-plan.js';
import type { Routing } from './start-routing.js';

export interface Running {
  config: DaemonConfig;
  plan: HostPlan;
  facts: HostFacts;
  /** When the daemon started, ms since the epoch. */
  startedAt: number;
  opened: OpenedStore;
  /** The own lease as the store granted it. */
  own: Lease;
  dataPlane: DataPlane;
  routing: Routing;
  forward?: ForwardAccept;
  hostOutputs: HostOutputs;
}
