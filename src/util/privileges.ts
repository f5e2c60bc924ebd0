/** Whether this process may do what tulle needs: set up devices, routes and namespaces. */
import { readFileSync } from 'node:fs';

const CAP_NET_ADMIN = 12;

/** CAP_NET_ADMIN in the effective set (root has it; so may a service given only that capability). */
export function hasNetAdmin(): boolean {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CapEff:'));
  if (line === undefined) return process.getuid?.() === 0;
  return (BigInt(`0x${line.split(/\s+/)[1]}`) & (1n << BigInt(CAP_NET_ADMIN))) !== 0n;
}

/** Root: the lab commands create namespaces and mount their /etc/netns files, which need more than CAP_NET_ADMIN. */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}
