/**
 * The one place where lease stores are opened. A store is anything that
 * implements LeaseStore (src/lease/lease.ts); to add one, add a case below
 * that constructs it from its `store` config (schema.ts) — nothing else in
 * the daemon knows store types. Optional extras (metrics, health) are found
 * through store-hooks.ts.
 */
import * as wire from '../wire/index.js';
import type { Logger } from 'pino';
import type { LeaseStore, NetworkConfig } from '../lease/lease.js';
import { StaticStore } from '../lease/static-store.js';
import { readFileSync } from 'node:fs';
import { EtcdStore } from '../etcd/etcd-store.js';
import { GossipStore } from '../gossip/gossip-store.js';
import { gossipSeed } from '../gossip/seeds.js';
import { formatHostPort } from '../gossip/udp-transport.js';
import { defaultSubnetRange, parseCidr4 } from '../util/cidr.js';
import type { HostState } from '../lease/state-file.js';
import type { DaemonConfig } from './config/schema.js';

export interface StoreContext {
  log: Logger;
  /** The host's state dir, whose one owner this is: a store keeps what it needs across restarts through it. */
  state: HostState;
  /** This host's underlay address (where a gossip peer would listen). */
  underlayAddress: string;
}

export interface OpenedStore {
  store: LeaseStore;
  /** For logs and `tulle status`: "static", "etcd http://…". */
  description: string;
  /**
   * True when the leases are this configuration's own (static): a lease the
   * daemon cannot route (host-gw: a peer not on the segment) is then refused
   * at start-up as a mistake in the file, not skipped with a warning.
   */
  leasesAreConfig: boolean;
}

export async function openStore(config: DaemonConfig, ctx: StoreContext): Promise<OpenedStore> {
  const store = config.store;
  switch (store.type) {
    case 'static':
      return {
        store: new StaticStore({
          network: networkFromConfig(config)!,
          subnet: config.subnet,
          ipv6Subnet: config.ipv6Subnet,
          peers: config.peers,
          vni: config.backend.type === 'vxlan' ? config.backend.vni : undefined,
        }),
        description: 'static',
        leasesAreConfig: true,
      };
    case 'gossip': {
      const keys = store.keyFile !== undefined
        ? readFileSync(store.keyFile, 'utf8').split('\n').map((line) => line.trim()).filter(Boolean)
        : [store.key!];
      const gossipStore = await GossipStore.open({
        bind: formatHostPort(ctx.underlayAddress, store.port),
        // A seed without a port listens on the same port as we do.
        seeds: store.peers.map((p) => gossipSeed(p, store.port)),
        keys, label: store.label, preset: store.preset,
        network: networkFromConfig(config)!, state: ctx.state,
        log: (level, msg, fields) => ctx.log[level]({ event: 'gossip', ...fields }, `gossip: ${msg}`),
      });
      return { store: gossipStore, description: `gossip ${formatHostPort(ctx.underlayAddress, store.port)}`, leasesAreConfig: false };
    }
    case 'etcd':
      return {
        store: await EtcdStore.open({
          endpoints: store.endpoints, prefix: store.prefix,
          ...(store.ttlSeconds !== undefined ? { ttlSeconds: store.ttlSeconds } : {}),
          log: (line) => ctx.log.info({ event: 'etcd' }, line),
        }),
        description: `etcd ${store.endpoints.join(',')}`,
        leasesAreConfig: false,
      };
  }
}

/** The network as the configuration describes it, flannel's defaults filled in; undefined when it names none (etcd holds it). */
export function networkFromConfig(config: DaemonConfig): NetworkConfig | undefined {
  if (config.network === undefined) return undefined;
  const network = parseCidr4(config.network);
  const subnetLen = config.subnetLen ?? (config.subnet !== undefined ? parseCidr4(config.subnet).prefix : 24);
  const range = defaultSubnetRange(network, subnetLen);
  return {
    network: config.network,
    subnetLen,
    subnetMin: config.subnetMin ?? wire.formatIPv4(range.min),
    subnetMax: config.subnetMax ?? wire.formatIPv4(range.max),
    backendType: config.backend.type,
  };
}

/**
 * The network the daemon runs on: the store's. Where the configuration also
 * names one, the two must agree: a host on another network than its peers
 * would route into the void.
 */
export function agreeOnNetwork(config: DaemonConfig, fromStore: NetworkConfig, description: string): NetworkConfig {
  const mine = networkFromConfig(config);
  const clash = (what: string, store: unknown, file: unknown) =>
    new Error(`the ${description} store's network has ${what} ${String(store)}, the configuration ${String(file)}: make them agree`);
  if (mine !== undefined && mine.network !== fromStore.network) throw clash('network', fromStore.network, mine.network);
  if (config.subnetLen !== undefined && config.subnetLen !== fromStore.subnetLen) throw clash('subnetLen', fromStore.subnetLen, config.subnetLen);
  if (fromStore.backendType !== config.backend.type) throw clash('backend type', fromStore.backendType, config.backend.type);
  return fromStore;
}
