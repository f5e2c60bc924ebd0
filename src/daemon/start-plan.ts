/**
 * What `tulle run` sets up, decided before it is set up: pure functions from
 * the checked configuration and what the store, the state dir and the host
 * said, to plain data that run.ts applies one step at a time. The
 * configuration is never changed: where the store settles something the file
 * left open (flannel's Backend.Port and VNI in etcd), the plan carries the
 * settled value and the configuration keeps the file's.
 *
 * Two stages, because the second needs the lease the first asks for:
 *
 *   planLeaseRequest  the network the file and the store agree on, the
 *                     backend as settled, the VTEP MAC, the UDP port, and
 *                     the attributes the lease is asked for with
 *   planHost          once the store granted a lease: what the state dir
 *                     keeps, route planning and the route check, the data
 *                     plane, forward rules, host outputs and servers
 */
import { join } from 'node:path';
import * as wire from '@tulle/wire';
import type { Lease, LeaseAttrs, NetworkConfig } from '../lease/lease.js';
import type { SavedLease } from '../lease/state-file.js';
import type { HostFacts } from './config/host-checks.js';
import { networkFromConfig } from './config/network.js';
import { parseHostPort, type BackendConfig, type DaemonConfig } from './config/schema.js';
import type { OverlayNetworks } from './forward-accept.js';
import type { PlanContext } from './lease-routes.js';
import { listenPort, networkPort } from './ports.js';
import type { ReconcilerContext } from './route-reconciler.js';
import { socketPath, SUBNET_FILE } from './state-dir.js';
import { subnetFromEnv } from './subnet-env.js';

/** What the lease store and the state dir said before the lease is asked for. */
export interface StoreFacts {
  /** "static", "etcd http://…": errors name the store by it. */
  description: string;
  /** The network as the store serves it. */
  network: NetworkConfig;
  /** The leases are the configuration's own (open-store.ts): a peer host-gw cannot reach is a mistake in the file. */
  leasesAreConfig: boolean;
  /** The own lease the last run saved in the state dir. */
  saved?: SavedLease;
  /** The subnet file's text (flannel's subnet.env, or tulle's own), read when the state dir keeps no lease. */
  subnetEnv?: string;
}

/** What start-up learnt about this host, beyond the configuration checks. */
export interface StartFacts {
  underlay: HostFacts['underlay'];
  stateDir: string;
  /** The state dir's host id. */
  hostId: string;
  /** A fresh random VTEP MAC: used when neither the file nor the last run names one. */
  newMac: string;
}

export interface LeaseRequest {
  network: NetworkConfig;
  /** The configuration's backend with what the store settled filled in. */
  backend: BackendConfig;
  /** The lease the last run saved, when it was on this network. */
  previous?: SavedLease;
  /** vxlan: this host's VTEP MAC. */
  ownMac?: string;
  /** udp, vxlan: the UDP port this host listens on. */
  port?: number;
  /** This host's underlay is IPv6: peers reach it at its publicIPv6. */
  ipv6Underlay: boolean;
  attrs: LeaseAttrs;
  /** host-gw with static peers: a peer not on the segment is refused before anything changes. */
  checkAdjacentPeers: boolean;
}

export interface HostPlan extends LeaseRequest {
  subnet: string;
  /** A dual-stack overlay: the IPv6 network and this host's IPv6 subnet in it. */
  ipv6?: { network: string; subnet: string };
  /** What the state dir keeps, so the next run asks for the same subnet and VTEP MAC. */
  saved: SavedLease;
  /** What the lease router plans routes with (the clock aside). */
  routes: Omit<PlanContext, 'now'>;
  /** What the route check compares the host's routes with (the data plane's devices aside). */
  routeCheck: Omit<ReconcilerContext, 'ownDevices'>;
  /** The networks accepted in forward chains that drop by policy; absent when forwardAccept is off. */
  forwardAccept?: OverlayNetworks;
  /** subnet.env, the Docker options and the masquerade table (their MTU comes from the data plane). */
  outputs: { network: string; subnet: string; ipv6Network?: string; ipv6Subnet?: string; ipMasq: boolean; subnetFile: string; dockerOptsFile?: string };
  controlSocket: string;
  /** Where /metrics is served; absent unless metricsAddress is set. */
  metrics?: { address: string; host: string; port: number };
  /** The backend as `tulle status` shows it. */
  statusBackend: { type: string; port?: number; vni?: number; vtepMac?: string; directRouting?: boolean };
}

