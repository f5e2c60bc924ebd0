/**
 * `tulle run`: the daemon. The configuration has been checked (config/load.ts)
 * before this runs; from here on the host changes, and every change is
 * recorded in a Teardown so that SIGTERM/SIGINT — or a failure part-way —
 * undoes it.
 *
 *   1. read the host's state (its last lease and VTEP MAC); open the lease
 *      store and read its network; plan the lease request and, once the
 *      lease is granted, the rest (start-plan.ts: pure, the configuration
 *      left as loaded); acquire this host's lease (the previous subnet asked
 *      for first) and save it in the state dir (start-lease.ts)
 *   2. take the store's first batch of leases; host-gw with static peers:
 *      refuse a peer that is not on the segment before anything changes
 *   3. data plane: udp/vxlan start the engine (TUN, socket, workers) and set
 *      the TUN's address, MTU and route; host-gw removes stale routes
 *   4. routes follow the leases from then on (lease-router.ts); the host's
 *      routes into the overlay are checked against them now and every 10 s
 *      (route-reconciler.ts; start-routing.ts)
 *   5. masquerade, accept rules in forward chains that drop by policy,
 *      subnet.env and Docker options; control socket, health, metrics
 *      (operator-servers.ts)
 *      and READY=1 to systemd when it asked for it (systemd-notify.ts)
 *   6. wait for a stop signal; undo everything, newest first; exit 0 (or 1
 *      when the data plane fails or the store revokes this host's lease).
 *      Other signals: signals.ts.
 *
 * Before step 1, what a killed earlier run left is removed (leftovers.ts).
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { Logger } from 'pino';
import * as wire from '@tulle/wire';
import { HostState } from '../lease/state-file.js';
import type { HostFacts } from './config/host-checks.js';
import type { DaemonConfig } from './config/schema.js';
import { startDataPlane, type DataPlaneSpec } from './data-plane.js';
import { startForwardAccept } from './forward-accept.js';
import { HostOutputs } from './host-outputs.js';
import { ensureListenPortFree } from './listen-port-free.js';
import { removeLeftovers } from './leftovers.js';
import { startOperatorServers } from './operator-servers.js';
import type { Running } from './running.js';
import { DaemonSignals } from './signals.js';
import { firstLeases, keepLease, openLeaseStore, subnetEnvLeftBehind } from './start-lease.js';
import { planHost, planLeaseRequest, type HostPlan, type StartFacts } from './start-plan.js';
import { startRouting } from './start-routing.js';
import { socketPath } from './state-dir.js';
import { Teardown } from './teardown.js';
import { readyStatus, SystemdNotifier } from './systemd-notify.js';
import { Stopped, untilStopped } from './until-stopped.js';
import { writeFileAtomic } from '../util/write-file.js';

export interface RunOptions {
  log: Logger;
  facts: HostFacts;
  /** Write the data-plane counters here as JSON twice a second (tests, benches). */
  statsFile?: string;
  /** Loads the configuration again from the same sources (SIGHUP). */
  reread?: () => Promise<DaemonConfig>;
}

export async function runDaemon(config: DaemonConfig, options: RunOptions): Promise<void> {
  const { log } = options;
  const signals = new DaemonSignals(log);
  const teardown = new Teardown(log);
  const startedAt = Date.now();
  const notify = SystemdNotifier.fromEnv(process.env, log);
  try {
    await serve(config, options, signals, teardown, startedAt, notify);
    log.info({ event: 'stopping' }, 'tulle: stopping');
  } finally {
    notify.stopping();
    await teardown.run();
    signals.dispose();
  }
}

/**
 * The steps above in order. What to set up is planned from the configuration
 * and what the store and host said (start-plan.ts, pure); each step applies
 * its part and records its undo in the teardown. A stop signal during a wait
 * ends start-up (Stopped) as a normal stop.
 */
async function serve(
  config: DaemonConfig,
  options: RunOptions,
  signals: DaemonSignals,
  teardown: Teardown,
  startedAt: number,
  notify: SystemdNotifier,
): Promise<void> {
  const { log, facts } = options;
  const stopped = signals.stopped;
  try {
    if (facts.namespaceStateDir) teardown.push("removing the namespace's state dir", () => rmSync(facts.stateDir, { recursive: true, force: true }));
    await removeLeftovers(socketPath(facts.stateDir), config.ipMasq, log);

    // 1. The lease. The state dir has one owner, this HostState: the store keeps its own record through it too.
    const state = new HostState(facts.stateDir, (message, fields) => log.warn({ event: 'state', ...fields }, message));
    const { opened, network } = await openLeaseStore(config, { log, state, underlayAddress: facts.underlay.address }, teardown, stopped);
    const start: StartFacts = { underlay: facts.underlay, stateDir: facts.stateDir, hostId: state.hostId(), newMac: randomMac() };
    const subnetEnv = subnetEnvLeftBehind(config, facts.stateDir, state.lease);
    const storeFacts = { description: opened.description, network, leasesAreConfig: opened.leasesAreConfig, saved: state.lease };
    const request = planLeaseRequest(config, { ...storeFacts, ...(subnetEnv !== undefined ? { subnetEnv } : {}) }, start);
    await ensureListenPortFree(facts.underlay.address, request.port, opened.description);
    const own = await untilStopped(opened.store.acquire(request.attrs), stopped);
    const plan = planHost(config, request, own, start);
    keepLease(state, plan, opened.description, log);

    // 2. The first batch of leases; later batches go straight to the router.
    const feed = await firstLeases(opened, plan, log, teardown, stopped);
    // 3. The data plane, 4. routes that follow the leases.
    const dataPlane = await startDataPlane(dataPlaneSpec(config, plan, facts), log, teardown);
    const routing = startRouting(plan, own, dataPlane, feed, log, teardown);

    // 5. What the host and its operators see.
    const forward = plan.forwardAccept ? await startForwardAccept(plan.forwardAccept, log) : undefined;
    if (forward) teardown.push('removing the forward accept rules', () => forward.stop());
    const { subnetFile, dockerOptsFile, ...lease } = plan.outputs;
    const hostOutputs = new HostOutputs({ lease: { ...lease, mtu: dataPlane.mtu }, subnetFile, ...(dockerOptsFile !== undefined ? { dockerOptsFile } : {}) });
    hostOutputs.apply(log, teardown);
    const running: Running = { config, plan, facts, startedAt, opened, own, dataPlane, routing, ...(forward ? { forward } : {}), hostOutputs };
    const control = await startOperatorServers(running, signals, { reread: options.reread, notify }, log, teardown);
    logStarted(running, control.path, log);
    // Only now: a unit ordered after tulle.service finds the TUN, the routes and subnet.env in place.
    notify.ready(readyStatus(running));
    writeStatsWhileRunning(running, options.statsFile, log, teardown);

    // 6. Run until a signal, or until the data plane fails.
    await runUntilEnd(running, stopped);
  } catch (error) {
    if (error instanceof Stopped) return;
    throw error;
  }
}

