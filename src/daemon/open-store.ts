/**
 * The one place where lease stores are opened. A store is anything that
 * implements LeaseStore (src/lease/lease.ts); to add one, add a case below
 * that constructs it from its `store` config (schema.ts) — nothing else in
 * the daemon knows store types. Optional extras (metrics, health) are found
 * through store-hooks.ts.
 */
import type { Logger } from 'pino';
import type { LeaseStore } from '../lease/lease.js';
import { StaticStore } from '../lease/static-store.js';
import { EtcdStore } from '../etcd/etcd-store.js';
import { hasCredentials } from '../etcd/tls-files.js';
import { GossipStore } from '../gossip/gossip-store.js';
import { gossipSeed } from '../gossip/seeds.js';
import { formatHostPort } from '../gossip/udp-transport.js';
import { DEFAULT_IPV6_SUBNET_LEN } from '../gossip/subnet-pool6.js';
import type { HostState } from '../lease/state-file.js';
import { networkFromConfig } from './config/network.js';
import type { DaemonConfig } from './config/schema.js';
import { readKeyFile } from './key-file.js';

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
  /** What a SIGHUP reloads in the store (gossip: the keyring file; etcd: its credentials), said in words; throws when it cannot. */
  reload?: () => string | Promise<string>;
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
      const keyFile = store.keyFile;
      const keys = keyFile !== undefined ? readKeyFile(keyFile) : [store.key!];
      const gossipStore = await GossipStore.open({
        bind: formatHostPort(ctx.underlayAddress, store.port),
        // A seed without a port listens on the same port as we do.
        seeds: store.peers.map((p) => gossipSeed(p, store.port)),
        keys,
        label: store.label,
        preset: store.preset,
        overrides: {
          ...(store.probeIntervalMs !== undefined ? { probeIntervalMs: store.probeIntervalMs } : {}),
          ...(store.probeTimeoutMs !== undefined ? { probeTimeoutMs: store.probeTimeoutMs } : {}),
        },
        network: networkFromConfig(config)!,
        ...(config.ipv6Network !== undefined
          ? { ipv6Network: { network: config.ipv6Network, subnetLen: config.ipv6SubnetLen ?? DEFAULT_IPV6_SUBNET_LEN } }
          : {}),
        state: ctx.state,
        log: (level, msg, fields) => ctx.log[level]({ event: 'gossip', ...fields }, `gossip: ${msg}`),
      });
      // A keyring file is read again on SIGHUP: that is how keys rotate under traffic.
      const reload =
        keyFile === undefined
          ? undefined
          : () => {
              gossipStore.setKeys(readKeyFile(keyFile));
              return `gossip keyring ${keyFile}: ${gossipStore.keyCount} key${gossipStore.keyCount === 1 ? '' : 's'} (the first signs)`;
            };
      return {
        store: gossipStore,
        description: `gossip ${formatHostPort(ctx.underlayAddress, store.port)}`,
        leasesAreConfig: false,
        ...(reload ? { reload } : {}),
      };
    }
    case 'etcd': {
      const credentials = { tls: store.tls, username: store.username, password: store.password, passwordFile: store.passwordFile };
      const etcdStore = await EtcdStore.open({
        endpoints: store.endpoints,
        prefix: store.prefix,
        ...(store.ttlSeconds !== undefined ? { ttlSeconds: store.ttlSeconds } : {}),
        credentials,
        log: (line) => ctx.log.info({ event: 'etcd' }, line),
      });
      return {
        store: etcdStore,
        description: `etcd ${store.endpoints.join(',')}`,
        leasesAreConfig: false,
        // Certificates and the password file are read again on SIGHUP: that is how they rotate without a restart.
        ...(hasCredentials(credentials) ? { reload: () => etcdStore.reloadCredentials() } : {}),
      };
    }
  }
}
