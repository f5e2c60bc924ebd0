/**
 * Optional side interfaces a LeaseStore may also implement, found at run
 * time; the LeaseStore interface itself stays small.
 */
import type { Registry } from 'prom-client';
import type { LeaseStore } from '../lease/lease.js';
import type { PeerChanges, StaticPeer } from '../lease/static-store.js';
import type { StoreHealthReport } from '../lease/store-health.js';

/** A store with metrics of its own (gossip: members, suspects, probes …) registers them here. */
export interface StoreMetrics {
  registerMetrics(registry: Registry): void;
}

/** A store that can say how it is doing (src/lease/store-health.ts); /healthz and `tulle status` report it. */
export interface StoreHealth {
  health(): StoreHealthReport;
}

export function hasMetrics(store: LeaseStore): store is LeaseStore & StoreMetrics {
  return typeof (store as Partial<StoreMetrics>).registerMetrics === 'function';
}

export function hasHealth(store: LeaseStore): store is LeaseStore & StoreHealth {
  return typeof (store as Partial<StoreHealth>).health === 'function';
}

/** A store whose peers are the configuration's (static): SIGHUP hands it the file's new list (reload.ts). */
export interface StorePeers {
  setPeers(peers: StaticPeer[]): PeerChanges;
}

export function hasPeers(store: LeaseStore): store is LeaseStore & StorePeers {
  return typeof (store as Partial<StorePeers>).setPeers === 'function';
}
