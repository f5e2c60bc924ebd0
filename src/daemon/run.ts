/**
 * `tulle run`: the daemon. The configuration has been checked (config/load.ts)
 * before this runs; from here on the host changes, and every change is
 * recorded in a Teardown so that SIGTERM/SIGINT — or a failure part-way —
 * undoes it.
 *
 *   1. read the host's state (its last lease and VTEP MAC); open the lease
 *      store; acquire this host's lease (the previous subnet asked for first)
 *      and save it in the state dir
 *   2. take the store's first batch of leases; host-gw with static peers:
 *      refuse a peer that is not on the segment before anything changes
 *   3. data plane: udp/vxlan start the engine (TUN, socket, workers) and set
 *      the TUN's address, MTU and route; host-gw removes stale routes
 *   4. routes follow the leases from then on (lease-router.ts); the host's
 *      routes into the overlay are checked against them now and every 10 s
 *      (route-reconciler.ts)
 *   5. masquerade, accept rules in forward chains that drop by policy,
 *      subnet.env and Docker options, control socket, metrics
 *   6. wait for a stop signal; undo everything, newest first; exit 0 (or 1
 *      when the data plane fails or the store revokes this host's lease).
 *      Other signals: signals.ts.
 *
 * Before step 1, what a killed earlier run left is removed (leftovers.ts).
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import * as wire from '../wire/index.js';
import type { CounterValues } from '../engine/counters.js';
import { LeaseTable, type LeaseAttrs } from '../lease/lease.js';
import { packageVersion } from '../util/package-root.js';
import type { HostFacts } from './config/host-checks.js';
import { parseHostPort, type DaemonConfig } from './config/schema.js';
import { serveControl } from './control-server.js';
import { startDataPlane } from './data-plane.js';
import { checkAdjacent } from './host-gw.js';
import { LeaseFeed } from './lease-feed.js';
import { LeaseRouter } from './lease-router.js';
import { planRoutes, type PlanContext } from './lease-routes.js';
import { createRegistry, serveMetrics } from './metrics.js';
import { HealthMonitor } from './health.js';
import { serveHealth } from './health-server.js';
import { startForwardAccept } from './forward-accept.js';
import { openStore } from './open-store.js';
import { agreeOnNetwork } from './start-plan.js';
import { listenPort, networkPort } from './ports.js';
import { HostState } from '../lease/state-file.js';
import { socketPath, SUBNET_FILE } from './state-dir.js';
import { HostOutputs } from './host-outputs.js';
import { removeLeftovers } from './leftovers.js';
import { reload } from './reload.js';
import { DaemonSignals } from './signals.js';
import { logStatus } from './status-line.js';
import { RouteReconciler, routedLeases } from './route-reconciler.js';
import { hasHealth, hasMetrics } from './store-hooks.js';
import { describeLease, type LeaseView, type StatusView } from './status-view.js';
import { Teardown } from './teardown.js';
import { writeFileAtomic } from '../util/write-file.js';

export interface RunOptions {
  log: Logger;
  facts: HostFacts;
  /** Write the data-plane counters here as JSON twice a second (tests, benches). */
  statsFile?: string;
  /** Loads the configuration again from the same sources (SIGHUP). */
  reread?: () => Promise<DaemonConfig>;
}

/** How long to wait for a store's first batch of leases before starting with none. */
const FIRST_BATCH_MS = 10_000;

export async function runDaemon(config: DaemonConfig, options: RunOptions): Promise<void> {
  const { log } = options;
  const signals = new DaemonSignals(log);
  const teardown = new Teardown(log);
  const startedAt = Date.now();
  try {
    await serve(config, options, signals, teardown, startedAt);
    log.info({ event: 'stopping' }, 'tulle: stopping');
  } finally {
    await teardown.run();
    signals.dispose();
  }
}

