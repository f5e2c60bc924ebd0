/**
 * Time as the data plane reads it: the ICMP budget (too-big.ts) and the
 * memory network's delays. Milliseconds. Wall-clock time is the same in
 * every thread (the token bucket it feeds is shared between threads).
 */
export interface Clock {
  now(): number;
}

export const wallClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
};

/** A clock that moves only when told: tests and the memory network run on it. */
export class ManualClock implements Clock {
  constructor(private ms = 0) {}

  now(): number {
    return this.ms;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`ManualClock.advance: ${ms} ms is not allowed (0 or more)`);
    this.ms += ms;
  }
}
