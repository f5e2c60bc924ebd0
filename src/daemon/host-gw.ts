/**
 * The host-gw backend: no encapsulation and no data plane of ours. For each
 * peer the kernel gets a route `peer-subnet via peer-underlay-address`, which
 * only works when the peer is on the same L2 segment; a peer that is not is
 * refused, by name, before any route is installed. The routes go on stop.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { StaticConfig } from './static-config.js';

export class HostGwError extends Error {
  override name = 'HostGwError';
}

interface RouteGet {
  dst: string;
  gateway?: string;
  dev?: string;
}

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The device through which `address` is directly reachable; throws HostGwError when it is not. */
export function directDevice(address: string): string {
  let routes: RouteGet[];
  try {
    routes = JSON.parse(ip(['-j', 'route', 'get', address])) as RouteGet[];
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new HostGwError(`host-gw peer ${address} is unreachable from this host: ${stderr || (error as Error).message}`);
  }
  const route = routes[0];
  if (route?.gateway !== undefined) {
    throw new HostGwError(
      `host-gw peer ${address} is not on the same L2 segment: the route to it goes via ${route.gateway}${route.dev ? ` (dev ${route.dev})` : ''}; ` +
        'host-gw needs peers that are directly reachable (use the udp or vxlan backend across routers)',
    );
  }
  if (route?.dev === undefined || route.dev === 'lo') throw new HostGwError(`host-gw peer ${address} is not another host on a shared segment (route: ${JSON.stringify(route)})`);
  return route.dev;
}

export async function runHostGw(config: StaticConfig, options: { statsFile?: string; log: (line: string) => void }): Promise<void> {
  // Check every peer before changing anything on the host.
  const plan = config.peers.map((peer) => ({ subnet: peer.subnet, via: peer.address, dev: directDevice(peer.address) }));
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  const installed: typeof plan = [];
  const removeAll = () => {
    for (const route of installed.splice(0)) {
      try {
        ip(['route', 'del', route.subnet, 'via', route.via, 'dev', route.dev]);
      } catch {
        // already gone
      }
    }
  };
  try {
    for (const route of plan) {
      ip(['route', 'replace', route.subnet, 'via', route.via, 'dev', route.dev]);
      installed.push(route);
    }
  } catch (error) {
    removeAll();
    throw new HostGwError(`installing host-gw routes failed: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`);
  }
  options.log(`tulle: host-gw, ${installed.length} routes: ${installed.map((r) => `${r.subnet} via ${r.via} dev ${r.dev}`).join(', ')}`);
  if (options.statsFile) writeFileSync(options.statsFile, JSON.stringify({ routes: installed.length }));
  // Nothing else keeps the event loop alive: hold it open until a signal arrives.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  clearInterval(keepAlive);
  removeAll();
  options.log('tulle: stopped; host-gw routes removed');
}
