/**
 * Lifeguard's two local refinements: a suspicion timeout that starts long and
 * shrinks as independent members confirm it, and a local-health score that
 * stretches a node's own probe timing when it misses acks and nacks (so a
 * slow node does not accuse healthy ones).
 */

export class Suspicion {
  readonly #from = new Set<string>();
  #n = 0;

  /**
   * k: confirmations expected; minMs/maxMs: the timeout with k and with none;
   * `from`: who raised it (does not count as a confirmation).
   */
  constructor(
    readonly k: number,
    readonly minMs: number,
    readonly maxMs: number,
    readonly startedAt: number,
    from: string,
  ) {
    this.#from.add(from);
  }

  get confirmations(): number {
    return this.#n;
  }

  /** Adds a confirmation from a new member; false if it was already counted. */
  confirm(from: string): boolean {
    if (this.#n >= this.k || this.#from.has(from)) return false;
    this.#from.add(from);
    this.#n++;
    return true;
  }

  /** max − (max − min) · log(n + 1) / log(k + 1), never below min (memberlist's remainingSuspicionTime). */
  timeoutMs(): number {
    if (this.k < 1) return this.minMs;
    const frac = Math.log(this.#n + 1) / Math.log(this.k + 1);
    return Math.max(this.minMs, Math.floor(this.maxMs - frac * (this.maxMs - this.minMs)));
  }
}

export class Awareness {
  #score = 0;

  constructor(readonly max: number) {}

  get score(): number {
    return this.#score;
  }

  /** +1 per missed nack or refuted suspicion of self, −1 per good probe; clamped to [0, max − 1]. */
  apply(delta: number): void {
    this.#score = Math.min(this.max - 1, Math.max(0, this.#score + delta));
  }

  scale(ms: number): number {
    return ms * (this.#score + 1);
  }
}
