/**
 * Virtual time for the etcd store's unit tests: timers fire only when the
 * test moves the clock, in due order (ties in the order they were set), and
 * every promise chain a timer starts settles before the next one fires. A day
 * of renewals and backoff runs in milliseconds, and the same every time.
 */
import type { Clock, ClockTimer } from '../../src/etcd/clock.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

type VirtualTimer = ClockTimer & { seq: number };

export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, Pending>();

  /** Starts at a fixed date, so expirations read alike in every run. */
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(delayMs: number, fn: () => void): ClockTimer {
    const seq = ++this.#seq;
    this.#timers.set(seq, { at: this.#now + Math.max(0, delayMs), seq, fn });
    return { clockTimer: true, seq } as VirtualTimer;
  }

  clearTimer(timer: ClockTimer): void {
    this.#timers.delete((timer as VirtualTimer).seq);
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** When the next timer is due, or undefined when none is set. */
  get nextDue(): number | undefined {
    return this.#next()?.at;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new Error(`advance: ${ms} ms is not allowed; allowed: a number of ms, 0 or more`);
    const target = this.#now + ms;
    for (;;) {
      await settle();
      const next = this.#next();
      if (next === undefined || next.at > target) break;
      this.#fire(next);
    }
    this.#now = target;
    await settle();
  }

  /**
   * Fires timers one at a time until `done()` holds, and returns how much
   * virtual time that took. Throws after `limitMs` of virtual time, so a
   * condition that never comes fails the test instead of hanging it.
   */
  async until(done: () => boolean, limitMs: number): Promise<number> {
    const start = this.#now;
    for (;;) {
      await settle();
      if (done()) return this.#now - start;
      const next = this.#next();
      if (next === undefined || next.at - start > limitMs) {
        throw new Error(`not done within ${limitMs} ms of virtual time (${next === undefined ? 'no timer left' : `next timer at +${next.at - start} ms`})`);
      }
      this.#fire(next);
    }
  }

  /** Fires timers until `promise` settles (see until()), and returns what it resolves to. */
  async run<T>(promise: Promise<T>, limitMs: number): Promise<T> {
    let settled = false;
    const watched = promise.finally(() => (settled = true));
    watched.catch(() => {}); // the rejection, if any, is the caller's: handed on below
    await this.until(() => settled, limitMs);
    return watched;
  }

  #next(): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.#timers.values()) if (best === undefined || p.at < best.at || (p.at === best.at && p.seq < best.seq)) best = p;
    return best;
  }

  #fire(p: Pending): void {
    this.#timers.delete(p.seq);
    this.#now = Math.max(this.#now, p.at);
    p.fn();
  }
}

/** Lets every pending promise chain run: microtasks drain before an immediate fires. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
