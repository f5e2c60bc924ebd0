/**
 * Whether etcd answers, as the store's callers experience it: every call's
 * outcome is reported here, a periodic ping notices recovery when nothing
 * else is calling, and each change (reachable → unreachable → back) is logged
 * once, not once per failed attempt. Calls that fail are retried with backoff
 * until they succeed or the store closes; a recovery wakes every waiting retry
 * and tells the watches and the lease keeper to catch up.
 */
import { Backoff } from './backoff.js';
import { realClock, type Clock, type ClockTimer } from './clock.js';
import { describeError } from './etcd-client.js';

export class StoreClosedError extends Error {
  constructor() {
    super('the etcd store is closed');
    this.name = 'StoreClosedError';
  }
}

/** An error that retrying cannot fix (bad config, no free subnet): thrown to the caller at once. */
export class PermanentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentError';
  }
}

export type ConnectionState = 'connecting' | 'up' | 'down';

export interface ConnectionOptions {
  /** Where etcd is, for the log lines. */
  endpoints: string[];
  log: (line: string) => void;
  /** Ping period, ms. */
  pingIntervalMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  random?: () => number;
  ping: () => Promise<void>;
  /** Time and timers (default: the real ones). */
  clock?: Clock;
  /**
   * A failure the credentials explain (TLS, password), in words; undefined for any other. Before etcd has
   * answered once such a failure is a mistake in the configuration: retry() throws it as a PermanentError.
   */
  explain?: (error: unknown) => Promise<string | undefined>;
}

export class Connection {
  #state: ConnectionState = 'connecting';
  #downSince = 0;
  /** When the state last changed (ms). */
  #since: number;
  #lastError: string | undefined;
  #everUp = false;
  #wakers = new Set<() => void>();
  readonly #recovered = new Set<() => void>();
  readonly #abort = new AbortController();
  #pingTimer: ClockTimer | undefined;
  readonly #clock: Clock;

  constructor(private readonly options: ConnectionOptions) {
    this.#clock = options.clock ?? realClock;
    this.#since = this.#clock.now();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** When the state last changed, in ms since the epoch. */
  get since(): number {
    return this.#since;
  }

  /** Why the last call failed (while down). */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get closed(): boolean {
    return this.#abort.signal.aborted;
  }

  /** `fn` runs after every recovery from an outage. */
  onRecovered(fn: () => void): () => void {
    this.#recovered.add(fn);
    return () => this.#recovered.delete(fn);
  }

  /** A call succeeded. */
  ok(): void {
    if (this.#state === 'up' || this.closed) return;
    const was = this.#state;
    this.#state = 'up';
    this.#since = this.#clock.now();
    this.#lastError = undefined;
    this.#everUp = true;
    if (was === 'connecting') this.options.log(`etcd: connected (${this.options.endpoints.join(', ')})`);
    else this.options.log(`etcd: reachable again after ${((this.#clock.now() - this.#downSince) / 1000).toFixed(1)} s`);
    this.#wakeAll();
    if (was === 'down') for (const fn of this.#recovered) fn();
  }

  /** A call failed for a reason retrying may fix. */
  failed(error: unknown): void {
    if (this.#state === 'down' || this.closed) return;
    this.#state = 'down';
    this.#downSince = this.#clock.now();
    this.#since = this.#downSince;
    this.#lastError = describeError(error);
    this.options.log(`etcd: unreachable (${describeError(error)}); keeping the known leases, retrying`);
  }

  /**
   * Runs `fn` until it succeeds, waiting with backoff between attempts (cut
   * short when etcd is seen back). PermanentError and StoreClosedError are
   * thrown at once; so is StoreClosedError once `cancelled()` is true.
   */
  async retry<T>(fn: () => Promise<T>, cancelled: () => boolean = () => false): Promise<T> {
    const backoff = new Backoff(this.options.retryInitialMs, this.options.retryMaxMs, this.options.random);
    for (;;) {
      if (this.closed || cancelled()) throw new StoreClosedError();
      try {
        const value = await fn();
        this.ok();
        return value;
      } catch (error) {
        if (error instanceof PermanentError || error instanceof StoreClosedError) throw error;
        if (this.closed) throw new StoreClosedError();
        const why = await this.#explain(error);
        if (why !== undefined && !this.#everUp) throw new PermanentError(why);
        this.failed(why !== undefined ? new Error(why) : error);
        await this.sleep(backoff.next());
      }
    }
  }

  /** Waits `ms`, less if etcd comes back or the store closes. */
  sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#clock.clearTimer(timer);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = this.#clock.setTimer(ms, done);
      this.#wakers.add(done);
    });
  }

  /** Starts the periodic ping. */
  start(): void {
    const tick = async () => {
      this.#pingTimer = undefined;
      try {
        await this.options.ping();
        this.ok();
      } catch (error) {
        const why = await this.#explain(error);
        this.failed(why !== undefined ? new Error(why) : error);
      }
      if (!this.closed) this.#pingTimer = this.#clock.setTimer(this.options.pingIntervalMs, () => void tick());
    };
    this.#pingTimer = this.#clock.setTimer(0, () => void tick());
  }

  close(): void {
    this.#abort.abort();
    if (this.#pingTimer !== undefined) this.#clock.clearTimer(this.#pingTimer);
    this.#wakeAll();
  }

  async #explain(error: unknown): Promise<string | undefined> {
    try {
      return await this.options.explain?.(error);
    } catch {
      return undefined; // the explanation is a courtesy: the failure itself stands
    }
  }

  #wakeAll(): void {
    const wakers = this.#wakers;
    this.#wakers = new Set();
    for (const wake of wakers) wake();
  }
}
