/**
 * A simulated cluster: N gossip nodes with lease replicas on a SimNetwork.
 * It starts converged (every node shares one frozen base of N members and N
 * leases, and keeps only its own changes), so 10,000 nodes fit in memory;
 * nodes that are added or restarted later start empty and join for real.
 */
import type { NetworkConfig } from '../../lease/lease.js';
import { LEAVE_ROUNDS, makeConfig, type GossipConfig } from '../config.js';
import { LEASE, type LeaseConfig } from '../lease-config.js';
import { Digest } from '../digest.js';
import type { Keyring } from '../envelope.js';
import { SharedBase } from '../layered-map.js';
import { LeaseReplica, type LeaseChange, type LeaseEntry } from '../lease-replica.js';
import { hmacSha256 } from '../mac.js';
import type { MemberEntry } from '../member-table.js';
import { GossipNode } from '../node.js';
import { Sfc32, shuffle } from '../../util/prng.js';
import { ByteWriter } from '../bytes.js';
import {
  ALIVE,
  encodeLease,
  encodeMember,
  leaseContentHash,
  leaseKeyHash,
  memberContentHash,
  memberKeyHash,
  type LeaseRecord,
  type MemberRecord,
} from '../records.js';
import { SubnetPool } from '../subnet-pool.js';
import { SubnetPool6, type Ipv6NetworkConfig } from '../subnet-pool6.js';
import { cheapMac } from './cheap-mac.js';
import { SimNetwork } from './network.js';

export interface SimClusterOptions {
  /** Nodes that start converged (members of each other, each with a lease). */
  nodes: number;
  seed: number;
  config?: GossipConfig;
  /** Lease timings (default: LEASE). */
  lease?: LeaseConfig;
  loss?: number;
  latencyMs?: number;
  jitterMs?: number;
  /** The lease network; default: 198.18.0.0/15 cut small enough for 2 × nodes subnets. */
  network?: NetworkConfig;
  /** A dual-stack overlay: every host also leases an IPv6 subnet of this network. */
  network6?: Ipv6NetworkConfig;
  /** 'cheap' (default; fast, not secure) or 'hmac' (HMAC-SHA256, as over UDP). */
  mac?: 'cheap' | 'hmac';
  /** Cluster label. */
  label?: string;
  /** Start with `nodes` converged nodes (default) or none. */
  converged?: boolean;
  /** How many of the first hosts are everyone's configured seeds (default 3). */
  seeds?: number;
}

export interface Slot {
  index: number;
  id: string;
  addr: string;
  node: GossipNode | undefined;
  replica: LeaseReplica | undefined;
  /** Running (not crashed, not left). */
  up: boolean;
  /** Lease record kept "on disk" across restarts. */
  saved: LeaseRecord | undefined;
}

/** A network big enough for n hosts: 198.18.0.0/15 with the longest subnet length giving ≥ 2n subnets. */
export function networkFor(n: number): NetworkConfig {
  let len = 24;
  while (len < 30 && 2 ** (len - 15) - 2 < 2 * n) len++;
  return { network: '198.18.0.0/15', subnetLen: len, subnetMin: '', subnetMax: '', backendType: 'udp' };
}

export class SimCluster {
  readonly net: SimNetwork;
  readonly config: GossipConfig;
  readonly lease: LeaseConfig;
  readonly pool: SubnetPool;
  readonly pool6: SubnetPool6 | undefined;
  readonly slots: Slot[] = [];
  readonly keyring: Keyring;
  readonly label: string;
  readonly rng: Sfc32;
  /** Observers for measurements. */
  onLeaseChanges: ((slot: Slot, changes: LeaseChange[]) => void) | undefined;
  onMember: ((slot: Slot, rec: MemberRecord, prev: MemberRecord | undefined) => void) | undefined;
  readonly #seed: number;
  readonly #seedCount: number;
  #base:
    | { members: SharedBase<MemberEntry>; digest: Digest; leases: SharedBase<LeaseEntry>; claims: Map<number, string[]>; claims6: Map<string, string[]> }
    | undefined;

