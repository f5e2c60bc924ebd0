/**
 * Round trips and losses from the gossip store's SWIM probes, which it sends
 * anyway: one member per protocol period, so each peer is probed once every
 * (members - 1) periods (every 0.5 s × (N - 1) with the presets). A probe
 * whose first ping is not acked within the probe timeout counts as lost, even
 * when its retry or another member's relay reaches the peer later.
 */
import { performance } from 'node:perf_hooks';
import type { ProbeObserver } from '../../gossip/runtime.js';
import type { PeerTable } from './peer-table.js';

/** A probe the node never resolves (it stopped meanwhile) is forgotten after this long, ms. */
const FORGET_MS = 30_000;

/** The gossip store's side that path health needs. */
export interface ProbingStore {
  observeProbes(observer: ProbeObserver | undefined): void;
}

export function isProbingStore(store: object): store is ProbingStore {
  return typeof (store as Partial<ProbingStore>).observeProbes === 'function';
}

export class GossipSamples implements ProbeObserver {
  readonly #table: PeerTable;
  readonly #pending = new Map<number, { address: string; sentAt: number }>();

  constructor(table: PeerTable) {
    this.#table = table;
  }

  sent(seq: number, addr: string): void {
    const now = performance.now();
    // In send order: the oldest entries are first, and one is forgotten only when the node never resolved it.
    for (const [s, p] of this.#pending) {
      if (now - p.sentAt < FORGET_MS) break;
      this.#pending.delete(s);
    }
    this.#pending.set(seq, { address: hostOf(addr), sentAt: now });
  }

  acked(seq: number): void {
    const p = this.#pending.get(seq);
    if (p === undefined) return;
    this.#pending.delete(seq);
    this.#table.get(p.address)?.estimate.answered(Date.now(), performance.now() - p.sentAt);
  }

  missed(seq: number): void {
    const p = this.#pending.get(seq);
    if (p === undefined) return;
    this.#pending.delete(seq);
    this.#table.get(p.address)?.estimate.lost(Date.now());
  }
}

/** The address part of "host:port" or "[v6]:port". */
export function hostOf(addr: string): string {
  const m = /^\[([^\]]+)\]:\d+$/.exec(addr) ?? /^([^:]+):\d+$/.exec(addr);
  return m ? m[1] : addr;
}
