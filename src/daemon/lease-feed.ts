/**
 * The store's lease batches, held until the router exists: the first batch
 * is needed before the data plane starts (host-gw checks its static peers
 * first), every later one goes straight to the router once attached.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LeaseEvent, LeaseStore } from '../lease/lease.js';

export class LeaseFeed {
  #pending: LeaseEvent[] = [];
  #target: ((events: LeaseEvent[]) => void) | undefined;
  readonly #first: Promise<void>;
  readonly #unwatch: () => void;

  constructor(store: LeaseStore) {
    let first!: () => void;
    this.#first = new Promise((resolve) => (first = resolve));
    this.#unwatch = store.watch((events) => {
      if (this.#target !== undefined) this.#target(events);
      else this.#pending.push(...events);
      first();
    });
  }

  /** Resolves 'batch' once the first batch came, 'timeout' after `ms`, or 'stop' when `stopped` resolves first. */
  firstBatch(ms: number, stopped: Promise<unknown>): Promise<'batch' | 'timeout' | 'stop'> {
    return Promise.race([this.#first.then(() => 'batch' as const), sleep(ms, 'timeout' as const, { ref: false }), stopped.then(() => 'stop' as const)]);
  }

  /** What came before a target was attached. */
  get pending(): readonly LeaseEvent[] {
    return this.#pending;
  }

  /** Hands the held events to `target` as one batch, then every later batch. */
  attach(target: (events: LeaseEvent[]) => void): void {
    const held = this.#pending;
    this.#pending = [];
    this.#target = target;
    target(held);
  }

  close(): void {
    this.#unwatch();
  }
}
