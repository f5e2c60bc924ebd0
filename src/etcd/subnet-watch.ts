/**
 * Watching `<prefix>/subnets/` (flannel's watchSubnets, plus what it lacks):
 *
 *   1. list every lease at revision R; report the difference from what this
 *      watch already reported (the first time: everything, as `added`);
 *   2. watch from R + 1: a put → `added`, a delete (by hand or by TTL expiry)
 *      → `removed`. Responses that arrive while one is being handled (its TTL
 *      lookup is a round trip to etcd) wait, and are then handled together as
 *      one batch of their net effect (KnownLeases.applySteps): under churn the
 *      watch keeps up with etcd instead of queueing a round trip and a
 *      listener call per response;
 *   3. when the stream breaks, nothing is reported: the known leases stand.
 *      The stream is reopened (with backoff) from the last revision received,
 *      so nothing is missed and nothing is reported twice;
 *   4. when that revision has been compacted away, go to 1 (a resync).
 *
 * A malformed value is counted, logged and skipped; a listener that throws is
 * logged and does not stop the watch.
 */
import type { LeaseEvent } from '../lease/lease.js';
import { Backoff } from './backoff.js';
import { realClock, type Clock } from './clock.js';
import type { Connection } from './connection.js';
import { describeError } from './etcd-client.js';
import { KnownLeases, type LeaseStep } from './known-leases.js';
import { parseSubnetKey } from './lease-value.js';
import { NO_LEASE, type Registry, type SubnetChange, type WatchMessage } from './registry.js';
import { entriesToLeases, entryToLease, remainingTtls } from './subnet-entry.js';

export interface WatchCounters {
  /** Lease values refused (malformed or unusable), since the store opened. */
  malformed: number;
  /** Times a watch stream was reopened after it broke. */
  reconnects: number;
  /** Full listings after the watch fell behind etcd's compaction. */
  resyncs: number;
}

export interface WatchOptions {
  registry: Registry;
  connection: Connection;
  counters: WatchCounters;
  onBatch: (events: LeaseEvent[]) => void;
  log: (line: string) => void;
  /** Expiry to assume when a lease's TTL cannot be read (etcd went away mid-batch), seconds. */
  fallbackTtlSeconds: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** Jitter of the reconnect backoff, [0, 1) (default Math.random). */
  random?: () => number;
  /** Time, for the expiration of the leases reported (default: the real clock). */
  clock?: Clock;
}

type StreamEnd = { kind: 'broken'; reason: string } | { kind: 'compacted'; revision: number } | { kind: 'restart' } | { kind: 'stopped' };

export class SubnetWatch {
  readonly #known = new KnownLeases();
  /** Every change up to this revision has been received. */
  #revision = 0;
  #listed = false;
  #needList = true;
  #stopped = false;
  #broken = false;
  /** Changes received and not yet handled, in stream order. */
  #pending: SubnetChange[] = [];
  /** The handling of #pending (TTL lookups are async), while one runs; a resync waits for it. */
  #chain: Promise<void> = Promise.resolve();
  #draining = false;
  #endStream: ((end: StreamEnd) => void) | undefined;
  readonly #stopRecovered: () => void;
  readonly #backoff: Backoff;
  readonly #clock: Clock;
  readonly done: Promise<void>;

