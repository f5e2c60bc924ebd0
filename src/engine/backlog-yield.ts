/**
 * When a data-plane thread with a backlog lets others run. A TX batch that came back full means the TUN holds
 * more than one batch: an application is sending faster than tulle forwards. Forwarding flat out then takes
 * the cores from the applications at both ends, and on a small machine the receiving one loses at its full
 * socket what tulle spent CPU carrying there. Offering the core now and then (sched_yield) lets them run;
 * the surplus is dropped where it costs least, at the TUN's own queue (unpaced UDP floods on two cores: 1.7x
 * the datagrams received at 1400 bytes, 1.6x at 64, docs/benchmarks.md). A thread without a backlog never yields,
 * and the interval bounds what a yield can cost against a busy core: the scheduler may hand it a whole
 * time slice of another thread.
 */
import type { Clock } from './clock.js';

/** The default interval (µs): short against a receiving socket's few hundred µs of room at full rate. */
export const DEFAULT_BACKLOG_YIELD_US = 500;

export class BacklogYield {
  private last = Number.NEGATIVE_INFINITY;
  private readonly intervalMs: number;

  /**
   * @param intervalUs at most one yield per this many microseconds; 0 never yields.
   * @param yieldCore gives up the core (the addon's yieldCore; a counter in tests).
   */
  constructor(
    intervalUs: number,
    private readonly clock: Clock,
    private readonly yieldCore: () => void,
  ) {
    if (!(Number.isInteger(intervalUs) && intervalUs >= 0))
      throw new RangeError(`BacklogYield: interval ${intervalUs} µs is not allowed (a whole number, 0 or more)`);
    this.intervalMs = intervalUs / 1000;
  }

  /** After a full batch: yields unless the last yield was less than the interval ago. Returns whether it yielded. */
  afterFullBatch(): boolean {
    if (this.intervalMs === 0) return false;
    const now = this.clock.now();
    if (now - this.last < this.intervalMs) return false;
    this.last = now;
    this.yieldCore();
    return true;
  }
}
