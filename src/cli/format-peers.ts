/**
 * `tulle status --peers` as text for people: one row per peer. Pure.
 */
import type { PeerHealthView } from '../daemon/path-health/peer-table.js';
import { duration, table } from './format.js';

function ms(value: number | null): string {
  if (value === null) return '-';
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

export function formatPeers(peers: PeerHealthView[], now = Date.now()): string {
  if (peers.length === 0) return 'no peers';
  return table(
    ['PEER', 'ADDRESS', 'RTT MS', 'SRTT MS', 'LOSS 1M', 'PROBES', 'PATH MTU', 'LAST SEEN', 'FROM'],
    peers.map((p) => [
      p.peer,
      p.address,
      ms(p.rttMs),
      ms(p.rttSmoothedMs),
      p.lossRatio === null ? '-' : `${(p.lossRatio * 100).toFixed(1)}%`,
      String(p.probes),
      p.pathMtu === null ? '-' : String(p.pathMtu),
      p.lastSeen === null ? 'never' : `${duration(Math.max(0, Math.round((now - Date.parse(p.lastSeen)) / 1000)))} ago`,
      p.source === 'gossip' ? 'gossip probes' : 'echo probes',
    ]),
  );
}
