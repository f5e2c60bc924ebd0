/**
 * The Registry contract (registry.ts) in memory, on an injected clock: the
 * lease keeper, the watch and the store run against it without etcd, and on
 * virtual time a day of renewals takes milliseconds.
 *
 * It keeps etcd's semantics where the store depends on them: one revision
 * per write, conditional writes compared on version and mod revision, etcd
 * leases that run out on the clock and take their keys with them in one
 * revision, watches that replay history from a revision in order and are
 * refused ("compacted") below the compaction point.
 *
 * And it fails on demand, as etcd does for a host that loses it:
 * disconnect() makes every call reject and breaks every watch until
 * reconnect(), while the server side goes on (TTLs still run out, and put()
 * and delete(), the writes of other hosts, still apply); failNext() fails
 * single calls, before they apply or after (a lost reply).
 */
import { realClock, type Clock, type ClockTimer } from './clock.js';
import {
  DEFAULT_PREFIX,
  KeyLayout,
  NO_LEASE,
  type Grant,
  type Registry,
  type SubnetChange,
  type SubnetEntry,
  type WatchHandle,
  type WatchMessage,
} from './registry.js';

/** The calls a test can fail or observe. */
export type RegistryCall =
  | 'getConfig'
  | 'putConfig'
  | 'ping'
  | 'listSubnets'
  | 'getSubnet'
  | 'grant'
  | 'revoke'
  | 'remaining'
  | 'create'
  | 'replace'
  | 'deleteIfUnchanged'
  | 'watchSubnets';

export interface MemoryRegistryOptions {
  prefix?: string;
  /** Time and timers: etcd leases run out on it (default: the real clock). */
  clock?: Clock;
  /** Told of every call as it completes: which, when (clock ms), and whether it failed. */
  observe?: (call: { call: RegistryCall; at: number; failed: boolean }) => void;
}

interface StoredKey {
  value: string;
  leaseId: string;
  modRevision: number;
}

interface StoredLease {
  ttl: number;
  expiresAt: number;
  timer: ClockTimer;
  keys: Set<string>;
}

/** One change of any key, as history keeps it for watches. */
type KeyChange = { type: 'put'; key: string; stored: StoredKey } | { type: 'delete'; key: string };

interface Watcher {
  from: number;
  queue: WatchMessage[];
  scheduled: boolean;
  /** A message that ends the stream is queued: nothing more is. */
  ended: boolean;
  /** Ended and delivered, or cancelled: nothing more is delivered. */
  over: boolean;
  onMessage: (message: WatchMessage) => void;
}

/** Where an injected failure strikes: before the call applies, or after (the reply is lost). */
export type FailWhen = 'before' | 'after';

export class MemoryRegistry implements Registry {
  readonly keys: KeyLayout;
  readonly #clock: Clock;
  readonly #observe: MemoryRegistryOptions['observe'];
  readonly #kv = new Map<string, StoredKey>();
  readonly #leases = new Map<string, StoredLease>();
  /** Every revision's changes after the compaction point, oldest first. */
  readonly #history: { revision: number; changes: KeyChange[] }[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #failures: { call: RegistryCall; when: FailWhen; count: number; reason: string }[] = [];
  /** etcd's revision of an empty store is 1. */
  #revision = 1;
  #compactRevision = 0;
  #nextLeaseId = 0x7c3a_0000;
  #down: string | undefined;

  constructor(options: MemoryRegistryOptions = {}) {
    this.keys = new KeyLayout(options.prefix ?? DEFAULT_PREFIX);
    this.#clock = options.clock ?? realClock;
    this.#observe = options.observe;
  }

  // ---------------------------------------------------------------- the contract

  getConfig(): Promise<string | undefined> {
    return this.#call('getConfig', () => this.#kv.get(this.keys.configKey)?.value);
  }

  putConfig(text: string): Promise<void> {
    return this.#call('putConfig', () => void this.#write([{ type: 'put', key: this.keys.configKey, value: text, leaseId: NO_LEASE }]));
  }

  ping(): Promise<void> {
    return this.#call('ping', () => undefined);
  }

  listSubnets(): Promise<{ entries: SubnetEntry[]; revision: number }> {
    return this.#call('listSubnets', () => {
      const keys = [...this.#kv.keys()].filter((k) => k.startsWith(this.keys.subnetsPrefix)).sort(byBytes);
      return { entries: keys.map((k) => toEntry(k, this.#kv.get(k)!)), revision: this.#revision };
    });
  }

  getSubnet(key: string): Promise<SubnetEntry | undefined> {
    return this.#call('getSubnet', () => {
      const stored = this.#kv.get(key);
      return stored === undefined ? undefined : toEntry(key, stored);
    });
  }

