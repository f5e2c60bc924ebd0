/**
 * A map that reads through to a shared, frozen base. The simulator builds one
 * converged base for a whole cluster (N members and N leases) and every node
 * keeps only its own changes on top, so 10,000 simulated nodes do not need
 * 10,000² entries. A real node simply has no base.
 */

export class SharedBase<V> {
  readonly keys: string[];
  readonly map: Map<string, V>;

  constructor(entries: Iterable<[string, V]>) {
    this.map = new Map(entries);
    this.keys = [...this.map.keys()];
  }
}

export class LayeredMap<V> {
  readonly #base: SharedBase<V> | undefined;
  /** Own changes; `null` hides a base entry. */
  readonly #delta = new Map<string, V | null>();
  /** Keys not in the base, in insertion order; may hold deleted ones until compacted. */
  #added: string[] = [];
  #addedStale = 0;
  #size: number;

  constructor(base?: SharedBase<V>) {
    this.#base = base;
    this.#size = base?.map.size ?? 0;
  }

  get size(): number {
    return this.#size;
  }

  get(key: string): V | undefined {
    const d = this.#delta.get(key);
    if (d !== undefined) return d ?? undefined;
    return this.#base?.map.get(key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, value: V): void {
    const inBase = this.#base?.map.has(key) ?? false;
    const d = this.#delta.get(key);
    const present = d !== undefined ? d !== null : inBase;
    if (!present) {
      this.#size++;
      if (!inBase && d === undefined) this.#added.push(key);
    }
    this.#delta.set(key, value);
  }

  delete(key: string): boolean {
    if (!this.has(key)) return false;
    this.#size--;
    if (this.#base?.map.has(key)) {
      this.#delta.set(key, null);
    } else {
      this.#delta.delete(key);
      if (++this.#addedStale > 32 && this.#addedStale > this.#added.length / 2) {
        this.#added = this.#added.filter((k) => this.#delta.has(k));
        this.#addedStale = 0;
      }
    }
    return true;
  }

  /** Length of the index space for keyAt(); some slots may be deleted keys. */
  get slots(): number {
    return (this.#base?.keys.length ?? 0) + this.#added.length;
  }

  /** The key in slot i (check get() — it may have been deleted). */
  keyAt(i: number): string {
    const n = this.#base?.keys.length ?? 0;
    return i < n ? this.#base!.keys[i] : this.#added[i - n];
  }

  /** Own changes only (set or hidden), for sweeps that only concern changed entries. */
  deltaEntries(): IterableIterator<[string, V | null]> {
    return this.#delta.entries();
  }

  forEach(fn: (value: V, key: string) => void): void {
    if (this.#base) {
      for (const [k, v] of this.#base.map) {
        const d = this.#delta.get(k);
        if (d === undefined) fn(v, k);
        else if (d !== null) fn(d, k);
      }
    }
    for (const k of this.#added) {
      const d = this.#delta.get(k);
      if (d !== undefined && d !== null) fn(d, k);
    }
  }
}