  constructor(private readonly o: WatchOptions) {
    this.#backoff = new Backoff(o.retryInitialMs, o.retryMaxMs, o.random);
    this.#clock = o.clock ?? realClock;
    // After an outage, reopen at once rather than trusting a stream that may have stalled.
    this.#stopRecovered = o.connection.onRecovered(() => this.#endStream?.({ kind: 'restart' }));
    this.done = this.#run().catch((error) => {
      if (!this.#stopped) o.log(`etcd: watch stopped: ${describeError(error)}`);
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#stopRecovered();
    this.#endStream?.({ kind: 'stopped' });
  }

  /** Reopens the stream from the last revision received (on a new etcd client after a reload). */
  restart(): void {
    this.#endStream?.({ kind: 'restart' });
  }

  async #run(): Promise<void> {
    const { connection, log, counters } = this.o;
    while (!this.#stopped && !connection.closed) {
      if (this.#needList) {
        await this.#chain;
        const { entries, revision } = await connection.retry(
          () => this.o.registry.listSubnets(),
          () => this.#stopped,
        );
        const { leases, refused } = await entriesToLeases(this.o.registry, entries, this.o.fallbackTtlSeconds, () => this.#clock.now());
        for (const reason of refused) this.#refuse(reason);
        if (this.#stopped) return;
        const events = this.#known.resync(leases);
        // The first batch is sent even when empty: it says the initial listing is complete.
        if (!this.#listed || events.length > 0) this.#emit(events);
        this.#listed = true;
        this.#revision = revision;
        this.#needList = false;
      }
      const end = await this.#stream();
      if (end.kind === 'compacted') {
        counters.resyncs++;
        log(`etcd: watch fell behind: revision ${this.#revision + 1} was compacted (now ${end.revision}); listing the leases again`);
        this.#needList = true;
      } else if (end.kind === 'broken') {
        if (!this.#broken) log(`etcd: watch broken (${end.reason}); will resume from revision ${this.#revision + 1}`);
        this.#broken = true;
        connection.failed(new Error(end.reason));
        await connection.sleep(this.#backoff.next());
      }
    }
  }

  /** One watch stream from #revision + 1, until it breaks, is compacted, restarted or stopped. */
  #stream(): Promise<StreamEnd> {
    if (this.#stopped) return Promise.resolve({ kind: 'stopped' });
    return new Promise<StreamEnd>((resolve) => {
      let ended = false;
      const end = (e: StreamEnd) => {
        if (ended) return;
        ended = true;
        this.#endStream = undefined;
        handle.cancel();
        resolve(e);
      };
      const handle = this.o.registry.watchSubnets(this.#revision + 1, (message) => {
        if (!ended) this.#receive(message, end);
      });
      this.#endStream = end;
    });
  }

  /** One message of the stream: created, changes, a progress notification, or its end. */
  #receive(message: WatchMessage, end: (e: StreamEnd) => void): void {
    switch (message.kind) {
      case 'broken':
        end({ kind: 'broken', reason: message.reason });
        return;
      case 'compacted':
        end({ kind: 'compacted', revision: message.compactRevision });
        return;
      case 'created':
        this.o.connection.ok();
        this.#backoff.reset();
        if (this.#broken) {
          this.o.counters.reconnects++;
          this.o.log(`etcd: watch resumed from revision ${this.#revision + 1}`);
        }
        this.#broken = false;
        return;
      case 'changes': {
        this.#revision = Math.max(this.#revision, message.revision);
        for (const change of message.changes) this.#pending.push(change);
        if (!this.#draining) this.#chain = this.#drain();
        return;
      }
      case 'progress':
        // Every change up to its revision has been sent.
        this.#revision = Math.max(this.#revision, message.revision);
    }
  }

  /** Handles what is pending, then what came meanwhile, until nothing is left: one batch per pass. */
  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#pending.length > 0 && !this.#stopped) {
        const changes = this.#pending;
        this.#pending = [];
        await this.#handle(changes).catch((error) => {
          this.o.log(`etcd: watch changes could not be handled: ${describeError(error)}`);
        });
      }
    } finally {
      this.#draining = false;
    }
  }

  /** Changes, in stream order → one batch of their net effect. */
  async #handle(changes: SubnetChange[]): Promise<void> {
    const { registry } = this.o;
    const prefix = registry.keys.subnetsPrefix;
    const ttls = await remainingTtls(
      registry,
      changes.flatMap((c) => (c.type === 'put' ? [c.entry.leaseId] : [])),
      this.o.fallbackTtlSeconds,
    );
    const now = this.#clock.now();
    const steps: LeaseStep[] = [];
    for (const change of changes) {
      const key = change.type === 'put' ? change.entry.key : change.key;
      const name = parseSubnetKey(key.slice(prefix.length));
      if (change.type === 'delete') {
        if (name !== undefined) steps.push({ type: 'delete', subnet: name.subnet });
        continue;
      }
      const { entry } = change;
      const r = entryToLease(prefix, entry, entry.leaseId === NO_LEASE ? undefined : ttls.get(entry.leaseId), now);
      if (r.ok) {
        steps.push({ type: 'put', lease: r.lease });
      } else {
        this.#refuse(r.reason);
        // Whatever was there before has been overwritten: its holder no longer has it.
        if (name !== undefined) steps.push({ type: 'delete', subnet: name.subnet });
      }
    }
    if (this.#stopped) return;
    const batch = this.#known.applySteps(steps);
    if (batch.length > 0) this.#emit(batch);
  }

  #refuse(reason: string): void {
    this.o.counters.malformed++;
    this.o.log(`etcd: skipped a lease: ${reason}`);
  }

  #emit(events: LeaseEvent[]): void {
    try {
      this.o.onBatch(events);
    } catch (error) {
      this.o.log(`etcd: a lease listener threw: ${describeError(error)}`);
    }
  }
}
