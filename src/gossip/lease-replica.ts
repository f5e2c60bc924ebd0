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
 *
 * A dual-stack overlay (an IPv6 pool given): each record also claims an IPv6
 * subnet, with a claim time of its own, by the same rules: the live claim
 * with the lowest (ipv6ClaimedAt, hostId) holds it, a claim that loses moves
 * to a free one, a restart reclaims it with its claim time. The two families
 * are settled apart, so losing one subnet never moves the other.
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
import type { SubnetPool6 } from './subnet-pool6.js';

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

/** What the host asks for; the replica fills in the subnets, times and version. */
export type LeaseClaimAttrs = Pick<LeaseRecord, 'publicIP' | 'publicIPv6' | 'backend' | 'vtepMac' | 'vni' | 'port'>;

export interface LeaseReplicaOptions {
  node: GossipNode;
  pool: SubnetPool;
  /** A dual-stack overlay: the IPv6 subnets each host also claims one of. */
  pool6?: SubnetPool6;
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
  /** Who claims which IPv6 subnet (with an IPv6 pool). */
  claims6?: Map<string, string[]>;
}

export class LeaseReplica implements RecordDelegate {
  readonly tag = TAG_LEASE;
  readonly records: LayeredMap<LeaseEntry>;
  readonly #node: GossipNode;
  readonly #pool: SubnetPool;
  readonly #pool6: SubnetPool6 | undefined;
  readonly #config: LeaseConfig;
  readonly #clock: Clock;
  readonly #rng: Random;
  readonly #log: LogFn | undefined;
  readonly #baseClaims: Map<number, string[]> | undefined;
  readonly #baseClaims6: Map<string, string[]> | undefined;
  /** Host ids whose own (non-base) record claims a subnet. */
  readonly #claims = new Map<number, Set<string>>();
  /** The same for IPv6 subnets. */
  readonly #claims6 = new Map<string, Set<string>>();
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
  /** IPv6 claims this host lost to an earlier one and moved away from. */
  conflictsLost6 = 0;

