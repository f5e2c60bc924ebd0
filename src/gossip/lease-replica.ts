/**
 * Leases over gossip. Every host keeps every host's lease record (keyed by
 * host id) and derives the same table from them: a subnet belongs to the
 * live claim with the lowest (claimedAt, hostId). Only the owner changes its
 * record, raising `version` each time, so merging is "higher version wins".
 *
 * - acquire: after the join sync, reclaim the subnet our peers remember for
 *   our host id (keeping its claim time, so it still wins), else a random
 *   free subnet in [subnetMin, subnetMax];
 * - a claim that loses a subnet to a lower (claimedAt, hostId) moves to a
 *   free one, so after convergence no subnet is held by two hosts;
 * - renew `leaseRenewBeforeMs` before expiry; release on a graceful leave
 *   (a tombstone, remembered for a while); a dead host's lease simply expires;
 * - changes of the derived table reach the listener as batches.
 */
import { ByteWriter, type ByteReader } from './bytes.js';
import { bucketOf } from './digest.js';
import { LayeredMap, type SharedBase } from './layered-map.js';
import type { LeaseConfig } from './lease-config.js';
import type { RecordDelegate, Via } from './delegate.js';
import type { GossipNode } from './node.js';
import type { Random } from '../util/prng.js';
import { decodeLease, encodeLease, leaseContentHash, leaseKeyHash, TAG_LEASE, type LeaseRecord } from './records.js';
import type { Clock, LogFn } from './runtime.js';
import type { SubnetPool } from './subnet-pool.js';

export interface LeaseEntry {
  readonly rec: LeaseRecord;
  readonly bytes: Uint8Array;
  readonly keyHash: number;
}

/** The holder of `subnet` changed: `before`/`after` are the winning records (absent: nobody). */
export interface LeaseChange {
  subnet: number;
  before: LeaseRecord | undefined;
  after: LeaseRecord | undefined;
}

/** What the host asks for; the replica fills in subnet, times and version. */
export type LeaseClaimAttrs = Pick<LeaseRecord, 'publicIP' | 'publicIPv6' | 'ipv6Subnet' | 'backend' | 'vtepMac' | 'vni' | 'port'>;

export interface LeaseReplicaOptions {
  node: GossipNode;
  pool: SubnetPool;
  config: LeaseConfig;
  clock: Clock;
  random: Random;
  onChanges?: (changes: LeaseChange[]) => void;
  log?: LogFn;
}

/** Simulator only: converged lease records shared by all nodes, and who claims which subnet. */
export interface ConvergedLeases {
  records: SharedBase<LeaseEntry>;
  claims: Map<number, string[]>;
}

export class LeaseReplica implements RecordDelegate {
  readonly tag = TAG_LEASE;
  readonly records: LayeredMap<LeaseEntry>;
  readonly #node: GossipNode;
  readonly #pool: SubnetPool;
  readonly #config: LeaseConfig;
  readonly #clock: Clock;
  readonly #rng: Random;
  readonly #log: LogFn | undefined;
  readonly #baseClaims: Map<number, string[]> | undefined;
  /** Host ids whose own (non-base) record claims a subnet. */
  readonly #claims = new Map<number, Set<string>>();
  readonly #scratch = new ByteWriter(512);
  #onChanges: ((changes: LeaseChange[]) => void) | undefined;
  #pending: LeaseChange[] = [];
  #flushTimer: unknown;
  #own: LeaseRecord | undefined;
  #attrs: LeaseClaimAttrs | undefined;
  #renewTimer: unknown;
  #repeatTimer: unknown;
  #sweepTimer: unknown;
  #nextExpiry = Infinity;
  /** XOR of every record's fingerprint: equal on two nodes that hold the same records. */
  #summary = 0;
  /** Claims this host lost to an earlier one and moved away from. */
  conflictsLost = 0;

