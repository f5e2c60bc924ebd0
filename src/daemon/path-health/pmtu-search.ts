/**
 * Path MTU search for one peer, by probes with DF set (packetization-layer
 * PMTU discovery, RFC 8899 in spirit): a size fits when a probe of that size
 * is answered. Pure: the prober (mtu-prober.ts) sends what next() asks for
 * and reports each verdict; it decides when a size does not fit (EMSGSIZE
 * from the kernel, or no answer to a few tries from a peer that answers
 * smaller probes), and abandons a round when the peer answers nothing.
 *
 * A round starts every mtuIntervalMs. The first round tries the ceiling (the
 * underlay device's MTU) first, the common answer, then searches by halving
 * between the floor and the ceiling. Later rounds probe the value in use
 * once; a value below the ceiling is searched upward again every tenth round
 * (a path that got better), and a value that stopped fitting is searched
 * downward from it.
 */

/** Rounds between two upward searches of a value below the ceiling. */
export const UPWARD_EVERY = 10;

export class PmtuSearch {
  /** The largest size known to fit, or undefined (not measured, or nothing fits). */
  value: number | undefined;
  readonly floor: number;
  readonly ceiling: number;
  /** Largest size known to fit in this search (floor - 1: none yet), smallest known not to (ceiling + 1: none). */
  #fits = 0;
  #failsAt = 0;
  #trying: number | undefined;
  #verifying = false;
  #rounds = 0;

  constructor(floor: number, ceiling: number) {
    if (!(Number.isInteger(floor) && Number.isInteger(ceiling) && floor > 0 && floor <= ceiling))
      throw new Error(`path MTU search: floor ${floor} and ceiling ${ceiling} must be integers with 0 < floor <= ceiling`);
    this.floor = floor;
    this.ceiling = ceiling;
  }

  /** A round is under way. */
  get busy(): boolean {
    return this.#trying !== undefined;
  }

  /** Starts a round (ignored while one runs); returns the first size to try. */
  startRound(): number {
    if (this.#trying !== undefined) return this.#trying;
    this.#rounds++;
    if (this.value === undefined) return this.#search(this.floor - 1);
    this.#verifying = true;
    this.#trying = this.value;
    return this.value;
  }

  /** Ends the round without a verdict (the peer answers nothing at all): the value in use stays. */
  abandon(): void {
    this.#verifying = false;
    this.#trying = undefined;
  }

  /** The verdict on the size being tried; returns the next size to try, or undefined when the round is over. */
  verdict(fits: boolean): number | undefined {
    const size = this.#trying;
    if (size === undefined) return undefined;
    if (this.#verifying) {
      this.#verifying = false;
      if (!fits) {
        this.#fits = this.floor - 1;
        this.#failsAt = size;
        return this.#next();
      }
      if (size < this.ceiling && this.#rounds % UPWARD_EVERY === 0) return this.#search(size);
      return this.#end(size);
    }
    if (fits) this.#fits = size;
    else this.#failsAt = size;
    return this.#next();
  }

  /** A search that tries the ceiling first. */
  #search(fits: number): number {
    this.#fits = fits;
    this.#failsAt = this.ceiling + 1;
    this.#trying = this.ceiling;
    return this.ceiling;
  }

  #next(): number | undefined {
    if (this.#failsAt - this.#fits <= 1) return this.#end(this.#fits >= this.floor ? this.#fits : undefined);
    // Halfway, strictly between the two bounds; the floor itself is tried last, so a path below it reads as unmeasured.
    this.#trying = Math.ceil((this.#fits + this.#failsAt) / 2);
    return this.#trying;
  }

  #end(value: number | undefined): undefined {
    this.value = value;
    this.#trying = undefined;
    return undefined;
  }
}