  /** `base`: simulator only. */
  constructor(o: LeaseReplicaOptions, base?: ConvergedLeases) {
    this.#node = o.node;
    this.#pool = o.pool;
    this.#pool6 = o.pool6;
    this.#config = o.config;
    this.#clock = o.clock;
    this.#rng = o.random;
    this.#log = o.log;
    this.#onChanges = o.onChanges;
    this.records = new LayeredMap(base?.records);
    this.#baseClaims = base?.claims;
    this.#baseClaims6 = base?.claims6;
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

  /** The IPv6 subnet `r` claims, when there is an IPv6 pool and the claim is one of its subnets. */
  #claim6(r: LeaseRecord | undefined): string | undefined {
    if (r === undefined || this.#pool6 === undefined || r.ipv6ClaimedAt === undefined || r.ipv6Subnet === undefined) return undefined;
    return this.#pool6.contains(r.ipv6Subnet) ? r.ipv6Subnet : undefined;
  }

  /** The record holding IPv6 `subnet`: the lowest (ipv6ClaimedAt, hostId) among live claims. */
  winner6(subnet: string): LeaseRecord | undefined {
    const now = this.#clock.now();
    let best: LeaseRecord | undefined;
    const consider = (hostId: string): void => {
      const r = this.records.get(hostId)?.rec;
      if (!r || this.#claim6(r) !== subnet || !this.#active(r, now)) return;
      if (!best || beats6(r, best)) best = r;
    };
    const base = this.#baseClaims6?.get(subnet);
    if (base) for (const h of base) consider(h);
    const own = this.#claims6.get(subnet);
    if (own) for (const h of own) consider(h);
    return best;
  }

  /** The IPv6 subnet `r` holds (it claims it and its claim wins), if any. */
  ipv6SubnetOf(r: LeaseRecord): string | undefined {
    const s = this.#claim6(r);
    return s !== undefined && this.winner6(s)?.hostId === r.hostId ? s : undefined;
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
    // The same for an IPv6 claim outside our IPv6 network; without one, the IPv6 claim is kept but not used.
    if (this.#pool6 && rec.ipv6ClaimedAt !== undefined && !this.#pool6.contains(rec.ipv6Subnet!)) return true;
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
    const prev6 = this.#claim6(prev);
    const next6 = this.#claim6(rec);
    const subnets6 = [...new Set([prev6, next6])].filter((s) => s !== undefined);
    const before6 = subnets6.map((s) => this.winner6(s));
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
    if (prev6 !== undefined && prev6 !== next6) this.#claims6.get(prev6)?.delete(rec.hostId);
    if (next6 !== undefined) {
      let set6 = this.#claims6.get(next6);
      if (!set6) this.#claims6.set(next6, (set6 = new Set()));
      set6.add(rec.hostId);
    }
    this.#nextExpiry = Math.min(this.#nextExpiry, rec.expiresAt);
    if (broadcast) this.#node.broadcast('l' + rec.hostId, entry.bytes);
    subnets.forEach((s, i) => this.#changed(s, before[i]));
    subnets6.forEach((s, i) => this.#changed6(s, before6[i]));
    // A claim on a held subnet: its owner (maybe a joiner that missed part of
    // the table) must hear of the holder, so announce the holder again.
    const holders = [this.winner(rec.subnet), next6 !== undefined ? this.winner6(next6) : undefined];
    for (const holder of new Set(holders)) {
      if (holder !== undefined && holder !== rec && this.#active(rec, this.#clock.now()) && rec.hostId !== this.hostId) {
        const h = this.records.get(holder.hostId)!;
        this.#node.broadcast('l' + holder.hostId, h.bytes);
      }
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

  /**
   * The holder of an IPv6 subnet changed: the leases of the old and the new holder say so (a lease
   * carries its IPv6 subnet only while it holds it), as a change of their IPv4 subnet to the same record.
   */
  #changed6(subnet: string, before: LeaseRecord | undefined): void {
    const after = this.winner6(subnet);
    if (after === before) return;
    for (const r of [before, after]) {
      if (r === undefined || this.records.get(r.hostId)?.rec !== r || this.winner(r.subnet) !== r) continue;
      if (this.#pending.some((ch) => ch.after === r)) continue;
      this.#pending.push({ subnet: r.subnet, before: r, after: r });
    }
    if (this.#pending.length > 0 && this.#flushTimer === undefined) {
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

  /** If an earlier claim holds our subnet (or our IPv6 subnet), move to a free one. */
  #checkOwnClaim(): void {
    const own = this.#own;
    if (!own || own.released) return;
    const w = this.winner(own.subnet);
    const lost4 = w !== undefined && w.hostId !== own.hostId;
    const own6 = this.#claim6(own);
    const w6 = own6 !== undefined ? this.winner6(own6) : undefined;
    const lost6 = w6 !== undefined && w6.hostId !== own.hostId;
    if (!lost4 && !lost6) return;
    const now = this.#clock.now();
    let next: LeaseRecord = { ...own, version: own.version + 1 };
    if (lost4) {
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
      next = { ...next, subnet, claimedAt: now, expiresAt: now + this.#config.leaseTtlMs };
    }
    if (lost6) {
      this.conflictsLost6++;
      const subnet6 = this.#freeSubnet6(own6);
      if (subnet6 === undefined) {
        // The IPv4 lease stays; the daemon, seeing its IPv6 subnet gone, stops rather than run half a network.
        this.#log?.('error', 'lost our IPv6 subnet to an earlier claim and no IPv6 subnet is free', { subnet: own6, holder: w6.hostId });
        next = withoutIpv6(next);
      } else {
        this.#log?.('info', 'IPv6 subnet claimed earlier by another host; moving', { lost: own6, holder: w6.hostId, now: subnet6 });
        next = { ...next, ipv6Subnet: subnet6, ipv6ClaimedAt: now };
      }
    }
    this.#publish(next);
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

  /** A random IPv6 subnet no live claim of another host holds, avoiding `avoid`; undefined if none. */
  #freeSubnet6(avoid?: string): string | undefined {
    const pool = this.#pool6!;
    const now = this.#clock.now();
    const taken = new Set<string>();
    this.records.forEach((e) => {
      const s = this.#claim6(e.rec);
      if (s !== undefined && this.#active(e.rec, now) && e.rec.hostId !== this.hostId) taken.add(s);
    });
    if (avoid !== undefined) taken.add(avoid);
    const size = pool.size;
    if (taken.size >= size) return undefined;
    for (let i = 0; i < 32; i++) {
      const s = pool.at(this.#rng.int(size));
      if (!taken.has(s)) return s;
    }
    // A nearly full pool: of taken.size + 1 subnets in a row, one is free.
    const start = this.#rng.int(size);
    for (let k = 0; k <= taken.size; k++) {
      const s = pool.at((start + k) % size);
      if (!taken.has(s)) return s;
    }
    return undefined;
  }

  /**
   * The IPv6 side of a claim being acquired (`rec` has the IPv4 side): the IPv6 subnet the remembered
   * record claims (with its claim time unless it was released), else `preferred6` when free, else a
   * random free one. Without an IPv6 pool the claim has none.
   */
  #withIpv6(rec: LeaseRecord, remembered: LeaseRecord | undefined, preferred6: string | undefined): LeaseRecord {
    const pool = this.#pool6;
    const v4 = withoutIpv6(rec);
    if (pool === undefined) return v4;
    const now = this.#clock.now();
    const old = remembered !== undefined && remembered.expiresAt > now ? this.#claim6(remembered) : undefined;
    if (old !== undefined) {
      const holder = this.winner6(old);
      if (!remembered!.released) return { ...v4, ipv6Subnet: old, ipv6ClaimedAt: remembered!.ipv6ClaimedAt! };
      if (holder === undefined || holder.hostId === this.hostId) return { ...v4, ipv6Subnet: old, ipv6ClaimedAt: now };
    }
    const wanted = preferred6 !== undefined ? pool.parse(preferred6) : undefined;
    const subnet6 = wanted !== undefined && this.winner6(wanted) === undefined ? wanted : this.#freeSubnet6();
    if (subnet6 === undefined) throw new Error(`no free IPv6 subnet in ${pool.network} (/${pool.subnetLen}): all ${pool.size} are leased`);
    return { ...v4, ipv6Subnet: subnet6, ipv6ClaimedAt: now };
  }

  /**
   * Claims this host's lease: the one its peers (or its own saved record)
   * remember (same subnet, same claim time), else `preferred` when it is free
   * (the subnet the host's state dir names), else a random free subnet; the
   * IPv6 subnet alike (`preferred6`). Call after the node joined.
   */
  acquire(attrs: LeaseClaimAttrs, preferred?: number, preferred6?: string): LeaseRecord {
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
    this.#publish(clean(this.#withIpv6(rec, remembered, preferred6)));
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
      const subnet6 = this.#claim6(e.rec);
      const before6 = subnet6 !== undefined ? this.winner6(subnet6) : undefined;
      this.#toggle(e.keyHash, e.rec);
      this.records.delete(e.rec.hostId);
      this.#claims.get(e.rec.subnet)?.delete(e.rec.hostId);
      if (subnet6 !== undefined) this.#claims6.get(subnet6)?.delete(e.rec.hostId);
      this.#changed(e.rec.subnet, before);
      if (subnet6 !== undefined) this.#changed6(subnet6, before6);
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
  if (a.expiresAt !== b.expiresAt) return a.expiresAt - b.expiresAt;
  // Apart in their IPv6 claim only: the one without any first, then by claim time, then by subnet.
  const a6 = a.ipv6ClaimedAt ?? -Infinity;
  const b6 = b.ipv6ClaimedAt ?? -Infinity;
  if (a6 !== b6) return a6 < b6 ? -1 : 1;
  const as = a.ipv6Subnet ?? '';
  const bs = b.ipv6Subnet ?? '';
  return as < bs ? -1 : as > bs ? 1 : 0;
}

/** The earlier claim wins; the lower host id breaks a tie. */
export function beats(a: LeaseRecord, b: LeaseRecord): boolean {
  return a.claimedAt < b.claimedAt || (a.claimedAt === b.claimedAt && a.hostId < b.hostId);
}

/** The earlier IPv6 claim wins; the lower host id breaks a tie (both records claim an IPv6 subnet). */
export function beats6(a: LeaseRecord, b: LeaseRecord): boolean {
  const at = a.ipv6ClaimedAt!;
  const bt = b.ipv6ClaimedAt!;
  return at < bt || (at === bt && a.hostId < b.hostId);
}

function withoutIpv6(r: LeaseRecord): LeaseRecord {
  const { ipv6Subnet: _subnet, ipv6ClaimedAt: _claimedAt, ...rest } = r;
  return rest;
}

/** Drops undefined optional fields, so records compare and encode the same everywhere. */
function clean(r: LeaseRecord): LeaseRecord {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = v;
  return out as unknown as LeaseRecord;
}