  /** `base`: simulator only. */
  constructor(o: LeaseReplicaOptions, base?: ConvergedLeases) {
    this.#node = o.node;
    this.#pool = o.pool;
    this.#config = o.config;
    this.#clock = o.clock;
    this.#rng = o.random;
    this.#log = o.log;
    this.#onChanges = o.onChanges;
    this.records = new LayeredMap(base?.records);
    this.#baseClaims = base?.claims;
    if (base) {
      for (const e of base.records.map.values()) {
        this.#nextExpiry = Math.min(this.#nextExpiry, e.rec.expiresAt);
        this.#summary = (this.#summary ^ leaseContentHash(e.keyHash, e.rec)) >>> 0;
      }
    }
    o.node.attach(this);
    this.#sweepTimer = this.#clock.setTimer(o.config.leaseSweepIntervalMs, () => this.#sweepTick());
  }

  get hostId(): string {
    return this.#node.id;
  }

  /** This host's current claim (it may move after a conflict), if acquired. */
  get own(): LeaseRecord | undefined {
    return this.#own;
  }

  set onChanges(fn: ((changes: LeaseChange[]) => void) | undefined) {
    this.#onChanges = fn;
  }

  // ── the derived table ─────────────────────────────────────────────────

  #active(r: LeaseRecord, now: number): boolean {
    return !r.released && r.expiresAt > now;
  }

  /** The record holding `subnet`: the lowest (claimedAt, hostId) among live claims. */
  winner(subnet: number): LeaseRecord | undefined {
    const now = this.#clock.now();
    let best: LeaseRecord | undefined;
    const consider = (hostId: string): void => {
      const r = this.records.get(hostId)?.rec;
      if (!r || r.subnet !== subnet || !this.#active(r, now)) return;
      if (!best || beats(r, best)) best = r;
    };
    const base = this.#baseClaims?.get(subnet);
    if (base) for (const h of base) consider(h);
    const own = this.#claims.get(subnet);
    if (own) for (const h of own) consider(h);
    return best;
  }

  /** The whole derived table: one record per held subnet. */
  table(): LeaseRecord[] {
    const out: LeaseRecord[] = [];
    const now = this.#clock.now();
    this.records.forEach((e) => {
      if (this.#active(e.rec, now) && this.winner(e.rec.subnet) === e.rec) out.push(e.rec);
    });
    return out;
  }

  // ── merging (RecordDelegate) ──────────────────────────────────────────

  merge(r: ByteReader, via: Via): boolean {
    const rec = decodeLease(r);
    if (!rec) return false;
    if (!this.#pool.contains(rec.subnet)) return true; // another network's subnet: ignore, not malformed
    const cur = this.records.get(rec.hostId)?.rec;
    const own = this.#own;
    if (rec.hostId === this.hostId && own) {
      // Peers hold another record of us at our version or above (we restarted without it):
      // outbid it and keep our current claim.
      if (rec.version > own.version || (rec.version === own.version && compareRecords(rec, own) !== 0)) {
        this.#publish({ ...own, version: rec.version + 1 });
      }
      return true;
    }
    if (cur && compareRecords(rec, cur) <= 0) return true;
    if (rec.expiresAt <= this.#clock.now()) return true;
    this.#store(rec, via !== 'join');
    return true;
  }

  summary(): number {
    return this.#summary;
  }

  #toggle(keyHash: number, rec: LeaseRecord): void {
    const h = leaseContentHash(keyHash, rec);
    this.#node.digest.toggle(keyHash, h);
    this.#summary = (this.#summary ^ h) >>> 0;
  }

  recordsIn(wanted: (bucket: number) => boolean, emit: (bytes: Uint8Array) => void): void {
    this.records.forEach((e) => {
      if (wanted(bucketOf(e.keyHash))) emit(e.bytes);
    });
  }

  /** Stores a record, updates digest and index, emits table changes, settles our own conflicts. */
  #store(rec: LeaseRecord, broadcast: boolean): void {
    const prevEntry = this.records.get(rec.hostId);
    const prev = prevEntry?.rec;
    const subnets = prev && prev.subnet !== rec.subnet ? [prev.subnet, rec.subnet] : [rec.subnet];
    const before = subnets.map((s) => this.winner(s));
    const w = this.#scratch;
    w.reset();
    encodeLease(w, rec);
    const entry: LeaseEntry = { rec, bytes: w.take(), keyHash: prevEntry?.keyHash ?? leaseKeyHash(rec.hostId) };
    if (prevEntry) this.#toggle(entry.keyHash, prevEntry.rec);
    this.#toggle(entry.keyHash, rec);
    this.records.set(rec.hostId, entry);
    if (prev && prev.subnet !== rec.subnet) this.#claims.get(prev.subnet)?.delete(rec.hostId);
    let set = this.#claims.get(rec.subnet);
    if (!set) this.#claims.set(rec.subnet, (set = new Set()));
    set.add(rec.hostId);
    this.#nextExpiry = Math.min(this.#nextExpiry, rec.expiresAt);
    if (broadcast) this.#node.broadcast('l' + rec.hostId, entry.bytes);
    subnets.forEach((s, i) => this.#changed(s, before[i]));
    // A claim on a held subnet: its owner (maybe a joiner that missed part of
    // the table) must hear of the holder, so announce the holder again.
    const holder = this.winner(rec.subnet);
    if (holder !== undefined && holder !== rec && this.#active(rec, this.#clock.now()) && rec.hostId !== this.hostId) {
      const h = this.records.get(holder.hostId)!;
      this.#node.broadcast('l' + holder.hostId, h.bytes);
    }
    this.#checkOwnClaim();
  }

  #changed(subnet: number, before: LeaseRecord | undefined): void {
    const after = this.winner(subnet);
    if (after === before) return;
    this.#pending.push({ subnet, before, after });
    if (this.#flushTimer === undefined) {
      this.#flushTimer = this.#clock.setTimer(0, () => this.flush());
    }
  }

  /** Hands pending table changes to the listener as one batch. */
  flush(): void {
    if (this.#flushTimer !== undefined) this.#clock.clearTimer(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#onChanges?.(batch);
  }

  /** If an earlier claim holds our subnet, move to a free one. */
  #checkOwnClaim(): void {
    const own = this.#own;
    if (!own || own.released) return;
    const w = this.winner(own.subnet);
    if (w === undefined || w.hostId === own.hostId) return;
    this.conflictsLost++;
    const subnet = this.#freeSubnet(own.subnet);
    if (subnet === undefined) {
      this.#log?.('error', 'lost our subnet to an earlier claim and no subnet is free', { subnet: this.#pool.format(own.subnet), holder: w.hostId });
      this.#publish({ ...own, released: true, version: own.version + 1 });
      return;
    }
    this.#log?.('info', 'subnet claimed earlier by another host; moving', {
      lost: this.#pool.format(own.subnet),
      holder: w.hostId,
      now: this.#pool.format(subnet),
    });
    const now = this.#clock.now();
    this.#publish({ ...own, subnet, claimedAt: now, version: own.version + 1, expiresAt: now + this.#config.leaseTtlMs });
  }

  // ── our own lease ─────────────────────────────────────────────────────

  /** Live claims of other hosts that announce `publicIP` (two hosts sharing one address). */
  othersAt(publicIP: string): LeaseRecord[] {
    const now = this.#clock.now();
    const out: LeaseRecord[] = [];
    this.records.forEach((e) => {
      if (e.rec.hostId !== this.hostId && e.rec.publicIP === publicIP && this.#active(e.rec, now)) out.push(e.rec);
    });
    return out;
  }

  /** A random subnet no live claim holds (or would hold), avoiding `avoid`; undefined if none. */
  #freeSubnet(avoid?: number): number | undefined {
    const now = this.#clock.now();
    const taken = new Set<number>();
    this.records.forEach((e) => {
      if (this.#active(e.rec, now) && e.rec.hostId !== this.hostId) taken.add(e.rec.subnet);
    });
    if (avoid !== undefined) taken.add(avoid);
    const size = this.#pool.size;
    if (taken.size >= size) return undefined;
    // Random probes first (cheap while the pool is not nearly full), then an exact pick.
    for (let i = 0; i < 32; i++) {
      const s = this.#pool.at(this.#rng.int(size));
      if (!taken.has(s)) return s;
    }
    const free: number[] = [];
    for (let i = 0; i < size; i++) if (!taken.has(this.#pool.at(i))) free.push(this.#pool.at(i));
    return free.length > 0 ? free[this.#rng.int(free.length)] : undefined;
  }

  /**
   * Claims this host's lease: the one its peers (or its own saved record)
   * remember (same subnet, same claim time), else `preferred` when it is free
   * (the subnet the host's state dir names), else a random free subnet. Call
   * after the node joined.
   */
  acquire(attrs: LeaseClaimAttrs, preferred?: number): LeaseRecord {
    this.#attrs = attrs;
    const now = this.#clock.now();
    const ttl = this.#config.leaseTtlMs;
    const remembered = this.records.get(this.hostId)?.rec;
    let rec: LeaseRecord | undefined;
    if (remembered && remembered.expiresAt > now) {
      const holder = this.winner(remembered.subnet);
      const free = holder === undefined || holder.hostId === this.hostId;
      if (!remembered.released || free) {
        rec = {
          ...remembered,
          ...attrs,
          released: false,
          version: remembered.version + 1,
          expiresAt: now + ttl,
          claimedAt: remembered.released ? now : remembered.claimedAt,
        };
      }
    }
    if (!rec) {
      const subnet = preferred !== undefined && this.winner(preferred) === undefined ? preferred : this.#freeSubnet();
      if (subnet === undefined) {
        throw new Error(`no free subnet in ${this.#pool.format(this.#pool.min)} … ${this.#pool.format(this.#pool.max)}: all ${this.#pool.size} are leased`);
      }
      rec = { hostId: this.hostId, subnet, claimedAt: now, version: (remembered?.version ?? 0) + 1, expiresAt: now + ttl, released: false, ...attrs };
    }
    this.#publish(clean(rec));
    return this.#own!;
  }

  /** Takes the record the replica already holds for this host as its own (a node started from converged state). */
  adoptOwn(): void {
    const rec = this.records.get(this.hostId)?.rec;
    if (!rec || rec.released) return;
    this.#own = rec;
    this.#scheduleRenewal();
  }

  /** Loads our own record kept on disk across a restart (not broadcast: acquire() will renew it). */
  restore(rec: LeaseRecord): void {
    if (rec.hostId !== this.hostId) throw new Error(`restore: record of host "${rec.hostId}" is not ours ("${this.hostId}")`);
    const cur = this.records.get(rec.hostId)?.rec;
    if (cur && compareRecords(cur, rec) >= 0) return;
    this.#store(rec, false);
  }

  /** Renews now (a new version with a fresh expiry), e.g. after the attributes changed. */
  renew(): void {
    const cur = this.#own;
    if (!cur || cur.released) return;
    this.#publish({ ...cur, version: cur.version + 1, expiresAt: this.#clock.now() + this.#config.leaseTtlMs });
  }

  /** Gives our lease back (a graceful leave). */
  release(): void {
    const own = this.#own;
    if (!own || own.released) return;
    this.#publish({ ...own, released: true, version: own.version + 1, expiresAt: this.#clock.now() + this.#config.releasedRetentionMs });
  }

  /**
   * A leaving host's release, repeated: released now, then queued again once per gossip round for
   * `rounds` rounds, each time with a fresh retransmit budget. A single round's budget is spent in the
   * first datagrams; if those are lost (or went to a member that has just crashed), the others would
   * route the subnet until its TTL runs out. The caller stops the node after the rounds.
   */
  leave(rounds: number): void {
    this.release();
    let left = rounds;
    const again = () => {
      this.#repeatTimer = undefined;
      const own = this.#own;
      const entry = own && this.records.get(own.hostId);
      if (!entry || !own.released || left-- <= 0 || !this.#node.running) return;
      this.#node.broadcast('l' + own.hostId, entry.bytes);
      this.#repeatTimer = this.#clock.setTimer(this.#node.config.gossipIntervalMs, again);
    };
    this.#repeatTimer = this.#clock.setTimer(this.#node.config.gossipIntervalMs, again);
  }

  #publish(rec: LeaseRecord): void {
    this.#own = rec;
    this.#store(rec, true);
    this.#scheduleRenewal();
  }

  #scheduleRenewal(): void {
    if (this.#renewTimer !== undefined) this.#clock.clearTimer(this.#renewTimer);
    this.#renewTimer = undefined;
    const own = this.#own;
    if (!own || own.released) return;
    const due = own.expiresAt - this.#config.leaseRenewBeforeMs - this.#clock.now();
    this.#renewTimer = this.#clock.setTimer(Math.max(0, due), () => {
      this.#renewTimer = undefined;
      const cur = this.#own;
      if (!cur || cur.released || !this.#node.running) return;
      this.#publish({ ...cur, version: cur.version + 1, expiresAt: this.#clock.now() + this.#config.leaseTtlMs });
    });
  }

  // ── expiry ────────────────────────────────────────────────────────────

  #sweepTick(): void {
    this.#sweepTimer = this.#clock.setTimer(this.#config.leaseSweepIntervalMs, () => this.#sweepTick());
    if (!this.#node.running) return;
    this.sweep();
  }

  /** Forgets expired leases and old tombstones (a scan only once the earliest expiry has passed). */
  sweep(): void {
    const now = this.#clock.now();
    if (now < this.#nextExpiry) return;
    const gone: LeaseEntry[] = [];
    let next = Infinity;
    this.records.forEach((e) => {
      if (e.rec.expiresAt <= now && e.rec.hostId !== this.hostId) gone.push(e);
      else next = Math.min(next, e.rec.expiresAt);
    });
    this.#nextExpiry = next;
    for (const e of gone) {
      const before = this.winner(e.rec.subnet);
      this.#toggle(e.keyHash, e.rec);
      this.records.delete(e.rec.hostId);
      this.#claims.get(e.rec.subnet)?.delete(e.rec.hostId);
      this.#changed(e.rec.subnet, before);
    }
  }

  stop(): void {
    for (const t of [this.#renewTimer, this.#sweepTimer, this.#flushTimer, this.#repeatTimer]) if (t !== undefined) this.#clock.clearTimer(t);
    this.#renewTimer = this.#sweepTimer = this.#flushTimer = this.#repeatTimer = undefined;
  }

  /** The attributes last acquired with (for a restart that kept them). */
  get attrs(): LeaseClaimAttrs | undefined {
    return this.#attrs;
  }
}

/**
 * Which of two records of one host is newer: the higher version; at equal
 * versions (two records made apart, e.g. across a restart that lost state)
 * a fixed order on the content, so every node keeps the same one.
 */
export function compareRecords(a: LeaseRecord, b: LeaseRecord): number {
  if (a.version !== b.version) return a.version - b.version;
  if (a.claimedAt !== b.claimedAt) return a.claimedAt - b.claimedAt;
  if (a.subnet !== b.subnet) return a.subnet - b.subnet;
  if (a.released !== b.released) return a.released ? 1 : -1;
  return a.expiresAt - b.expiresAt;
}

/** The earlier claim wins; the lower host id breaks a tie. */
export function beats(a: LeaseRecord, b: LeaseRecord): boolean {
  return a.claimedAt < b.claimedAt || (a.claimedAt === b.claimedAt && a.hostId < b.hostId);
}

/** Drops undefined optional fields, so records compare and encode the same everywhere. */
function clean(r: LeaseRecord): LeaseRecord {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = v;
  return out as unknown as LeaseRecord;
}
