/**
 * Exponential backoff with jitter for retrying etcd: doubles from `initialMs`
 * to `maxMs`, each delay drawn from [d/2, d] so that hosts that lost etcd
 * together do not come back in step. Pure: `random` is injected.
 */
export class Backoff {
  #next: number;

  constructor(
    readonly initialMs = 200,
    readonly maxMs = 5000,
    private readonly random: () => number = Math.random,
  ) {
    this.#next = initialMs;
  }

  /** The delay before the next attempt. */
  next(): number {
    const d = this.#next;
    this.#next = Math.min(this.maxMs, d * 2);
    return Math.round(d / 2 + (d / 2) * this.random());
  }

  /** After a success: start again from the shortest delay. */
  reset(): void {
    this.#next = this.initialMs;
  }
}