  grant(ttlSeconds: number): Promise<Grant> {
    return this.#call('grant', () => {
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1)
        throw new Error(`grant: ttlSeconds ${ttlSeconds} is not allowed; allowed: an integer number of seconds, at least 1`);
      const id = (this.#nextLeaseId++).toString(16);
      const timer = this.#clock.setTimer(ttlSeconds * 1000, () => this.#endLease(id), { unref: true });
      this.#leases.set(id, { ttl: ttlSeconds, expiresAt: this.#clock.now() + ttlSeconds * 1000, timer, keys: new Set() });
      return { id, ttl: ttlSeconds };
    });
  }

  revoke(leaseId: string): Promise<void> {
    // Best effort, as the contract says: a failure is swallowed and the lease lives on.
    return this.#call('revoke', () => {
      if (leaseId !== NO_LEASE) this.#endLease(leaseId);
    }).catch(() => undefined);
  }

  remaining(leaseId: string): Promise<number> {
    return this.#call('remaining', () => {
      const lease = this.#leases.get(leaseId);
      return lease === undefined ? -1 : Math.floor(Math.max(0, lease.expiresAt - this.#clock.now()) / 1000);
    });
  }

  create(key: string, value: string, leaseId: string): Promise<boolean> {
    return this.#call('create', () => !this.#kv.has(key) && this.#put(key, value, leaseId));
  }

  replace(key: string, value: string, leaseId: string, modRevision: number): Promise<boolean> {
    return this.#call('replace', () => this.#kv.get(key)?.modRevision === modRevision && this.#put(key, value, leaseId));
  }

  deleteIfUnchanged(key: string, modRevision: number): Promise<boolean> {
    return this.#call('deleteIfUnchanged', () => {
      if (this.#kv.get(key)?.modRevision !== modRevision) return false;
      this.#write([{ type: 'delete', key }]);
      return true;
    });
  }

  watchSubnets(fromRevision: number, onMessage: (message: WatchMessage) => void): WatchHandle {
    const watcher: Watcher = { from: fromRevision, queue: [], scheduled: false, ended: false, over: false, onMessage };
    const handle = {
      cancel: () => {
        watcher.over = true;
        this.#watchers.delete(watcher);
      },
    };
    const failed = this.#takeFailure('watchSubnets', 'before');
    this.#observe?.({ call: 'watchSubnets', at: this.#clock.now(), failed: this.#down !== undefined || failed !== undefined });
    if (this.#down !== undefined || failed !== undefined) {
      this.#send(watcher, { kind: 'broken', reason: unavailable(this.#down ?? failed!) });
      return handle;
    }
    // As etcd: the watch is created, then refused if its start has been compacted away.
    this.#send(watcher, { kind: 'created' });
    if (fromRevision < this.#compactRevision) {
      this.#send(watcher, { kind: 'compacted', compactRevision: this.#compactRevision });
      return handle;
    }
    for (const { revision, changes } of this.#history) {
      if (revision >= fromRevision) this.#sendChanges(watcher, revision, changes);
    }
    this.#watchers.add(watcher);
    return handle;
  }

  // ---------------------------------------------------------------- what other hosts and operators do

  /** The current revision (of the last write). */
  get revision(): number {
    return this.#revision;
  }

  /** Live etcd leases, so a test can see that renewals give the old ones back. */
  get leaseCount(): number {
    return this.#leases.size;
  }

  /** etcdctl put: unconditional, and it applies even while this host is disconnected. Returns the revision. */
  put(key: string, value: string, leaseId: string = NO_LEASE): number {
    this.#put(key, value, leaseId);
    return this.#revision;
  }

  /** etcdctl del: unconditional. True when the key was there. */
  delete(key: string): boolean {
    if (!this.#kv.has(key)) return false;
    this.#write([{ type: 'delete', key }]);
    return true;
  }

  /** Forgets history before `revision` (default: all of it); watches from older revisions are refused. */
  compact(revision = this.#revision): void {
    if (!Number.isInteger(revision) || revision < 1 || revision > this.#revision) {
      throw new Error(`compact: revision ${revision} is not allowed; allowed: 1..${this.#revision}, the current revision`);
    }
    this.#compactRevision = Math.max(this.#compactRevision, revision);
    while (this.#history.length > 0 && this.#history[0].revision < this.#compactRevision) this.#history.shift();
  }

  /** etcd's progress notification to every open watch: all changes up to now have been sent. */
  notifyProgress(): void {
    for (const w of this.#watchers) this.#send(w, { kind: 'progress', revision: this.#revision });
  }

  /** This host loses the registry: calls reject and watches break until reconnect(). */
  disconnect(reason = 'connection lost'): void {
    this.#down = reason;
    for (const w of this.#watchers) this.#send(w, { kind: 'broken', reason: unavailable(reason) });
    this.#watchers.clear();
  }

  reconnect(): void {
    this.#down = undefined;
  }

  /** The next `count` calls of `call` fail: before they apply, or after (applied, but the reply is lost). */
  failNext(call: RegistryCall, count = 1, when: FailWhen = 'before', reason = `injected failure of ${call}`): void {
    if (!Number.isInteger(count) || count < 1) throw new Error(`failNext: count ${count} is not allowed; allowed: an integer, at least 1`);
    // Opening a watch applies nothing, so it has no lost reply: it can only fail before.
    if (call === 'watchSubnets' && when === 'after') throw new Error(`failNext: when "after" is not allowed for watchSubnets; allowed: "before"`);
    this.#failures.push({ call, when, count, reason });
  }

  // ---------------------------------------------------------------- inside

  /** Runs `op` as a remote call: asynchronous, failing while disconnected or when a failure was injected. */
  async #call<T>(call: RegistryCall, op: () => T): Promise<T> {
    await Promise.resolve(); // a reply never comes back synchronously
    const report = (failed: boolean) => this.#observe?.({ call, at: this.#clock.now(), failed });
    const before = this.#down ?? this.#takeFailure(call, 'before');
    if (before !== undefined) {
      report(true);
      throw new Error(unavailable(before));
    }
    let value: T;
    try {
      value = op();
    } catch (error) {
      report(true);
      throw error;
    }
    const after = this.#takeFailure(call, 'after');
    report(after !== undefined);
    if (after !== undefined) throw new Error(unavailable(after));
    return value;
  }

  #takeFailure(call: RegistryCall, when: FailWhen): string | undefined {
    const i = this.#failures.findIndex((f) => f.call === call && f.when === when);
    if (i < 0) return undefined;
    const f = this.#failures[i];
    if (--f.count === 0) this.#failures.splice(i, 1);
    return f.reason;
  }

  /** A put of one key; as etcd, it fails when `leaseId` names no live etcd lease. Returns true (it was written). */
  #put(key: string, value: string, leaseId: string): true {
    if (leaseId !== NO_LEASE && !this.#leases.has(leaseId)) throw new Error(`etcdserver: requested lease not found (${leaseId}, for ${key})`);
    this.#write([{ type: 'put', key, value, leaseId }]);
    return true;
  }

  /** Applies `ops` as one revision and reports it to the watches. */
  #write(ops: ({ type: 'put'; key: string; value: string; leaseId: string } | { type: 'delete'; key: string })[]): void {
    const revision = ++this.#revision;
    const changes: KeyChange[] = [];
    for (const op of ops) {
      const old = this.#kv.get(op.key);
      if (old !== undefined) this.#leases.get(old.leaseId)?.keys.delete(op.key);
      if (op.type === 'delete') {
        this.#kv.delete(op.key);
        changes.push({ type: 'delete', key: op.key });
      } else {
        const stored = { value: op.value, leaseId: op.leaseId, modRevision: revision };
        this.#kv.set(op.key, stored);
        this.#leases.get(op.leaseId)?.keys.add(op.key);
        changes.push({ type: 'put', key: op.key, stored });
      }
    }
    this.#history.push({ revision, changes });
    for (const w of this.#watchers) if (revision >= w.from) this.#sendChanges(w, revision, changes);
  }

  /** An etcd lease runs out or is revoked: its keys go in one revision (none when it had none). */
  #endLease(id: string): void {
    const lease = this.#leases.get(id);
    if (lease === undefined) return;
    this.#clock.clearTimer(lease.timer);
    this.#leases.delete(id);
    if (lease.keys.size > 0) this.#write([...lease.keys].sort(byBytes).map((key) => ({ type: 'delete' as const, key })));
  }

  #sendChanges(w: Watcher, revision: number, changes: KeyChange[]): void {
    const subnets: SubnetChange[] = changes
      .filter((c) => c.key.startsWith(this.keys.subnetsPrefix))
      .map((c) => (c.type === 'put' ? { type: 'put', entry: toEntry(c.key, c.stored) } : { type: 'delete', key: c.key, revision }));
    if (subnets.length > 0) this.#send(w, { kind: 'changes', changes: subnets, revision });
  }

  /** Queues a message; messages reach the watcher in order, never during the call that caused them. */
  #send(w: Watcher, message: WatchMessage): void {
    if (w.over || w.ended) return;
    w.queue.push(message);
    if (message.kind === 'broken' || message.kind === 'compacted') {
      w.ended = true;
      this.#watchers.delete(w);
    }
    if (w.scheduled) return;
    w.scheduled = true;
    queueMicrotask(() => {
      w.scheduled = false;
      while (!w.over && w.queue.length > 0) {
        const m = w.queue.shift()!;
        if (m.kind === 'broken' || m.kind === 'compacted') w.over = true;
        w.onMessage(m);
      }
      w.queue.length = 0;
    });
  }
}

function toEntry(key: string, stored: StoredKey): SubnetEntry {
  return { key, value: stored.value, leaseId: stored.leaseId, modRevision: stored.modRevision };
}

/** etcd orders keys by their bytes. */
function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function unavailable(reason: string): string {
  return `14 UNAVAILABLE: ${reason}`;
}
