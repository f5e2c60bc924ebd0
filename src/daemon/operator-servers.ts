/**
 * Start-up step 5's second half (run.ts): what operators see of the running
 * daemon. The health monitor, path health, the control socket (`tulle status`, `tulle
 * leases`, `tulle status --peers`), SIGHUP (reload.ts) and SIGUSR1, /healthz and, when metricsAddress is set,
 * /metrics. Each is recorded in the teardown.
 */
import type { Logger } from 'pino';
import type { CounterValues } from '../engine/counters.js';
import { packageVersion } from '../util/package-root.js';
import type { DaemonConfig } from './config/schema.js';
import { serveControl, type ControlServer } from './control-server.js';
import { HealthMonitor, type Health } from './health.js';
import { serveHealth } from './health-server.js';
import { createRegistry, serveMetrics } from './metrics.js';
import { startPathHealth } from './path-health/start.js';
import { registerSocketDrops } from './socket-drops.js';
import { reload } from './reload.js';
import type { Running } from './running.js';
import type { DaemonSignals } from './signals.js';
import { logStatus } from './status-line.js';
import { describeLease, type LeaseView, type StatusView } from './status-view.js';
import { hasHealth, hasMetrics, hasPeers } from './store-hooks.js';
import { readyStatus, type SystemdNotifier } from './systemd-notify.js';
import type { Teardown } from './teardown.js';

export async function startOperatorServers(
  r: Running,
  signals: DaemonSignals,
  { reread, notify }: { reread: (() => Promise<DaemonConfig>) | undefined; notify: SystemdNotifier },
  log: Logger,
  teardown: Teardown,
): Promise<ControlServer> {
  const {
    config,
    plan,
    own,
    opened,
    dataPlane: { engine },
    routing: { router, routeCheck },
  } = r;
  /** The own lease as the store last sent it (renewals move its expiration). */
  const current = () => router.table.get(own.subnet) ?? own;
  const store = opened.store;
  const monitor = new HealthMonitor(
    { ownSubnet: own.subnet, ownExpiration: () => current().expiration, ...(hasHealth(store) ? { store: () => store.health() } : {}) },
    log,
  );
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
  const status = (h = health()) => statusView(r, h, describeLease(current(), 'own').expires, healthAddress);

  const pathHealth = await startPathHealth({ config, store, leases: router.table, ownSubnet: own.subnet, underlay: r.facts.underlay }, log, teardown);
  const control = await serveControl(plan.controlSocket, { status, leases: leaseViews, peers: () => pathHealth.views() });
  teardown.push('closing the control socket', () => control.close());
  // The configuration is never changed after loading: a SIGHUP compares the file with it as it is.
  signals.onReload(() =>
    reload({
      log,
      initial: config,
      host: r.hostOutputs,
      running: () => signals.reloadable,
      notify,
      readyStatus: () => readyStatus(r),
      ...(reread ? { reread } : {}),
      ...(hasPeers(store) ? { peers: store } : {}),
      ...(opened.reload ? { store: opened.reload } : {}),
    }),
  );
  teardown.push('ending reloads', () => signals.onReload(undefined));
  signals.onStatus(() => logStatus(log, status()));
  const healthServer = await serveHealth(config.healthAddress, config.metricsAddress, health, log);
  if (healthServer) teardown.push('closing the health endpoint', () => healthServer.close());
  healthAddress = healthServer?.address ?? config.metricsAddress; // the metrics server answers /healthz too
  if (plan.metrics !== undefined) {
    const registry = createRegistry(
      { counters, leases: () => router.table.size, peers: () => router.routed, forwardRestores: () => r.forward?.restores ?? 0 },
      { version: packageVersion(), backend: plan.backend.type, subnet: own.subnet },
    );
    if (hasMetrics(store)) store.registerMetrics(registry);
    pathHealth.registerMetrics(registry);
    routeCheck.registerMetrics(registry);
    r.dataPlane.direct?.registerMetrics(registry);
    registerSocketDrops(registry, {
      ...(plan.statusBackend.port !== undefined ? { data: plan.statusBackend.port } : {}),
      ...(config.store.type === 'gossip' ? { gossip: config.store.port } : {}),
    });
    const metrics = await serveMetrics(plan.metrics.host, plan.metrics.port, registry, health);
    teardown.push('closing the metrics server', () => metrics.close());
  }
  return control;
}

/** What `tulle status` and SIGUSR1 show. */
function statusView(r: Running, h: Health, expires: string | null, healthAddress: string | undefined): StatusView {
  const {
    config,
    plan,
    facts,
    startedAt,
    dataPlane: { engine, tunAddress, mtu },
    routing: { router, routeCheck },
  } = r;
  return {
    version: packageVersion(),
    pid: process.pid,
    startedAt: new Date(startedAt).toISOString(),
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
    network: plan.network.network,
    subnetLen: plan.network.subnetLen,
    subnet: plan.subnet,
    expiration: expires,
    backend: plan.statusBackend,
    underlay: { address: facts.underlay.address, device: facts.underlay.device },
    tun: engine !== undefined ? { name: engine.tunName, address: tunAddress!, mtu, offloads: engine.offloads } : undefined,
    mtu,
    store: { type: config.store.type, description: r.opened.description, ...(h.store ? { health: h.store } : {}) },
    leases: router.table.size,
    peers: router.routed,
    health: h,
    ...(healthAddress ? { healthAddress } : {}),
    ipMasq: config.ipMasq,
    subnetFile: plan.outputs.subnetFile,
    ...(config.dockerOptsFile ? { dockerOptsFile: config.dockerOptsFile } : {}),
    stateDir: facts.stateDir,
    ...(config.metricsAddress ? { metricsAddress: config.metricsAddress } : {}),
    counters: engine?.counters(),
    routes: routeCheck.view(),
    ...(r.dataPlane.direct !== undefined ? { paths: r.dataPlane.direct.paths() } : {}),
  };
}
