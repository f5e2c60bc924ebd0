/**
 * A token bucket whose state lives in shared memory, so every thread that
 * holds it draws on one budget. It takes no lock of its own: callers must
 * not use it from two threads at once (the data plane uses it under the TUN
 * reader lock). Time is wall-clock milliseconds, the same in every thread.
 */
const TOKENS = 0;
const LAST_MS = 1;

export class TokenBucket {
  private readonly state: Float64Array;

  /** A fresh bucket's memory: full on its first use. */
  static allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(2 * 8);
  }

  constructor(
    buffer: SharedArrayBuffer,
    /** Tokens added per millisecond. */
    private readonly ratePerMs: number,
    /** The most it holds: the largest burst. */
    private readonly burst: number,
  ) {
    this.state = new Float64Array(buffer);
  }

  /** Takes one token if there is one. */
  take(nowMs: number = performance.timeOrigin + performance.now()): boolean {
    const s = this.state;
    // LAST_MS = 0 (never used) refills to the full burst. A clock that reads earlier (another thread's
    // origin, a step back) adds nothing and does not move LAST_MS back, so no interval counts twice.
    s[TOKENS] = Math.min(this.burst, s[TOKENS] + Math.max(0, nowMs - s[LAST_MS]) * this.ratePerMs);
    s[LAST_MS] = Math.max(s[LAST_MS], nowMs);
    if (s[TOKENS] < 1) return false;
    s[TOKENS] -= 1;
    return true;
  }
}
