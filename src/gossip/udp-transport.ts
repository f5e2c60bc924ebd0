/**
 * The real transport: one UDP socket (node:dgram). Addresses are "host:port"
 * ("[v6]:port" for IPv6). The control plane sends a few datagrams a second,
 * so plain dgram is enough; the data path has its own batched sockets.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { LogFn, Transport } from './runtime.js';

/** "host:port" or "[v6]:port" → parts; port 0 only when `allowAnyPort` (a bind address). */
export function parseHostPort(addr: string, allowAnyPort = false): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(addr) ?? /^([^:]+):(\d+)$/.exec(addr);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (!((port > 0 || (allowAnyPort && port === 0)) && port < 65536)) return undefined;
  return { host: m[1], port };
}

export function formatHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

export class UdpTransport implements Transport {
  readonly #socket: Socket;
  readonly #cache = new Map<string, { host: string; port: number }>();
  readonly #log: LogFn | undefined;
  /** Datagrams that could not be sent (unparsable address, socket error). */
  sendErrors = 0;

  private constructor(
    socket: Socket,
    readonly address: string,
    log: LogFn | undefined,
  ) {
    this.#socket = socket;
    this.#log = log;
  }

  /** Binds host:port (port 0: any free port) and hands every datagram to `onReceive`. */
  static open(o: { host: string; port: number; onReceive: (from: string, data: Uint8Array) => void; log?: LogFn }): Promise<UdpTransport> {
    const socket = createSocket({ type: isIPv6(o.host) ? 'udp6' : 'udp4', reuseAddr: false });
    return new Promise((resolve, reject) => {
      socket.once('error', (err) => reject(new Error(`gossip: cannot bind UDP ${formatHostPort(o.host, o.port)}: ${err.message}`)));
      socket.bind(o.port, o.host, () => {
        socket.removeAllListeners('error');
        const a = socket.address();
        const t = new UdpTransport(socket, formatHostPort(a.address, a.port), o.log);
        socket.on('message', (msg, rinfo) => o.onReceive(formatHostPort(rinfo.address, rinfo.port), msg));
        socket.on('error', (err) => o.log?.('warn', 'gossip socket error', { error: err.message }));
        resolve(t);
      });
    });
  }

  send(addr: string, data: Uint8Array): void {
    let to = this.#cache.get(addr);
    if (!to) {
      to = parseHostPort(addr);
      if (!to) {
        this.sendErrors++;
        this.#log?.('warn', 'gossip: not a host:port address; datagram dropped', { addr });
        return;
      }
      if (this.#cache.size > 10_000) this.#cache.clear();
      this.#cache.set(addr, to);
    }
    this.#socket.send(data, to.port, to.host, (err) => {
      if (err) this.sendErrors++;
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}
