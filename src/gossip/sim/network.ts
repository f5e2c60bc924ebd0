/**
 * A seeded in-process datagram network on a virtual clock: per-link loss and
 * latency, partitions and heals, nodes that go down and come back. Nodes get
 * a Clock and a Transport from it, exactly the seams the real node uses.
 * Latency is fixed per link (base plus a per-link share of the jitter), so a
 * link keeps datagram order, as a LAN does.
 */
import { hashString, mix } from '../hash.js';
import { Sfc32 } from '../../util/prng.js';
import type { Clock, Transport } from '../runtime.js';
import { EventHeap, type SimEvent } from './event-heap.js';

export type Receiver = (from: string, data: Uint8Array) => void;

export interface SimNetworkOptions {
  seed: number;
  /** Probability a datagram is lost, 0..1, on every link. */
  loss?: number;
  /** One-way latency: base, ms. */
  latencyMs?: number;
  /** One-way latency: each link adds a fixed share of this, ms. */
  jitterMs?: number;
}

export class SimNetwork {
  readonly heap = new EventHeap();
  now = 0;
  loss: number;
  latencyMs: number;
  jitterMs: number;
  /** Extra loss on one link (src slot → dst slot), on top of `loss`; for asymmetric faults. */
  linkLoss: ((src: number, dst: number) => number) | undefined;
  /** Partition group of each slot; datagrams between groups are dropped while `partitioned`. */
  readonly group: number[] = [];
  partitioned = false;
  delivered = 0;
  lost = 0;
  /** The largest datagram sent so far, bytes. */
  largest = 0;
  readonly #rng: Sfc32;
  readonly #slotOf = new Map<string, number>();
  readonly #addrs: string[] = [];
  readonly #receivers: (Receiver | undefined)[] = [];
  readonly #hashes: number[] = [];

  readonly clock: Clock = {
    now: () => this.now,
    setTimer: (delayMs, fn) => this.heap.push({ t: this.now + Math.max(0, delayMs), fn, cancelled: false, dst: -1, from: '', data: undefined }),
    clearTimer: (handle) => {
      if (handle) (handle as SimEvent).cancelled = true;
    },
  };

  constructor(o: SimNetworkOptions) {
    this.#rng = new Sfc32(o.seed, 0x6e6574);
    this.loss = o.loss ?? 0;
    this.latencyMs = o.latencyMs ?? 0.5;
    this.jitterMs = o.jitterMs ?? 1;
  }

  /** Adds an address; returns its slot. */
  add(addr: string): number {
    const slot = this.#addrs.length;
    this.#addrs.push(addr);
    this.#slotOf.set(addr, slot);
    this.#receivers.push(undefined);
    this.#hashes.push(hashString(addr));
    this.group.push(0);
    return slot;
  }

  /** Who gets datagrams for the slot (undefined: the host is down, they are lost). */
  attach(slot: number, receiver: Receiver | undefined): void {
    this.#receivers[slot] = receiver;
  }

  transport(slot: number): Transport {
    return { send: (addr, data) => this.send(slot, addr, data) };
  }

  send(src: number, addr: string, data: Uint8Array): void {
    if (data.length > this.largest) this.largest = data.length;
    const dst = this.#slotOf.get(addr);
    if (dst === undefined) {
      this.lost++;
      return;
    }
    if (this.partitioned && this.group[src] !== this.group[dst]) {
      this.lost++;
      return;
    }
    const p = this.loss + (this.linkLoss ? this.linkLoss(src, dst) : 0);
    if (p > 0 && this.#rng.next() < p) {
      this.lost++;
      return;
    }
    const share = (mix(this.#hashes[src], this.#hashes[dst]) & 0xffff) / 0x10000;
    const t = this.now + this.latencyMs + share * this.jitterMs;
    this.heap.push({ t, fn: undefined, cancelled: false, dst, from: this.#addrs[src], data });
  }

  /** Runs events up to and including time `until`, ms. */
  runUntil(until: number): void {
    const heap = this.heap;
    while (heap.peekTime() <= until) {
      const ev = heap.pop()!;
      this.now = ev.t;
      if (ev.cancelled) continue;
      if (ev.fn !== undefined) {
        ev.fn();
      } else {
        const r = this.#receivers[ev.dst];
        if (r) {
          this.delivered++;
          r(ev.from, ev.data!);
        } else {
          this.lost++;
        }
      }
    }
    this.now = until;
  }

  runFor(ms: number): void {
    this.runUntil(this.now + ms);
  }
}
