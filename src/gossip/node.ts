/**
 * A gossip node: SWIM membership with the Lifeguard refinements, piggybacked
 * broadcasts and digest-based anti-entropy. Pure protocol: it is driven by an
 * injected Clock, Transport and Random, so the same code runs in the seeded
 * simulator and over UDP.
 *
 * This file holds the public API, the lifecycle (start, leave, stop) and the
 * timers; the parts it wires together are:
 *   dispatch.ts          receive(): checks, body, records, then the message acts
 *   merge.ts             SWIM's merge rules and refutation
 *   probes.ts            probes, indirect probes, relays, raising suspicion
 *   suspicion-timers.ts  suspicions running out, and deaths
 *   sync.ts              anti-entropy by digest
 *   join.ts              the join through seeds, seed retries, pings to the dead
 *   member-table.ts, outbox.ts, node-core.ts   the table, sending, what all share
 *
 * Timers: probe (one member per protocol period), gossip (queued broadcasts
 * to a few members), sync (digests with one member), reconnect (one dead
 * member; with backoff, seeds out of reach), sweep (forget the long dead).
 *
 * Membership knows nothing about leases: another record kind (the lease
 * replica) plugs in as a RecordDelegate and uses broadcast() and the digest.
 */
import type { GossipConfig } from './config.js';
import type { GossipCounters } from './counters.js';
import type { RecordDelegate } from './delegate.js';
import type { Digest } from './digest.js';
import { Dispatcher } from './dispatch.js';
import { EnvelopeReader, EnvelopeWriter, type Keyring } from './envelope.js';
import { Join } from './join.js';
import type { LayeredMap } from './layered-map.js';
import type { ConvergedMembers, MemberEntry } from './member-table.js';
import { MergeRules } from './merge.js';
import { NodeCore } from './node-core.js';
import type { Random } from '../util/prng.js';
import { Prober } from './probes.js';
import { ALIVE, DEAD, LEFT, SUSPECT, type MemberRecord } from './records.js';
import type { Clock, LogFn, ProbeObserver, Transport } from './runtime.js';
import type { Awareness } from './suspicion.js';
import { SuspicionTimers } from './suspicion-timers.js';
import { Sync } from './sync.js';

export interface NodeOptions {
  id: string;
  addr: string;
  config: GossipConfig;
  clock: Clock;
  transport: Transport;
  random: Random;
  keyring: Keyring;
  label: string;
  /**
   * Addresses to join through, and to try again while members are dead, while no member is
   * live, or while a seed is not live (own address is skipped).
   */
  seeds?: string[];
  log?: LogFn;
  /** Called on every change of a member's record (for the store and for measurements). */
  onMember?: (rec: MemberRecord, prev: MemberRecord | undefined) => void;
}

/** What only the simulator sets. */
export interface SimNodeOptions {
  /** A converged member table and digest shared by all nodes; such a node does not join. */
  base?: ConvergedMembers;
  /** Starting incarnation (a node that kept its state across a restart). */
  incarnation?: number;
}

/** How often dead members and stale replay windows are swept, ms. */
const SWEEP_INTERVAL_MS = 10_000;
/** How long a silent sender's replay window is kept, ms. */
const REPLAY_IDLE_MS = 600_000;

export class GossipNode {
  readonly id: string;
  readonly addr: string;
  readonly config: GossipConfig;
  readonly counters: GossipCounters;
  readonly digest: Digest;
  readonly members: LayeredMap<MemberEntry>;
  readonly awareness: Awareness;

  readonly #core: NodeCore;
  readonly #probes: Prober;
  readonly #suspicions: SuspicionTimers;
  readonly #sync: Sync;
  readonly #join: Join;
  readonly #dispatch: Dispatcher;
  readonly #joinOnStart: boolean;
  #timers: unknown[] = [];

