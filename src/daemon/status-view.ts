/**
 * What the control socket answers: the daemon's status and its leases, as
 * plain JSON-ready objects (`tulle status --json`, `tulle leases --json`).
 */
import type { CounterValues } from '../engine/counters.js';
import type { Offloads } from '../engine/engine.js';
import type { BackendData, Lease } from '../lease/lease.js';
import { NEVER_EXPIRES } from '../lease/static-store.js';
import type { LeaseState } from './lease-routes.js';
import type { StoreHealthReport } from '../lease/store-health.js';
import type { Health } from './health.js';
import type { RoutesView } from './route-reconciler.js';
import type { PeerPathView } from './direct-routes.js';

export interface LeaseView {
  subnet: string;
  publicIP: string;
  publicIPv6?: string;
  backendType: string;
  backendData: BackendData;
  /** ISO time, or null for a lease that never runs out. */
  expires: string | null;
  state: LeaseState;
  reason?: string;
}

export interface StatusView {
  version: string;
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  network: string;
  subnetLen: number;
  subnet: string;
  expiration: string | null;
  backend: { type: string; port?: number; vni?: number; vtepMac?: string; directRouting?: boolean };
  underlay: { address: string; device: string };
  tun?: { name: string; address: string; mtu: number; offloads: Offloads };
  mtu: number;
  store: { type: string; description: string; health?: StoreHealthReport };
  leases: number;
  peers: number;
  health: Health;
  ipMasq: boolean;
  subnetFile: string;
  dockerOptsFile?: string;
  stateDir: string;
  metricsAddress?: string;
  /** Where GET /healthz answers (healthAddress, its default, or metricsAddress). */
  healthAddress?: string;
  counters?: CounterValues;
  /** The route check: its mode and the foreign routes that shadow a lease. */
  routes?: RoutesView;
  /** vxlan with directRouting: the path each routed peer takes. */
  paths?: PeerPathView[];
}

export function describeLease(lease: Lease, state: LeaseState, reason?: string): LeaseView {
  return {
    subnet: lease.subnet,
    publicIP: lease.publicIP,
    ...(lease.publicIPv6 ? { publicIPv6: lease.publicIPv6 } : {}),
    backendType: lease.backendType,
    backendData: lease.backendData,
    expires: lease.expiration >= NEVER_EXPIRES ? null : new Date(lease.expiration).toISOString(),
    state,
    ...(reason !== undefined ? { reason } : {}),
  };
}
