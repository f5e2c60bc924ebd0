/**
 * `tulle run`: set up the host (TUN address, MTU, route to the overlay),
 * start the engine on the configured peers, and tear everything down on
 * SIGTERM/SIGINT.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as wire from '../wire/index.js';
import { Engine } from '../engine/engine.js';
import { parseCidr4, RouteSnapshot, type Peer } from '../engine/routes.js';
import { runHostGw } from './host-gw.js';
import { overlayMtu } from './mtu.js';
import type { StaticConfig } from './static-config.js';

export const DEFAULT_PORT = { udp: wire.udpBackend.PORT, vxlan: wire.vxlan.PORT } as const;

export function peersOf(config: StaticConfig): { peers: Peer[]; routes: { subnet: string; peer: number }[] } {
  const port = config.backend.type === 'vxlan' ? DEFAULT_PORT.vxlan : DEFAULT_PORT.udp;
  const peers = config.peers.map((p): Peer => ({
    address: p.address,
    port: p.port ?? port,
    template: config.backend.type === 'vxlan'
      ? wire.vxlan.template({ vni: config.backend.vni, srcMac: config.backend.mac, dstMac: p.mac! })
      : wire.udpBackend.template(),
  }));
  const routes = config.peers.flatMap((p, peer) => [p.subnet, ...(p.ipv6Subnet === undefined ? [] : [p.ipv6Subnet])].map((subnet) => ({ subnet, peer })));
  return { peers, routes };
}

export async function runDaemon(config: StaticConfig, options: { statsFile?: string; log: (line: string) => void }): Promise<void> {
  if (config.backend.type === 'host-gw') return runHostGw(config, options);
  const port = config.underlay.port ?? DEFAULT_PORT[config.backend.type];
  const snapshot = new RouteSnapshot();
  const { peers, routes } = peersOf(config);
  snapshot.publish(peers, routes);
  const backend = config.backend.type;
  const derived = overlayMtu(backend, config.underlay.address);
  const mtu = config.tun.mtu ?? derived.mtu;
  if (mtu > derived.mtu) {
    options.log(`tulle: warning: tun.mtu ${mtu} is above what ${derived.device} (mtu ${derived.deviceMtu}) carries with ${backend} (${derived.mtu}); larger packets will be refused`);
  }
  const engine = await Engine.start({
    tunName: config.tun.name, listenAddress: config.underlay.address, listenPort: port, backend,
    vni: config.backend.type === 'vxlan' ? config.backend.vni : undefined, subnet: config.subnet, ipv6Subnet: config.ipv6Subnet,
    // Larger inner packets than the underlay carries are answered with ICMP "too big", whatever the TUN's MTU.
    mtu: Math.min(mtu, derived.mtu), batch: config.batch, replyInline: config.replyInline,
    offloads: config.offloads,
  }, snapshot);
  // flannel's convention: the TUN holds the subnet's first address with the network's prefix,
  // so the kernel routes the whole overlay into it.
  const network = parseCidr4(config.network);
  const tunAddress = `${wire.formatIPv4(parseCidr4(config.subnet).network)}/${network.prefix}`;
  const tunAddress6 = config.ipv6Subnet === undefined || config.ipv6Network === undefined ? undefined
    : `${config.ipv6Subnet.split('/')[0]}/${config.ipv6Network.split('/')[1]}`;
  try {
    execFileSync('ip', ['addr', 'add', tunAddress, 'dev', engine.tunName], { stdio: ['ignore', 'ignore', 'pipe'] });
    // nodad: the address is ours alone on a point-to-point device; waiting for DAD would only delay traffic.
    if (tunAddress6) execFileSync('ip', ['-6', 'addr', 'add', tunAddress6, 'dev', engine.tunName, 'nodad'], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync('ip', ['link', 'set', engine.tunName, 'mtu', String(mtu), 'up'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    await engine.stop();
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`setting up ${engine.tunName} (${tunAddress}, mtu ${mtu}) failed: ${stderr || (error as Error).message}`);
  }
  const offloads = Object.entries(engine.offloads).map(([name, on]) => `${name} ${on ? 'on' : 'off'}`).join(', ');
  options.log(`tulle: ${config.backend.type} on ${config.underlay.address}:${port}, ${engine.tunName} ${tunAddress}${tunAddress6 ? ` ${tunAddress6}` : ''} mtu ${mtu}${config.tun.mtu === undefined ? ` (${derived.device} ${derived.deviceMtu} − ${derived.deviceMtu - derived.mtu})` : ''}, ${peers.length} peers; offloads: ${offloads}${engine.sourcePorts.length > 0 ? `; source ports ${engine.sourcePorts.join(',')}` : ''}`);

  const writeStats = () => {
    if (options.statsFile) writeFileSync(options.statsFile, JSON.stringify(engine.counters()));
  };
  const timer = setInterval(writeStats, 500);
  await new Promise<void>((resolve, reject) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
    engine.failure().then(reject);
  }).finally(async () => {
    clearInterval(timer);
    await engine.stop();
    writeStats();
    options.log(`tulle: stopped; ${JSON.stringify(engine.counters())}`);
  });
}