/** The data plane's part of the plan; the backend as settled with the store (its VNI), the rest as the file says. */
function dataPlaneSpec(config: DaemonConfig, plan: HostPlan, facts: HostFacts): DataPlaneSpec {
  return {
    config: { ...config, backend: plan.backend },
    facts,
    network: plan.network.network,
    subnet: plan.subnet,
    ownMac: plan.ownMac,
    port: plan.port,
    ...(plan.ipv6 !== undefined ? { ipv6Network: plan.ipv6.network, ipv6Subnet: plan.ipv6.subnet } : {}),
  };
}

function logStarted(r: Running, controlPath: string, log: Logger): void {
  const {
    config,
    plan,
    facts,
    dataPlane: { engine, tunAddress, mtu },
    routing: { router },
  } = r;
  for (const note of engine?.notes ?? []) {
    if (note.level === 'warn') log.warn({ event: 'offload refused', reason: note.text }, `warning: ${note.text}`);
    else log.info({ event: 'offload choice', reason: note.text }, note.text);
  }
  const offloads = engine
    ? Object.entries(engine.offloads)
        .map(([name, on]) => `${name} ${on ? 'on' : 'off'}`)
        .join(', ')
    : '';
  for (const warm of engine?.warmUps ?? []) {
    if ('skipped' in warm)
      log.warn({ event: 'warm-up skipped', reason: warm.skipped }, `data-plane warm-up skipped: ${warm.skipped}; the first packets run uncompiled code`);
    else log.info({ event: 'warm-up', ...warm }, `data plane warmed up: ${warm.rounds} round trips on loopback in ${warm.ms} ms`);
  }
  const where = engine
    ? `${plan.backend.type} on ${facts.underlay.address}:${plan.port}, ${engine.tunName} ${tunAddress} mtu ${mtu}${config.tun.mtu === undefined ? ` (${facts.underlay.device} ${facts.underlay.deviceMtu} − ${facts.underlay.deviceMtu - mtu})` : ''}`
    : `host-gw on ${facts.underlay.address} (${facts.underlay.device}, mtu ${mtu})`;
  log.info(
    { event: 'started', subnet: plan.subnet, backend: plan.backend.type, peers: router.routed, leases: router.table.size, control: controlPath },
    `tulle: ${where}, subnet ${plan.subnet}, ${router.routed} peers${
      engine
        ? `; offloads: ${offloads}; ${engine.threads === 1 ? '1 data-plane thread' : '2 data-plane threads (TX, RX)'}${
            config.busyPollMicroseconds > 0 ? `; busy-poll ${config.busyPollMicroseconds} µs` : ''
          }; backlog yield ${config.backlogYieldMicroseconds > 0 ? `every ${config.backlogYieldMicroseconds} µs at most` : 'off'}`
        : ''
    }${engine && engine.sourcePorts.length > 0 ? `; source ports ${engine.sourcePorts.join(',')}` : ''}`,
  );
}

/** The counters in `statsFile` twice a second and once more at stop; the last ones logged. */
function writeStatsWhileRunning(r: Running, statsFile: string | undefined, log: Logger, teardown: Teardown): void {
  const {
    dataPlane: { engine },
    routing: { router },
  } = r;
  const writeStats = () => {
    // Whole or not at all: tests and benches read it while the daemon runs.
    if (statsFile) writeFileAtomic(statsFile, JSON.stringify(engine?.counters() ?? { routes: router.routed }));
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
}

/** Returns on a stop signal; throws when the data plane fails or the store revokes this host's lease. */
async function runUntilEnd(r: Running, stopped: Promise<string>): Promise<void> {
  const {
    dataPlane: { engine },
    routing: { lost },
  } = r;
  const failed = engine ? engine.failure() : new Promise<Error>(() => undefined);
  const outcome = await Promise.race([stopped.then((signal) => ({ signal })), failed.then((error) => ({ error })), lost.then((why) => ({ lost: why }))]);
  if ('error' in outcome) throw new Error(`the data plane failed: ${outcome.error.message}`);
  if ('lost' in outcome) throw new Error(`${outcome.lost}; stopping, so that a restart acquires a new lease`);
}

/** A random locally administered unicast MAC for this host's VTEP. */
function randomMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = (bytes[0] & 0xfe) | 0x02;
  return wire.formatMac(bytes);
}
