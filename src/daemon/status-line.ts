/**
 * The daemon's status as one log line: what SIGUSR1 writes, for an operator
 * who has the log but not the control socket.
 */
import type { Logger } from 'pino';
import { describeHealth } from './health.js';
import type { StatusView } from './status-view.js';

export function statusLine(s: StatusView): string {
  const parts = [
    `subnet ${s.subnet}`,
    s.backend.type,
    `${s.peers} peers routed of ${s.leases} leases`,
    `health ${describeHealth(s.health)}`,
    `store ${s.store.description}`,
    `up ${s.uptimeSeconds} s`,
  ];
  if (s.counters !== undefined) parts.push(`tx ${s.counters.txPackets} packets, rx ${s.counters.rxPackets} packets`);
  return parts.join(', ');
}

export function logStatus(log: Logger, s: StatusView): void {
  log.info({ event: 'status', subnet: s.subnet, peers: s.peers, leases: s.leases, health: s.health }, `SIGUSR1: status: ${statusLine(s)}`);
}
