/**
 * Time as the etcd store's timing logic sees it: the wall clock and timers.
 * Injected so that renewal, backoff and TTL expiry can run on virtual time
 * in tests (test/helpers/virtual-clock.ts); the default is the real one.
 */
export interface Clock {
  /** ms since the epoch (a virtual clock may start anywhere). */
  now(): number;
  /**
   * Runs `fn` once, `delayMs` from now and never earlier, however long the
   * delay. With `unref`, the timer alone does not keep the process alive (a
   * renewal due in a day must not hold off exit).
   */
  setTimer(delayMs: number, fn: () => void, options?: { unref?: boolean }): ClockTimer;
  /** Cancels a timer that has not fired; a fired or cancelled one is fine. */
  clearTimer(timer: ClockTimer): void;
}

/** A timer as its clock made it; only that clock can clear it. */
export type ClockTimer = { readonly clockTimer: true };

/** setTimeout holds at most 2^31 − 1 ms (~24.8 days): a longer delay would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

type NodeTimer = ClockTimer & { timeout: NodeJS.Timeout | undefined };

/**
 * Date.now() and setTimeout. A delay longer than `maxTimerMs` (setTimeout's
 * limit; smaller only to test this) waits in steps, so it never fires early.
 */
export function nodeClock(maxTimerMs = MAX_TIMER_MS): Clock {
  return {
    now: () => Date.now(),
    setTimer(delayMs, fn, options) {
      const timer: NodeTimer = { clockTimer: true, timeout: undefined };
      const arm = (due: number) => {
        const left = due - Date.now();
        timer.timeout = setTimeout(left > maxTimerMs ? () => arm(due) : fn, Math.min(Math.max(0, left), maxTimerMs));
        if (options?.unref === true) timer.timeout.unref();
      };
      arm(Date.now() + delayMs);
      return timer;
    },
    clearTimer(timer) {
      clearTimeout((timer as NodeTimer).timeout);
    },
  };
}

export const realClock: Clock = nodeClock();