  constructor(o: SimClusterOptions) {
    this.#seed = o.seed;
    this.#seedCount = o.seeds ?? 3;
    this.rng = new Sfc32(o.seed, 0xc1);
    this.config = o.config ?? makeConfig('lan');
    this.lease = o.lease ?? LEASE;
    this.net = new SimNetwork({ seed: o.seed, loss: o.loss, latencyMs: o.latencyMs, jitterMs: o.jitterMs });
    this.pool = new SubnetPool(o.network ?? networkFor(o.nodes));
    this.pool6 = o.network6 !== undefined ? new SubnetPool6(o.network6) : undefined;
    this.label = o.label ?? 'sim';
    this.keyring = { keys: [new TextEncoder().encode('sim-key-0123456789abcdef')], mac: o.mac === 'hmac' ? hmacSha256 : cheapMac };
    if (o.converged !== false && o.nodes > 0) this.#buildBase(o.nodes);
    for (let i = 0; i < o.nodes; i++) {
      const slot = this.#newSlot();
      if (this.#base) this.#boot(slot, { base: true });
      else this.#boot(slot, {});
    }
  }

  static idOf(i: number): string {
    return `h${i}`;
  }

  #newSlot(): Slot {
    const index = this.slots.length;
    const addr = `sim:${index}`;
    this.net.add(addr);
    const slot: Slot = { index, id: SimCluster.idOf(index), addr, node: undefined, replica: undefined, up: false, saved: undefined };
    this.slots.push(slot);
    return slot;
  }