/**
 * The network the daemon runs on: the store's. Where the configuration also
 * names one, the two must agree: a host on another network than its peers
 * would route into the void.
 */
export function agreeOnNetwork(config: DaemonConfig, fromStore: NetworkConfig, description: string): NetworkConfig {
  const mine = networkFromConfig(config);
  if (mine !== undefined && mine.network !== fromStore.network) throw clash(description, 'network', fromStore.network, mine.network);
  if (config.subnetLen !== undefined && config.subnetLen !== fromStore.subnetLen) throw clash(description, 'subnetLen', fromStore.subnetLen, config.subnetLen);
  if (fromStore.backendType !== config.backend.type) throw clash(description, 'backend type', fromStore.backendType, config.backend.type);
  if (config.ipv6Network !== undefined && fromStore.ipv6 !== undefined && config.ipv6Network !== fromStore.ipv6.network)
    throw clash(description, 'IPv6 network', fromStore.ipv6.network, config.ipv6Network);
  return fromStore;
}

/**
 * The backend with what the store fixes for the whole network (flannel's
 * Backend.Port and VNI in etcd) where the file leaves it open. A new object:
 * the configuration's stays as loaded.
 */
export function settleBackend(backend: BackendConfig, network: NetworkConfig, description: string): BackendConfig {
  if (backend.type === 'host-gw') return backend;
  const port = backend.port ?? network.backendPort;
  const withPort = port !== undefined ? { ...backend, port } : { ...backend };
  // directRouting is each host's own choice: the file's, when it says, else the store's.
  if (withPort.type === 'vxlan' && withPort.directRouting === undefined && network.backendDirectRouting !== undefined) {
    withPort.directRouting = network.backendDirectRouting;
  }
  if (withPort.type !== 'vxlan' || network.backendVni === undefined || withPort.vni === network.backendVni) return withPort;
  // The file's VNI is 1 unless set: a store's other VNI wins over that default, never over a VNI the file chose.
  if (withPort.vni !== wire.vxlan.DEFAULT_VNI) throw clash(description, 'VNI', network.backendVni, withPort.vni);
  return { ...withPort, vni: network.backendVni };
}

export function planLeaseRequest(config: DaemonConfig, store: StoreFacts, host: StartFacts): LeaseRequest {
  const network = agreeOnNetwork(config, store.network, store.description);
  const backend = settleBackend(config.backend, network, store.description);
  const saved = store.saved;
  const previous = saved !== undefined && saved.network === network.network ? saved : undefined;
  const ownMac = backend.type === 'vxlan' ? (backend.mac ?? previous?.vtepMac ?? host.newMac) : undefined;
  // A host that ran flanneld until now has no lease here: it asks for the subnet flanneld's subnet.env names, as flanneld would.
  const previousSubnet = previous?.subnet ?? (store.subnetEnv !== undefined ? subnetFromEnv(store.subnetEnv, network.network) : undefined);
  const port = backend.type === 'host-gw' ? undefined : listenPort(backend, config.underlay.port);
  const ipv6Underlay = host.underlay.address.includes(':');
  const publicIPv6 = ipv6Underlay ? host.underlay.address : network.ipv6 !== undefined ? dualStackAddress(host, network, store.description) : undefined;
  const attrs: LeaseAttrs = {
    publicIP: ipv6Underlay ? '0.0.0.0' : host.underlay.address,
    ...(publicIPv6 !== undefined ? { publicIPv6 } : {}),
    backendType: backend.type,
    backendData: {
      ...(ownMac !== undefined ? { VtepMAC: ownMac } : {}),
      ...(backend.type === 'vxlan' ? { VNI: backend.vni } : {}),
      ...(port !== undefined ? { Port: port } : {}),
      // Every datagram tulle sends goes through a kernel UDP socket, which checksums it.
      ...(backend.type !== 'host-gw' ? { UDPChecksum: true } : {}),
    },
    // flannel's vxlanLeaseAttrs for the IPv6 VTEP: a flannel host drops a dual-stack vxlan lease without it.
    ...(network.ipv6 !== undefined && backend.type === 'vxlan' ? { ipv6BackendData: { VNI: backend.vni, VtepMAC: ownMac } } : {}),
    ...(previousSubnet !== undefined ? { previousSubnet } : {}),
    // Only into a dual-stack network (the file's, or the store's): an IPv4-only one has no IPv6 subnet to give back.
    ...(previous?.ipv6Subnet !== undefined && (config.ipv6Network !== undefined || network.ipv6 !== undefined)
      ? { previousIpv6Subnet: previous.ipv6Subnet }
      : {}),
    hostId: host.hostId,
  };
  return {
    network,
    backend,
    ...(previous !== undefined ? { previous } : {}),
    ...(ownMac !== undefined ? { ownMac } : {}),
    ...(port !== undefined ? { port } : {}),
    ipv6Underlay,
    attrs,
    checkAdjacentPeers: backend.type === 'host-gw' && store.leasesAreConfig,
  };
}

