/**
 * Queued broadcasts, piggybacked onto outgoing datagrams: fewest transmits
 * first, newest first among equals, each sent at most `limit` times
 * (memberlist's TransmitLimitedQueue). A newer broadcast about the same key
 * replaces the older one. Tiers by transmit count with lazy removal keep
 * each fill proportional to what it takes, not to the queue's length.
 */
import type { EnvelopeWriter } from './envelope.js';

interface Item {
  key: string;
  bytes: Uint8Array;
  transmits: number;
  dead: boolean;
}

/** No record is smaller than this; a datagram with less room is full. */
const MIN_RECORD = 12;

export class BroadcastQueue {
  readonly #byKey = new Map<string, Item>();
  readonly #tiers: Item[][] = [];
  readonly #stale: number[] = [];

  get size(): number {
    return this.#byKey.size;
  }

  enqueue(key: string, bytes: Uint8Array): void {
    const old = this.#byKey.get(key);
    if (old) {
      old.dead = true;
      this.#stale[old.transmits]++;
    }
    const item: Item = { key, bytes, transmits: 0, dead: false };
    this.#byKey.set(key, item);
    this.#tier(0).push(item);
  }

  #tier(t: number): Item[] {
    while (this.#tiers.length <= t) {
      this.#tiers.push([]);
      this.#stale.push(0);
    }
    return this.#tiers[t];
  }

  /** Adds queued records to the datagram; returns how many. */
  fill(env: EnvelopeWriter, limit: number): number {
    let taken: Item[] | undefined;
    for (let t = 0; t < this.#tiers.length && env.room >= MIN_RECORD; t++) {
      const tier = this.#tiers[t];
      for (let i = tier.length - 1; i >= 0 && env.room >= MIN_RECORD; i--) {
        const item = tier[i];
        if (item.dead || item.transmits !== t) continue;
        if (item.transmits >= limit) {
          this.#drop(item);
          continue;
        }
        if (!env.add(item.bytes)) continue;
        (taken ??= []).push(item);
      }
    }
    if (!taken) return 0;
    for (const item of taken) {
      this.#stale[item.transmits]++;
      item.transmits++;
      if (item.transmits >= limit) {
        this.#byKey.delete(item.key);
        item.dead = true;
      } else {
        this.#tier(item.transmits).push(item);
      }
    }
    for (let t = 0; t < this.#tiers.length; t++) this.#compact(t);
    return taken.length;
  }

  #drop(item: Item): void {
    item.dead = true;
    this.#stale[item.transmits]++;
    if (this.#byKey.get(item.key) === item) this.#byKey.delete(item.key);
  }

  #compact(t: number): void {
    const tier = this.#tiers[t];
    if (this.#stale[t] > 16 && this.#stale[t] * 2 > tier.length) {
      this.#tiers[t] = tier.filter((item) => !item.dead && item.transmits === t);
      this.#stale[t] = 0;
    }
  }

  clear(): void {
    this.#byKey.clear();
    this.#tiers.length = 0;
    this.#stale.length = 0;
  }
}
