/**
 * Watching `<prefix>/subnets/` (flannel's watchSubnets, plus what it lacks):
 *
 *   1. list every lease at revision R; report the difference from what this
 *      watch already reported (the first time: everything, as `added`);
 *   2. watch from R + 1; each response is one batch: a put → `added`, a delete
 *      (by hand or by TTL expiry) → `removed`;
 *   3. when the stream breaks, nothing is reported: the known leases stand.
 *      The stream is reopened (with backoff) from the last revision received,
 *      so nothing is missed and nothing is reported twice;
 *   4. when that revision has been compacted away, go to 1 (a resync).
 *
 * A malformed value is counted, logged and skipped; a listener that throws is
 * logged and does not stop the watch.
 */
import type { IEvent, IWatchResponse } from 'etcd3';
import type { LeaseEvent } from '../lease/lease.js';
import { Backoff } from './backoff.js';
import type { Connection } from './connection.js';
import { describeError, prefixRangeEnd } from './etcd-client.js';
import { KnownLeases } from './known-leases.js';
import { parseSubnetKey } from './lease-value.js';
import type { Registry } from './registry.js';

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
  /** Responses are handled one after another (TTL lookups are async); this is the tail. */
  #chain: Promise<void> = Promise.resolve();
  #endStream: ((end: StreamEnd) => void) | undefined;
  readonly #stopRecovered: () => void;
  readonly #backoff: Backoff;
  readonly done: Promise<void>;

  constructor(private readonly o: WatchOptions) {
    this.#backoff = new Backoff(o.retryInitialMs, o.retryMaxMs);
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

  async #run(): Promise<void> {
    const { connection, log, counters } = this.o;
    while (!this.#stopped && !connection.closed) {
      if (this.#needList) {
        await this.#chain;
        const { entries, revision } = await connection.retry(() => this.o.registry.listSubnets(), () => this.#stopped);
        const { leases, refused } = await this.o.registry.toLeases(entries, this.o.fallbackTtlSeconds);
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
  async #stream(): Promise<StreamEnd> {
    let stream: Awaited<ReturnType<Registry['client']['watchClient']['watch']>>;
    try {
      stream = await this.o.registry.client.watchClient.watch();
    } catch (error) {
      return { kind: 'broken', reason: describeError(error) };
    }
    if (this.#stopped) {
      stream.cancel();
      return { kind: 'stopped' };
    }
    return new Promise<StreamEnd>((resolve) => {
      let ended = false;
      const end = (e: StreamEnd) => {
        if (ended) return;
        ended = true;
        this.#endStream = undefined;
        try {
          stream.cancel();
        } catch {
          // already closed
        }
        resolve(e);
      };
      this.#endStream = end;
      stream.on('error', (error) => end({ kind: 'broken', reason: describeError(error) }));
      stream.on('end', () => end({ kind: 'broken', reason: 'the watch stream ended' }));
      stream.on('data', (res: IWatchResponse) => {
        if (ended) return;
        try {
          this.#receive(res, end);
        } catch (error) {
          // Never let a surprising response escape into the gRPC stream's emitter.
          end({ kind: 'broken', reason: `unreadable watch response: ${describeError(error)}` });
        }
      });
      const key = Buffer.from(this.o.registry.subnetsPrefix);
      stream.write({ create_request: { key, range_end: prefixRangeEnd(key), start_revision: this.#revision + 1, progress_notify: true } });
    });
  }

  /** One response of the stream: created, canceled (compacted?), changes, or a progress notification. */
  #receive(res: IWatchResponse, end: (e: StreamEnd) => void): void {
    if (res.canceled) {
      const compacted = Number(res.compact_revision);
      end(compacted > 0 ? { kind: 'compacted', revision: compacted } : { kind: 'broken', reason: res.cancel_reason || 'the watch was canceled' });
      return;
    }
    if (res.created) {
      this.o.connection.ok();
      this.#backoff.reset();
      if (this.#broken) {
        this.o.counters.reconnects++;
        this.o.log(`etcd: watch resumed from revision ${this.#revision + 1}`);
      }
      this.#broken = false;
      return;
    }
    if (res.events.length > 0) {
      this.#revision = Math.max(this.#revision, Number(res.events[res.events.length - 1].kv.mod_revision));
      const events = res.events;
      this.#chain = this.#chain.then(() => this.#handle(events)).catch((error) => {
        this.o.log(`etcd: a watch response could not be handled: ${describeError(error)}`);
      });
    } else {
      // A progress notification: every change up to its revision has been sent.
      this.#revision = Math.max(this.#revision, Number(res.header.revision));
    }
  }

  /** One watch response → one batch. */
  async #handle(events: IEvent[]): Promise<void> {
    const { registry } = this.o;
    const puts = events.filter((e) => e.type === 'Put').map((e) => e.kv.lease || '0');
    const ids = [...new Set(puts.filter((id) => id !== '0'))];
    const ttls = new Map(await Promise.all(ids.map(async (id) => [id, await registry.remaining(id).catch(() => this.o.fallbackTtlSeconds)] as const)));
    const now = Date.now();
    const batch: LeaseEvent[] = [];
    for (const ev of events) {
      const key = ev.kv.key.toString();
      const name = parseSubnetKey(key.slice(registry.subnetsPrefix.length));
      if (ev.type === 'Delete') {
        const removed = name === undefined ? undefined : this.#known.delete(name.subnet);
        if (removed !== undefined) batch.push(removed);
        continue;
      }
      const leaseId = ev.kv.lease || '0';
      const entry = { key, value: ev.kv.value.toString(), leaseId, modRevision: Number(ev.kv.mod_revision) };
      const r = registry.toLease(entry, leaseId === '0' ? undefined : ttls.get(leaseId), now);
      if (r.ok) {
        batch.push(this.#known.put(r.lease));
      } else {
        this.#refuse(r.reason);
        // Whatever was there before has been overwritten: its holder no longer has it.
        const removed = name === undefined ? undefined : this.#known.delete(name.subnet);
        if (removed !== undefined) batch.push(removed);
      }
    }
    if (batch.length > 0 && !this.#stopped) this.#emit(batch);
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
