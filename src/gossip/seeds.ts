/**
 * Seed addresses as the configuration gives them, and the one mistake a seed
 * list can make on its own: naming only this host.
 */
import { formatHostPort } from './udp-transport.js';

/** "192.0.2.2" or "192.0.2.2:7946" (or "[2001:db8::2]:7946"): a seed without a port listens on ours. */
export function gossipSeed(peer: string, port: number): string {
  return /^\[.*\]:\d+$|^[^:]+:\d+$/.test(peer) ? peer : formatHostPort(peer, port);
}

/**
 * Why `seeds` cannot work when every one of them is `own` (this host's address), or undefined. The usual
 * cause is two hosts that announce one address; `tulle config check` says the same (host-checks.ts).
 */
export function seedsOnlySelf(seeds: string[], own: string): string | undefined {
  if (seeds.length === 0 || !seeds.every((seed) => seed === own)) return undefined;
  return (
    `${seeds.join(', ')} name only this host's own address ${own}. If another host announces the same address ` +
    "(two hosts sharing one public IP, like Vagrant's NAT address on eth0), give each host its own underlay address with --iface or --public-ip; " +
    'a host that starts a cluster has no seeds (peers: [])'
  );
}
