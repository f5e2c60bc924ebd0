/**
 * What the kernel drops at the daemon's own UDP sockets before tulle reads a
 * datagram: a full receive buffer (a flood, or a stalled reader) and wrong
 * UDP checksums. Read at scrape time from /proc/net/udp and /proc/net/udp6 of
 * the daemon's network namespace (the `drops` column), per port, so the
 * counts tulle keeps and the kernel's add up to what arrived.
 */
import { readFileSync } from 'node:fs';
import { Counter, type Registry } from 'prom-client';

/** Drops per local port in a /proc/net/udp(6) table, summed over the sockets bound to it. */
export function dropsByPort(table: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 13) continue;
    const port = parseInt(fields[1].split(':')[1] ?? '', 16);
    const drops = Number(fields[fields.length - 1]);
    if (Number.isInteger(port) && Number.isFinite(drops)) out.set(port, (out.get(port) ?? 0) + drops);
  }
  return out;
}

function readTable(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return ''; // no IPv6 (or no /proc): nothing bound there
  }
}

/** tulle_socket_drops_total{socket}: `sockets` names each port (data: the backend's, gossip: the store's). */
export function registerSocketDrops(registry: Registry, sockets: Record<string, number>, read: (file: string) => string = readTable): void {
  new Counter({
    name: 'tulle_socket_drops_total',
    help: "Datagrams the kernel dropped at the daemon's UDP sockets (receive buffer full, wrong UDP checksum) before tulle read them.",
    labelNames: ['socket'],
    registers: [registry],
    collect() {
      const drops = [dropsByPort(read('/proc/net/udp')), dropsByPort(read('/proc/net/udp6'))];
      this.reset();
      for (const [socket, port] of Object.entries(sockets)) this.labels(socket).inc(drops.reduce((n, m) => n + (m.get(port) ?? 0), 0));
    },
  });
}