/** Everything else, once the store granted `own`. */
export function planHost(config: DaemonConfig, request: LeaseRequest, own: Pick<Lease, 'subnet' | 'ipv6Subnet'>, host: StartFacts): HostPlan {
  const { network, backend, ownMac, port, ipv6Underlay } = request;
  // The IPv6 network: the store's (etcd's EnableIPv6 network), else the file's (the static store).
  const ipv6Network = network.ipv6?.network ?? config.ipv6Network;
  const ipv6 = own.ipv6Subnet !== undefined && ipv6Network !== undefined ? { network: ipv6Network, subnet: own.ipv6Subnet } : undefined;
  const metrics = config.metricsAddress !== undefined ? { address: config.metricsAddress, ...parseHostPort(config.metricsAddress)! } : undefined;
  return {
    ...request,
    subnet: own.subnet,
    ...(ipv6 !== undefined ? { ipv6 } : {}),
    saved: {
      network: network.network,
      subnet: own.subnet,
      ...(own.ipv6Subnet !== undefined ? { ipv6Subnet: own.ipv6Subnet } : {}),
      backendType: backend.type,
      ...(ownMac ? { vtepMac: ownMac } : {}),
      publicIP: host.underlay.address,
    },
    routes: {
      ownSubnet: own.subnet,
      backendType: backend.type,
      networkPort: backend.type === 'host-gw' ? 0 : networkPort(backend),
      ...(backend.type === 'vxlan' ? { vni: backend.vni } : {}),
      ipv6Underlay,
      ...(ipv6Network !== undefined ? { ipv6Network } : {}),
      ...(backend.type === 'vxlan' && backend.directRouting === true ? { directRouting: true } : {}),
    },
    routeCheck: {
      mode: config.reconcileRoutes,
      network: network.network,
      ownSubnet: own.subnet,
      ownPublicIP: host.underlay.address,
      underlayDevice: host.underlay.device,
      ...(ipv6 !== undefined ? { ipv6Network: ipv6.network, ownIpv6Subnet: ipv6.subnet } : {}),
    },
    ...(config.forwardAccept ? { forwardAccept: { ipv4: network.network, ...(ipv6Network !== undefined ? { ipv6: ipv6Network } : {}) } } : {}),
    outputs: {
      network: network.network,
      subnet: own.subnet,
      ...(ipv6 !== undefined ? { ipv6Network: ipv6.network, ipv6Subnet: ipv6.subnet } : {}),
      ipMasq: config.ipMasq,
      subnetFile: config.subnetFile ?? join(host.stateDir, SUBNET_FILE),
      ...(config.dockerOptsFile !== undefined ? { dockerOptsFile: config.dockerOptsFile } : {}),
    },
    controlSocket: socketPath(host.stateDir),
    ...(metrics !== undefined ? { metrics } : {}),
    statusBackend: {
      type: backend.type,
      ...(port !== undefined ? { port } : {}),
      ...(backend.type === 'vxlan' ? { vni: backend.vni, vtepMac: ownMac } : {}),
      ...(backend.type === 'vxlan' && backend.directRouting === true ? { directRouting: true } : {}),
    },
  };
}

/** A dual-stack network's PublicIPv6: the underlay device's global IPv6 address, as flannel takes its interface's. */
function dualStackAddress(host: StartFacts, network: NetworkConfig, description: string): string {
  if (host.underlay.address6 !== undefined) return host.underlay.address6;
  throw new Error(
    `the ${description} store's network is dual-stack (IPv6Network ${network.ipv6!.network}), but ${host.underlay.device} has no global IPv6 address ` +
      "to announce as this host's PublicIPv6: add one to it (flannel needs the same)",
  );
}

function clash(description: string, what: string, store: unknown, file: unknown): Error {
  return new Error(`the ${description} store's network has ${what} ${String(store)}, the configuration ${String(file)}: make them agree`);
}