  #attrs(i: number): { publicIP: string; backend: number } {
    return { publicIP: `192.0.2.${(i % 254) + 1}`, backend: 0 };
  }

  /** One converged state shared by the first n nodes: all alive, each with a distinct random subnet. */
  #buildBase(n: number): void {
    const w = new ByteWriter(512);
    const digest = new Digest();
    const members: [string, MemberEntry][] = [];
    const leases: [string, LeaseEntry][] = [];
    const claims = new Map<number, string[]>();
    const claims6 = new Map<string, string[]>();
    const order = shuffle(
      this.rng,
      Array.from({ length: this.pool.size }, (_, i) => i),
    );
    const pool6 = this.pool6;
    const order6 = pool6
      ? shuffle(
          this.rng,
          Array.from({ length: pool6.size }, (_, i) => i),
        )
      : [];
    for (let i = 0; i < n; i++) {
      const id = SimCluster.idOf(i);
      const rec: MemberRecord = { id, addr: `sim:${i}`, incarnation: 0, state: ALIVE, from: '' };
      w.reset();
      encodeMember(w, rec);
      const mk = memberKeyHash(id);
      members.push([id, { rec, bytes: w.take(), keyHash: mk }]);
      digest.toggle(mk, memberContentHash(mk, rec));
      const subnet = this.pool.at(order[i]);
      const subnet6 = pool6?.at(order6[i]);
      const lease: LeaseRecord = {
        hostId: id,
        subnet,
        claimedAt: 0,
        version: 1,
        expiresAt: this.lease.leaseTtlMs,
        released: false,
        ...this.#attrs(i),
        ...(subnet6 !== undefined ? { ipv6Subnet: subnet6, ipv6ClaimedAt: 0 } : {}),
      };
      w.reset();
      encodeLease(w, lease);
      const lk = leaseKeyHash(id);
      leases.push([id, { rec: lease, bytes: w.take(), keyHash: lk }]);
      digest.toggle(lk, leaseContentHash(lk, lease));
      claims.set(subnet, [id]);
      if (subnet6 !== undefined) claims6.set(subnet6, [id]);
    }
    this.#base = { members: new SharedBase(members), digest, leases: new SharedBase(leases), claims, claims6 };
  }

  /** Starts a node in the slot: from the shared base, or empty and joining through seeds. */
  #boot(slot: Slot, o: { base?: boolean; incarnation?: number }): void {
    const net = this.net;
    const base = o.base ? this.#base : undefined;
    // Seeds the host can reach (its own side of a partition).
    const reachable = (s: Slot): boolean => !net.partitioned || net.group[s.index] === net.group[slot.index];
    // Everyone's configured seeds (the first few hosts), plus, for a join, a few live hosts it can reach.
    // A converged node knows them all, even those whose slot is built after its own.
    const configured = base
      ? Array.from({ length: Math.min(this.#seedCount, base.members.map.size) }, (_, i) => `sim:${i}`)
      : this.slots.slice(0, this.#seedCount).map((s) => s.addr);
    const seeds = base ? configured : [...new Set([...this.#randomLive(3, reachable).map((s) => s.addr), ...configured])];
    const node = new GossipNode(
      {
        id: slot.id,
        addr: slot.addr,
        config: this.config,
        clock: net.clock,
        transport: net.transport(slot.index),
        random: new Sfc32(this.#seed, slot.index * 7919 + net.now),
        keyring: this.keyring,
        label: this.label,
        seeds,
        onMember: (rec, prev) => this.onMember?.(slot, rec, prev),
      },
      { base: base ? { members: base.members, digest: base.digest } : undefined, incarnation: o.incarnation },
    );
    const replica = new LeaseReplica(
      {
        node,
        pool: this.pool,
        ...(this.pool6 ? { pool6: this.pool6 } : {}),
        config: this.lease,
        clock: net.clock,
        random: new Sfc32(this.#seed, slot.index * 104729 + 17 + net.now),
        onChanges: (changes) => this.onLeaseChanges?.(slot, changes),
      },
      base ? { records: base.leases, claims: base.claims, claims6: base.claims6 } : undefined,
    );
    slot.node = node;
    slot.replica = replica;
    slot.up = true;
    net.attach(slot.index, (from, data) => node.receive(from, data));
    if (slot.saved) replica.restore(slot.saved);
    node.start();
    if (base) {
      replica.adoptOwn();
    } else {
      node.whenJoined(() => {
        if (slot.node !== node || !slot.up) return;
        try {
          slot.saved = replica.acquire(this.#attrs(slot.index));
        } catch {
          // pool exhausted: the node runs without a lease
        }
      });
    }
  }

  /** Up to k distinct random running slots. */
  #randomLive(k: number, accept: (s: Slot) => boolean = () => true): Slot[] {
    const live = this.slots.filter((s) => s.up && accept(s));
    return shuffle(this.rng, live).slice(0, k);
  }

  live(): Slot[] {
    return this.slots.filter((s) => s.up);
  }

  /** A new host that joins through three random live seeds (on its side of a partition) and acquires a lease. */
  addNode(group = 0): Slot {
    const slot = this.#newSlot();
    this.net.group[slot.index] = group;
    this.#boot(slot, {});
    return slot;
  }

  /** The host stops without a word (its timers stop, datagrams to it are lost). */
  crash(i: number): void {
    const s = this.slots[i];
    if (!s.up) return;
    s.up = false;
    if (s.replica?.own) s.saved = s.replica.own;
    s.node?.stop();
    s.replica?.stop();
    this.net.attach(i, undefined);
  }

  /** Starts the host again; without `keepState` it has forgotten its lease and incarnation. */
  restart(i: number, keepState: boolean): void {
    const s = this.slots[i];
    if (s.up) this.crash(i);
    const incarnation = keepState ? s.node?.incarnation : undefined;
    if (!keepState) s.saved = undefined;
    this.#boot(s, { incarnation });
  }

  /**
   * A graceful leave: the departure and the lease release are announced, the release repeated for
   * `rounds` gossip rounds (as GossipStore.close does), then the host stops after `afterMs`.
   */
  leave(i: number, afterMs = 1000, rounds = LEAVE_ROUNDS): void {
    const s = this.slots[i];
    if (!s.up) return;
    s.replica?.leave(rounds);
    s.node?.leave();
    s.up = false;
    const node = s.node;
    this.net.clock.setTimer(afterMs, () => {
      if (s.node !== node) return;
      node?.stop();
      s.replica?.stop();
      this.net.attach(i, undefined);
    });
  }

  /** Splits the slots into groups (by `groupOf(index)`); datagrams between groups are lost. */
  partition(groupOf: (index: number) => number): void {
    for (let i = 0; i < this.slots.length; i++) this.net.group[i] = groupOf(i);
    this.net.partitioned = true;
  }

  heal(): void {
    this.net.partitioned = false;
  }

  run(ms: number): void {
    this.net.runFor(ms);
  }

  get now(): number {
    return this.net.now;
  }

  /** Sum of bytes sent by all nodes so far. */
  sentBytes(): number {
    let b = 0;
    for (const s of this.slots) b += s.node?.counters.sentBytes ?? 0;
    return b;
  }
}