  constructor(o: NodeOptions, sim: SimNodeOptions = {}) {
    if (o.keyring.keys.length === 0) throw new Error('gossip keyring: needs at least one key');
    const epoch = o.clock.now();
    const core = new NodeCore({
      id: o.id,
      addr: o.addr,
      config: o.config,
      clock: o.clock,
      transport: o.transport,
      random: o.random,
      env: new EnvelopeWriter(o.config.maxDatagramBytes, o.label, o.id, epoch, o.keyring),
      seeds: [...new Set((o.seeds ?? []).filter((s) => s !== o.addr))],
      base: sim.base,
      log: o.log,
      onMember: o.onMember,
    });
    this.#core = core;
    this.id = o.id;
    this.addr = o.addr;
    this.config = o.config;
    this.counters = core.counters;
    this.digest = core.table.digest;
    this.members = core.table.members;
    this.awareness = core.awareness;
    this.#sync = new Sync(core);
    // Merge rules start suspicions, and a suspicion that runs out merges a death: the callback closes the loop.
    this.#suspicions = new SuspicionTimers(core, (rec) => merge.apply(rec, 'local'));
    const merge = new MergeRules(core, this.#suspicions, (addr) => this.#sync.trigger(addr));
    this.#probes = new Prober(core, merge);
    this.#join = new Join(core, this.#sync);
    this.#dispatch = new Dispatcher(
      { core, merge, probes: this.#probes, sync: this.#sync, join: this.#join },
      new EnvelopeReader(o.config.maxDatagramBytes, o.label, o.keyring),
    );
    this.#joinOnStart = sim.base === undefined;
    const prev = core.table.get(o.id);
    const incarnation = Math.max(sim.incarnation ?? 0, prev ? prev.rec.incarnation : 0);
    if (!prev || prev.rec.incarnation !== incarnation || prev.rec.state !== ALIVE || prev.rec.addr !== o.addr) {
      core.table.set({ id: o.id, addr: o.addr, incarnation, state: ALIVE, from: '' }, true);
    }
  }

  /** Reports this node's own probes to `observer` (undefined: to nobody). */
  observeProbes(observer: ProbeObserver | undefined): void {
    this.#core.probeObserver = observer;
  }

  /** Plugs in another record kind (the lease replica). */
  attach(delegate: RecordDelegate): void {
    this.#core.delegate = delegate;
  }

  now(): number {
    return this.#core.now();
  }

  get running(): boolean {
    return this.#core.running;
  }

  /** Alive and suspect members, self included: the N of the log N formulas. */
  get liveCount(): number {
    return this.#core.table.liveCount;
  }

  get queueLength(): number {
    return this.#core.out.queueLength;
  }

  get incarnation(): number {
    return this.members.get(this.id)!.rec.incarnation;
  }

  member(id: string): MemberRecord | undefined {
    return this.members.get(id)?.rec;
  }

  /** Every known member's record, self included. */
  memberList(): MemberRecord[] {
    const out: MemberRecord[] = [];
    this.members.forEach((e) => out.push(e.rec));
    return out;
  }

  /**
   * Queues a delegate record for piggybacked dissemination, ahead of membership
   * churn; a newer one with the same key replaces it.
   */
  broadcast(key: string, bytes: Uint8Array): void {
    this.#core.out.priority.enqueue(key, bytes);
  }

  /** Sends our top-level digest to `addr`; the answer starts the exchange. */
  startSync(addr: string, join: boolean): void {
    this.#sync.start(addr, join);
  }

  /** One datagram from `from` (the transport's address of the sender). */
  receive(from: string, data: Uint8Array): void {
    this.#dispatch.receive(from, data);
  }

  // ── lifecycle ─────────────────────────────────────────────────────────

  /** Starts the timers and, with seeds, the join. */
  start(): void {
    const core = this.#core;
    if (core.running) return;
    core.running = true;
    const c = this.config;
    const rng = core.rng;
    // Spread the first ticks so simulated nodes do not all fire together.
    this.#timers.push(core.clock.setTimer(rng.next() * c.probeIntervalMs, () => this.#probeTick()));
    this.#timers.push(core.clock.setTimer(rng.next() * c.gossipIntervalMs, () => this.#gossipTick()));
    this.#timers.push(core.clock.setTimer(rng.next() * c.syncIntervalMs, () => this.#syncTick()));
    this.#timers.push(core.clock.setTimer(rng.next() * c.reconnectIntervalMs, () => this.#reconnectTick()));
    this.#timers.push(core.clock.setTimer(SWEEP_INTERVAL_MS, () => this.#sweepTick()));
    this.#join.begin(this.#joinOnStart);
  }

  /** Resolves once a sync with a seed ended with agreeing digests (true), or the join timed out (false). */
  joined(): Promise<boolean> {
    return new Promise((resolve) => this.whenJoined(resolve));
  }

  /** Calls `fn` (synchronously) when the join ends, or now if it has; the simulator cannot wait on promises. */
  whenJoined(fn: (synced: boolean) => void): void {
    this.#join.whenJoined(fn);
  }

  get isJoined(): boolean {
    return this.#join.done;
  }

  /** Announces a graceful leave: the departure goes to a few members at once and into the queue. */
  leave(): void {
    const core = this.#core;
    if (!core.running || core.leaving) return;
    core.leaving = true;
    const me = this.members.get(this.id)!.rec;
    core.table.set({ id: this.id, addr: this.addr, incarnation: me.incarnation, state: LEFT, from: this.id }, true);
    const targets = core.table.pickRandom(this.config.gossipNodes * 2, (e) => e.rec.state <= SUSPECT);
    for (const t of targets) core.out.gossip(t.rec.addr);
  }

  /** Stops every timer; later datagrams are ignored. */
  stop(): void {
    const core = this.#core;
    core.running = false;
    for (const t of this.#timers) core.clock.clearTimer(t);
    this.#timers = [];
    this.#probes.stop();
    this.#suspicions.stop();
    this.#join.stop();
  }

  // ── timers ────────────────────────────────────────────────────────────

  #probeTick(): void {
    const core = this.#core;
    if (!core.running) return;
    const interval = core.awareness.scale(this.config.probeIntervalMs);
    this.#probes.probeNext();
    this.#timers[0] = core.clock.setTimer(interval, () => this.#probeTick());
  }

  #gossipTick(): void {
    const core = this.#core;
    if (!core.running) return;
    this.#timers[1] = core.clock.setTimer(this.config.gossipIntervalMs, () => this.#gossipTick());
    if (core.out.queueLength === 0) return;
    const now = core.now();
    const toDead = this.config.gossipToTheDeadMs;
    const deadAt = core.table.deadAt;
    const targets = core.table.pickRandom(
      this.config.gossipNodes,
      (e) => e.rec.state <= SUSPECT || (e.rec.state === DEAD && now - (deadAt.get(e.rec.id) ?? 0) < toDead),
    );
    for (const t of targets) {
      if (core.out.queueLength === 0) break;
      core.out.gossip(t.rec.addr);
    }
  }

  #syncTick(): void {
    const core = this.#core;
    if (!core.running) return;
    this.#timers[2] = core.clock.setTimer(this.config.syncIntervalMs, () => this.#syncTick());
    if (this.#join.joining) return;
    const [peer] = core.table.pickRandom(1, (e) => e.rec.state === ALIVE);
    if (peer) this.#sync.start(peer.rec.addr, false);
  }

  #reconnectTick(): void {
    const core = this.#core;
    if (!core.running) return;
    this.#timers[3] = core.clock.setTimer(this.config.reconnectIntervalMs, () => this.#reconnectTick());
    this.#join.reconnect();
  }

  #sweepTick(): void {
    const core = this.#core;
    if (!core.running) return;
    this.#timers[4] = core.clock.setTimer(SWEEP_INTERVAL_MS, () => this.#sweepTick());
    const now = core.now();
    core.table.sweep(now, this.config.deadRetentionMs);
    this.#dispatch.sweep(now - REPLAY_IDLE_MS);
  }
}
