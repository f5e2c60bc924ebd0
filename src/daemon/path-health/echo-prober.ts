/**
 * The light probe for stores that send nothing of their own between hosts
 * (etcd, static): one 16-byte echo per peer every intervalMs, answered by the
 * peer's probe socket. An echo unanswered after timeoutMs counts as lost (a
 * later answer is ignored, as ping -W does).
 */
import { performance } from 'node:perf_hooks';
import type { PeerTable } from './peer-table.js';
import type { ProbeSocket } from './probe-socket.js';

export interface EchoOptions {
  /** The peers' probe port. */
  port: number;
  intervalMs: number;
  timeoutMs: number;
}

interface Pending {
  address: string;
  /** performance.now() at send. */
  sentAt: number;
}

export class EchoProber {
  readonly #socket: ProbeSocket;
  readonly #table: PeerTable;
  readonly #o: EchoOptions;
  /** In send order (a Map keeps insertion order): the oldest run out first. */
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(socket: ProbeSocket, table: PeerTable, o: EchoOptions) {
    this.#socket = socket;
    this.#table = table;
    this.#o = o;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.tick(), this.#o.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#pending.clear();
  }

  /** Gives up on the echoes past their timeout, then sends one to every peer. */
  tick(): void {
    const now = performance.now();
    const wall = Date.now();
    for (const [seq, p] of this.#pending) {
      if (now - p.sentAt < this.#o.timeoutMs) break;
      this.#pending.delete(seq);
      this.#table.get(p.address)?.estimate.lost(wall);
    }
    for (const path of this.#table.paths()) {
      this.#seq = (this.#seq + 1) >>> 0;
      this.#pending.set(this.#seq, { address: path.address, sentAt: performance.now() });
      this.#socket.sendEcho(path.address, this.#o.port, this.#seq);
    }
  }

  /** An echo answer from `address`. */
  answered(address: string, seq: number): void {
    const p = this.#pending.get(seq);
    if (p === undefined || p.address !== address) return;
    this.#pending.delete(seq);
    this.#table.get(address)?.estimate.answered(Date.now(), performance.now() - p.sentAt);
  }
}