async function serve(config: DaemonConfig, options: RunOptions, signals: DaemonSignals, teardown: Teardown, startedAt: number): Promise<void> {
  const { log, facts } = options;
  const stopped = signals.stopped;
  const initial = structuredClone(config);
  const stateDir = facts.stateDir;
  const backend = config.backend;
  if (facts.namespaceStateDir) teardown.push('removing the namespace\'s state dir', () => rmSync(stateDir, { recursive: true, force: true }));
  await removeLeftovers(socketPath(stateDir), config.ipMasq, log);

  // 1. The lease. The state dir has one owner, this HostState: the store keeps its own record through it too.
  const state = new HostState(stateDir, (message, fields) => log.warn({ event: 'state', ...fields }, message));
  // A store may wait for its server (etcd) indefinitely, as flannel does: a signal ends the wait.
  const opened = await unlessStopped(openStore(config, { log, state, underlayAddress: facts.underlay.address }), stopped);
  if (opened === STOPPED) return;
  // A gossip host that leaves gives its lease back (its state dir still asks for the subnet next time);
  // with etcd the lease stays until its TTL, as flannel's does, so a restart finds it.
  teardown.push('closing the lease store', () => opened.store.close({ release: config.store.type === 'gossip' }));
  const networkConfig = await unlessStopped(opened.store.networkConfig(), stopped);
  if (networkConfig === STOPPED) return;
  const network = agreeOnNetwork(config, networkConfig, opened.description);
  // A store that fixes the network's port and VNI (flannel's Backend.Port/VNI in etcd) sets them unless the file does.
  if (backend.type !== 'host-gw' && backend.port === undefined && network.backendPort !== undefined) backend.port = network.backendPort;
  if (backend.type === 'vxlan' && network.backendVni !== undefined && backend.vni !== network.backendVni) {
    // The file's VNI is 1 unless set: a store's other VNI wins over that default, never over a VNI the file chose.
    if (backend.vni !== wire.vxlan.DEFAULT_VNI) throw new Error(`the ${opened.description} store's network has VNI ${network.backendVni}, the configuration ${backend.vni}: make them agree`);
    backend.vni = network.backendVni;
  }
  const saved = state.lease;
  const previous = saved !== undefined && saved.network === network.network ? saved : undefined;
  const ownMac = backend.type === 'vxlan' ? backend.mac ?? previous?.vtepMac ?? randomMac() : undefined;
  const port = backend.type === 'host-gw' ? undefined : listenPort(backend, config.underlay.port);
  const ipv6Underlay = facts.underlay.address.includes(':');
  const attrs: LeaseAttrs = {
    publicIP: ipv6Underlay ? '0.0.0.0' : facts.underlay.address,
    ...(ipv6Underlay ? { publicIPv6: facts.underlay.address } : {}),
    backendType: backend.type,
    backendData: {
      ...(ownMac !== undefined ? { VtepMAC: ownMac } : {}),
      ...(backend.type === 'vxlan' ? { VNI: backend.vni } : {}),
      ...(port !== undefined ? { Port: port } : {}),
      // Every datagram tulle sends goes through a kernel UDP socket, which checksums it.
      ...(backend.type !== 'host-gw' ? { UDPChecksum: true } : {}),
    },
    ...(previous !== undefined ? { previousSubnet: previous.subnet } : {}),
    hostId: state.hostId(),
  };
  const own = await unlessStopped(opened.store.acquire(attrs), stopped);
  if (own === STOPPED) return;
  state.saveLease({
    network: network.network, subnet: own.subnet, ...(own.ipv6Subnet !== undefined ? { ipv6Subnet: own.ipv6Subnet } : {}),
    backendType: backend.type, ...(ownMac ? { vtepMac: ownMac } : {}), publicIP: facts.underlay.address,
  });
  log.info({ event: 'lease acquired', subnet: own.subnet, previous: previous?.subnet, store: opened.description }, `lease ${own.subnet} from the ${opened.description} store${previous?.subnet === own.subnet ? ' (kept from the last run)' : ''}`);

  // 2. The first batch of leases; later batches go straight to the router.
  const feed = new LeaseFeed(opened.store);
  teardown.push('watching leases', () => feed.close());
  const first = await feed.firstBatch(FIRST_BATCH_MS, stopped);
  if (first === 'stop') return;
  if (first === 'timeout') log.warn({ event: 'no leases yet', store: opened.description }, `the ${opened.description} store sent no leases within ${FIRST_BATCH_MS / 1000} s; starting with none`);
  const planContext: Omit<PlanContext, 'now'> = {
    ownSubnet: own.subnet, backendType: backend.type, networkPort: backend.type === 'host-gw' ? 0 : networkPort(backend),
    ...(backend.type === 'vxlan' ? { vni: backend.vni } : {}), ipv6Underlay,
    ...(config.ipv6Network !== undefined ? { ipv6Network: config.ipv6Network } : {}),
  };
  if (backend.type === 'host-gw' && opened.leasesAreConfig) {
    const table = new LeaseTable();
    table.apply(feed.pending);
    checkAdjacent(planRoutes(table.list(), { ...planContext, now: Date.now() }).targets);
  }

  // 3. The data plane.
  const { engine, sink, mtu, tunAddress, ownRoutes, ownDevices } = await startDataPlane({
    config, facts, network: network.network, subnet: own.subnet, ownMac, port,
    ...(own.ipv6Subnet !== undefined && config.ipv6Network !== undefined ? { ipv6Network: config.ipv6Network, ipv6Subnet: own.ipv6Subnet } : {}),
  }, log, teardown);

  // 4. Routes follow the leases.
  let ownLost!: (why: string) => void;
  const lost = new Promise<string>((resolve) => (ownLost = resolve));
  const router = new LeaseRouter(planContext, sink, log, { ownPublicIP: own.publicIP, onOwnLost: (why) => ownLost(why) });
  teardown.push('stopping the lease router', () => router.stop());
  const routeCheck = new RouteReconciler({
    mode: config.reconcileRoutes, network: network.network, ownSubnet: own.subnet, ownPublicIP: facts.underlay.address, ownDevices, underlayDevice: facts.underlay.device,
    ...(own.ipv6Subnet !== undefined && config.ipv6Network !== undefined ? { ipv6Network: config.ipv6Network, ownIpv6Subnet: own.ipv6Subnet } : {}),
  }, { leases: () => routedLeases(router.statuses()), own: ownRoutes }, log);
  teardown.push('stopping the route check', () => routeCheck.stop());
  feed.attach((events) => {
    router.onBatch(events);
    routeCheck.soon();
  });
  routeCheck.start();

  // 5. What the host and its operators see.
  const forward = config.forwardAccept ? await startForwardAccept({ ipv4: network.network, ...(config.ipv6Network !== undefined ? { ipv6: config.ipv6Network } : {}) }, log) : undefined;
  if (forward) teardown.push('removing the forward accept rules', () => forward.stop());
  const subnetFile = config.subnetFile ?? join(stateDir, SUBNET_FILE);
  const hostOutputs = new HostOutputs({ lease: { network: network.network, subnet: own.subnet, mtu, ipMasq: config.ipMasq }, subnetFile, ...(config.dockerOptsFile !== undefined ? { dockerOptsFile: config.dockerOptsFile } : {}) });
  hostOutputs.apply(log, teardown);

  /** The own lease as the store last sent it (renewals move its expiration). */
  const current = () => router.table.get(own.subnet) ?? own;
  const store = opened.store;
  const monitor = new HealthMonitor({ ownSubnet: own.subnet, ownExpiration: () => current().expiration, ...(hasHealth(store) ? { store: () => store.health() } : {}) }, log);
  teardown.push('stopping the health monitor', () => monitor.stop());
  const health = () => monitor.check();
  let healthAddress: string | undefined;
  const counters = (): CounterValues | undefined => engine?.counters();
  const leaseViews = (): LeaseView[] => {
    const statuses = router.statuses();
    const views = statuses.map((s) => describeLease(s.lease, s.state, s.reason));
    if (!statuses.some((s) => s.state === 'own')) views.unshift(describeLease(own, 'own'));
    return views;
  };
  const status = (h = health()): StatusView => ({
    version: packageVersion(), pid: process.pid, startedAt: new Date(startedAt).toISOString(), uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
    network: network.network, subnetLen: network.subnetLen, subnet: own.subnet, expiration: describeLease(current(), 'own').expires,
    backend: { type: backend.type, ...(port !== undefined ? { port } : {}), ...(backend.type === 'vxlan' ? { vni: backend.vni, vtepMac: ownMac } : {}) },
    underlay: { address: facts.underlay.address, device: facts.underlay.device },
    tun: engine !== undefined ? { name: engine.tunName, address: tunAddress!, mtu, offloads: engine.offloads } : undefined,
    mtu,
    store: { type: config.store.type, description: opened.description, ...(h.store ? { health: h.store } : {}) },
    leases: router.table.size, peers: router.routed,
    health: h, ...(healthAddress ? { healthAddress } : {}),
    ipMasq: config.ipMasq, subnetFile, ...(config.dockerOptsFile ? { dockerOptsFile: config.dockerOptsFile } : {}),
    stateDir, ...(config.metricsAddress ? { metricsAddress: config.metricsAddress } : {}),
    counters: counters(), routes: routeCheck.view(),
  });
  const control = await serveControl(socketPath(stateDir), { status, leases: leaseViews });
  teardown.push('closing the control socket', () => control.close());
  signals.onReload(() => reload({ log, initial, host: hostOutputs, running: () => signals.reloadable, ...(options.reread ? { reread: options.reread } : {}) }));
  teardown.push('ending reloads', () => signals.onReload(undefined));
  signals.onStatus(() => logStatus(log, status()));
  const healthServer = await serveHealth(config.healthAddress, config.metricsAddress, health, log);
  if (healthServer) teardown.push('closing the health endpoint', () => healthServer.close());
  healthAddress = healthServer?.address ?? config.metricsAddress; // the metrics server answers /healthz too
  if (config.metricsAddress !== undefined) {
    const registry = createRegistry({ counters, leases: () => router.table.size, peers: () => router.routed, forwardRestores: () => forward?.restores ?? 0 }, { version: packageVersion(), backend: backend.type, subnet: own.subnet });
    if (hasMetrics(opened.store)) opened.store.registerMetrics(registry);
    routeCheck.registerMetrics(registry);
    const { host, port: metricsPort } = parseHostPort(config.metricsAddress)!;
    const metrics = await serveMetrics(host, metricsPort, registry, health);
    teardown.push('closing the metrics server', () => metrics.close());
  }

  for (const note of engine?.notes ?? []) {
    if (note.level === 'warn') log.warn({ event: 'offload refused', reason: note.text }, `warning: ${note.text}`);
    else log.info({ event: 'offload choice', reason: note.text }, note.text);
  }
  const offloads = engine ? Object.entries(engine.offloads).map(([name, on]) => `${name} ${on ? 'on' : 'off'}`).join(', ') : '';
  const where = engine
    ? `${backend.type} on ${facts.underlay.address}:${port}, ${engine.tunName} ${tunAddress} mtu ${mtu}${config.tun.mtu === undefined ? ` (${facts.underlay.device} ${facts.underlay.deviceMtu} − ${facts.underlay.deviceMtu - mtu})` : ''}`
    : `host-gw on ${facts.underlay.address} (${facts.underlay.device}, mtu ${mtu})`;
  log.info({ event: 'started', subnet: own.subnet, backend: backend.type, peers: router.routed, leases: router.table.size, control: control.path },
    `tulle: ${where}, subnet ${own.subnet}, ${router.routed} peers${engine ? `; offloads: ${offloads}; ${engine.threads === 1 ? '1 data-plane thread' : '2 data-plane threads (TX, RX)'}` : ''}${engine && engine.sourcePorts.length > 0 ? `; source ports ${engine.sourcePorts.join(',')}` : ''}`);

  const writeStats = () => {
    // Whole or not at all: tests and benches read it while the daemon runs.
    if (options.statsFile) writeFileAtomic(options.statsFile, JSON.stringify(engine?.counters() ?? { routes: router.routed }));
  };
  writeStats();
  const timer = setInterval(writeStats, 500);
  teardown.push('writing the last counters', () => {
    clearInterval(timer);
    writeStats();
    if (engine) {
      const c = engine.counters();
      log.info({ event: 'counters', ...c }, `counters at stop: tx ${c.txPackets} packets, rx ${c.rxPackets} packets`);
    }
  });

  // 6. Run until a signal, or until the data plane fails.
  const failed = engine ? engine.failure() : new Promise<Error>(() => undefined);
  const outcome = await Promise.race([stopped.then((signal) => ({ signal })), failed.then((error) => ({ error })), lost.then((why) => ({ lost: why }))]);
  if ('error' in outcome) throw new Error(`the data plane failed: ${outcome.error.message}`);
  if ('lost' in outcome) throw new Error(`${outcome.lost}; stopping, so that a restart acquires a new lease`);
}

const STOPPED = Symbol('stopped');

/** `work`, or STOPPED if a stop signal comes first (a later failure of `work` is then of no interest). */
async function unlessStopped<T>(work: Promise<T>, stopped: Promise<string>): Promise<T | typeof STOPPED> {
  work.catch(() => undefined);
  return Promise.race([work, stopped.then((): typeof STOPPED => STOPPED)]);
}

/** A random locally administered unicast MAC for this host's VTEP. */
function randomMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = (bytes[0] & 0xfe) | 0x02;
  return wire.formatMac(bytes);
}
