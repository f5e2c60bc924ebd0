/**
 * The data plane for the backend, and where routes go:
 *
 *   udp, vxlan  the engine's host side (TUN, sockets, tunnel TAP, offloads:
 *               host-setup.ts), then the engine on it (its workers); the TUN gets the
 *               subnet's first address with the network's prefix (flannel's
 *               convention, so the kernel routes the whole overlay into it),
 *               the MTU, and goes up. Routes go into its snapshot.
 *               vxlan with directRouting: peers on a shared segment also
 *               get kernel routes past the TUN (direct-routes.ts).
 *   host-gw     no data plane of ours: IP forwarding on, routes a killed
 *               daemon left removed, and kernel routes from then on.
 *
 * Each step is recorded in the teardown.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { Engine } from '../engine/engine.js';
import { RouteSnapshot } from '../engine/routes.js';
import { firstAddress, parseCidr4 } from '../util/cidr.js';
import type { HostFacts } from './config/host-checks.js';
import type { DaemonConfig } from './config/schema.js';
import { DirectRoutingSink } from './direct-routes.js';
import { EngineSink } from './engine-sink.js';
import { HostGwRoutes } from './host-gw.js';
import { setUpHost } from './host-setup.js';
import type { RouteSink } from './lease-router.js';
import type { OwnRoute } from './route-audit.js';
import { overhead } from './mtu.js';
import type { Teardown } from './teardown.js';

export interface DataPlane {
  /** Absent for host-gw. */
  engine?: Engine;
  sink: RouteSink;
  mtu: number;
  /** The TUN's address (udp, vxlan). */
  tunAddress?: string;
  /** The routes into the overlay that are tulle's, as they should be now (route-reconciler.ts keeps them so). */
  ownRoutes(): OwnRoute[];
  /** tulle's devices: every route through them is its own. */
  ownDevices: string[];
  /** vxlan with directRouting: each peer's path. */
  direct?: DirectRoutingSink;
}

export interface DataPlaneSpec {
  config: DaemonConfig;
  facts: HostFacts;
  network: string;
  subnet: string;
  /** vxlan: this host's VTEP MAC. */
  ownMac?: string;
  /** udp, vxlan: the UDP port to listen on. */
  port?: number;
  /** A dual-stack overlay: the IPv6 network and this host's IPv6 subnet in it. */
  ipv6Network?: string;
  ipv6Subnet?: string;
}

export async function startDataPlane(spec: DataPlaneSpec, log: Logger, teardown: Teardown): Promise<DataPlane> {
  const { config, facts } = spec;
  const backend = config.backend;
  if (backend.type === 'host-gw') {
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    HostGwRoutes.removeStale(log);
    const routes = new HostGwRoutes(log);
    teardown.push('removing host-gw routes', () => routes.removeAll());
    return { sink: routes, mtu: facts.underlay.deviceMtu, ownRoutes: () => routes.routes(), ownDevices: [] };
  }
  const derived = facts.underlay.deviceMtu - overhead(backend.type, facts.underlay.address.includes(':'));
  const mtu = config.tun.mtu ?? derived;
  if (mtu > derived) {
    log.warn(
      { event: 'mtu above underlay', mtu, derived },
      `warning: tun.mtu ${mtu} is above what ${facts.underlay.device} (mtu ${facts.underlay.deviceMtu}) carries with ${backend.type} (${derived}); larger packets will be answered with ICMP "too big"`,
    );
  }
  const snapshot = new RouteSnapshot();
  const host = setUpHost({
    tunName: config.tun.name,
    listenAddress: facts.underlay.address,
    listenPort: spec.port!,
    backend: backend.type,
    offloads: config.offloads,
    underlayDevice: facts.underlay.device,
  });
  const engine = await Engine.start(
    host,
    {
      backend: backend.type,
      vni: backend.type === 'vxlan' ? backend.vni : undefined,
      subnet: spec.subnet,
      ipv6Subnet: spec.ipv6Subnet,
      // Inner packets larger than the underlay carries are answered with ICMP "too big", whatever the TUN's MTU.
      mtu: Math.min(mtu, derived),
      batch: config.batch,
      threads: config.threads,
      replyInline: config.replyInline,
      busyPollUs: config.busyPollMicroseconds,
      warmUp: config.warmUp,
      backlogYieldUs: config.backlogYieldMicroseconds,
    },
    snapshot,
  );
  teardown.push('stopping the engine (the TUN goes with it)', () => engine.stop());
  const tunAddress = `${firstAddress(parseCidr4(spec.subnet))}/${parseCidr4(spec.network).prefix}`;
  // The same convention for IPv6: the subnet's first address with the network's prefix.
  const tunAddress6 =
    spec.ipv6Subnet !== undefined && spec.ipv6Network !== undefined ? `${spec.ipv6Subnet.split('/')[0]}/${spec.ipv6Network.split('/')[1]}` : undefined;
  try {
    execFileSync('ip', ['addr', 'add', tunAddress, 'dev', engine.tunName], { stdio: ['ignore', 'ignore', 'pipe'] });
    // nodad: the address is ours alone on a point-to-point device; duplicate detection would only delay traffic.
    if (tunAddress6) execFileSync('ip', ['-6', 'addr', 'add', tunAddress6, 'dev', engine.tunName, 'nodad'], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync('ip', ['link', 'set', engine.tunName, 'mtu', String(mtu), 'up'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`setting up ${engine.tunName} (${tunAddress}, mtu ${mtu}) failed: ${stderr || (error as Error).message}`, { cause: error });
  }
  // The kernel's prefix routes for the TUN's addresses: the whole overlay into the TUN.
  const ownRoutes: OwnRoute[] = [
    { family: 4, dst: spec.network, dev: engine.tunName, protocol: 'kernel', metric: 0, scope: 'link', prefsrc: tunAddress.split('/')[0] },
    ...(tunAddress6 !== undefined ? [{ family: 6 as const, dst: spec.ipv6Network!, dev: engine.tunName, protocol: 'kernel', metric: 256 }] : []),
  ];
  const engineSink = new EngineSink(snapshot, backend.type, spec.ownMac);
  let direct: DirectRoutingSink | undefined;
  if (backend.type === 'vxlan' && backend.directRouting === true) {
    const sink = new DirectRoutingSink(engineSink, facts.underlay.address.includes(':'), log);
    sink.start();
    // Before the engine stops: the peers' traffic falls back to the TUN route while it still runs.
    teardown.push('removing the direct routes', () => sink.stop());
    direct = sink;
  }
  return {
    engine,
    sink: direct ?? engineSink,
    mtu,
    tunAddress: tunAddress6 ? `${tunAddress} ${tunAddress6}` : tunAddress,
    ownRoutes: () => (direct !== undefined ? [...ownRoutes, ...direct.routes()] : ownRoutes),
    ownDevices: [engine.tunName],
    ...(direct !== undefined ? { direct } : {}),
  };
}
