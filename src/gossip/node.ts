/**
 * A gossip node: SWIM membership with the Lifeguard refinements, piggybacked
 * broadcasts and digest-based anti-entropy. Pure protocol: it is driven by an
 * injected Clock, Transport and Random, so the same code runs in the seeded
 * simulator and over UDP.
 *
 *   1. receive(): size, header, label, MAC, replay window → drop reason or body
 *   2. piggybacked records merge into the member table (or go to the delegate)
 *   3. the message acts: ping → ack, ping-req → relay, ack/nack → probe, sync legs
 *   4. timers: probe (one member per protocol period), gossip (queued
 *      broadcasts to a few members), sync (digests with one member),
 *      reconnect (one dead member; with backoff, seeds out of reach),
 *      sweep (forget the long dead)
 *
 * Membership knows nothing about leases: another record kind (the lease
 * replica) plugs in as a RecordDelegate and uses broadcast() and the digest.
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { BroadcastQueue } from './broadcast-queue.js';
import { retransmitLimit, suspicionTimeout, type GossipConfig } from './config.js';
import { newCounters, type DropReason, type GossipCounters } from './counters.js';
import { bucketOf, Digest, SUBS, TOPS } from './digest.js';
import { EnvelopeReader, EnvelopeWriter, type Keyring } from './envelope.js';
import { LayeredMap, type SharedBase } from './layered-map.js';
import { MSG, readTops, SUB_ENTRY_BYTES, SYNC_JOIN, writeTops } from './messages.js';
import type { Random } from './prng.js';
import {
  ALIVE, DEAD, decodeMember, encodeMember, LEFT, memberContentHash, memberKeyHash, SUSPECT, TAG_MEMBER,
  type MemberRecord,
} from './records.js';
import { ReplayGuard } from './replay.js';
import type { Clock, LogFn, Transport } from './runtime.js';
import { Awareness, Suspicion } from './suspicion.js';

/** How a record arrived: 'join' merges are not rebroadcast (a joiner learns everything at once). */
export type Via = 'gossip' | 'sync' | 'join' | 'local';

/** Another record kind riding on the node (the lease replica). */
export interface RecordDelegate {
  readonly tag: number;
  /** Decodes one record (after its tag byte) and merges it; false when malformed. */
  merge(r: ByteReader, via: Via): boolean;
  /** Calls emit with the encoded record of every record whose digest bucket passes `wanted`. */
  recordsIn(wanted: (bucket: number) => boolean, emit: (bytes: Uint8Array) => void): void;
  /**
   * A 32-bit fingerprint of all the delegate's records. Pings and acks carry
   * it; a peer whose fingerprint differs gets a sync at once, so a table that
   * fell behind (or a healed partition) does not wait for the sync timer.
   */
  summary(): number;
}

/** A member record with its encoded bytes and key hash (shared by tables that hold it). */
export interface MemberEntry {
  readonly rec: MemberRecord;
  readonly bytes: Uint8Array;
  readonly keyHash: number;
}

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
  /** Join through the seeds on start (default true; the simulator's converged nodes skip it). */
  joinOnStart?: boolean;
  /** Boot time for replay protection; default clock.now(). */
  epoch?: number;
  /** Simulator only: a converged member table and digest shared by all nodes. */
  base?: { members: SharedBase<MemberEntry>; digest: Digest };
  /** Starting incarnation (a node that kept state across a restart). */
  incarnation?: number;
  log?: LogFn;
  /** Called on every change of a member's record (for the store and for measurements). */
  onMember?: (rec: MemberRecord, prev: MemberRecord | undefined) => void;
}

interface Probe {
  own: boolean;
  target: string;
  acked: boolean;
  nacks: number;
  expectedNacks: number;
  timers: unknown[];
  /** Relay: who asked, and their sequence number. */
  relayTo: string;
  relaySeq: number;
}

/** Most datagrams one sync answer may send; the next round carries the rest. */
const MAX_SYNC_DATAGRAMS = 256;
/** How often dead members and stale replay windows are swept, ms. */
const SWEEP_INTERVAL_MS = 10_000;
/** How long a silent sender's replay window is kept, ms. */
const REPLAY_IDLE_MS = 600_000;

export class GossipNode {
  readonly id: string;
  readonly addr: string;
  readonly config: GossipConfig;
  readonly counters: GossipCounters = newCounters();
  readonly digest: Digest;
  readonly members: LayeredMap<MemberEntry>;
  readonly awareness: Awareness;

  readonly #clock: Clock;
  readonly #transport: Transport;
  readonly #rng: Random;
  readonly #log: LogFn | undefined;
  readonly #onMember: NodeOptions['onMember'];
  readonly #env: EnvelopeWriter;
  readonly #reader: EnvelopeReader;
  readonly #scratch = new ByteWriter(512);
  readonly #queue = new BroadcastQueue();
  /** The delegate's broadcasts (leases) go first: they are rare, and the data path waits for them. */
  readonly #priority = new BroadcastQueue();
  readonly #replay = new ReplayGuard();
  readonly #probes = new Map<number, Probe>();
  readonly #suspicions = new Map<string, { s: Suspicion; inc: number; timer: unknown }>();
  /** When each dead or departed member was declared so (own changes only). */
  readonly #deadAt = new Map<string, number>();
  readonly #seeds: string[];
  /** The member last seen at each seed address (so a seed's state is a lookup, not a scan). */
  readonly #seedIds = new Map<string, string>();
  readonly #joinOnStart: boolean;
  #delegate: RecordDelegate | undefined;
  #liveCount: number;
  #probeSeq = 0;
  #timers: unknown[] = [];
  #running = false;
  #leaving = false;
  #lastTriggeredSync = -Infinity;
  /** Seed retries: the next gap (doubling up to seedRetryMaxMs) and when the next try is due. */
  #seedGap: number;
  #seedRetryAt = 0;
  /** Address of the datagram being handled (for direct answers to stale news about us). */
  #from = '';
  // Probe order: a pseudo-random permutation of the member slots per round.
  #permLen = 0;
  #permI = 0;
  #permOffset = 0;
  #permStride = 1;
  // Joining
  #joining = false;
  #joinStartedAt = 0;
  #joinAttempt = 0;
  #joinWaiters: ((synced: boolean) => void)[] = [];
  #joinResult: boolean | undefined;

  constructor(o: NodeOptions) {
    this.id = o.id;
    this.addr = o.addr;
    this.config = o.config;
    this.#clock = o.clock;
    this.#transport = o.transport;
    this.#rng = o.random;
    this.#log = o.log;
    this.#onMember = o.onMember;
    if (o.keyring.keys.length === 0) throw new Error('gossip keyring: needs at least one key');
    const epoch = o.epoch ?? o.clock.now();
    this.#env = new EnvelopeWriter(o.config.maxDatagramBytes, o.label, o.id, epoch, o.keyring);
    this.#reader = new EnvelopeReader(o.config.maxDatagramBytes, o.label, o.keyring);
    this.members = new LayeredMap(o.base?.members);
    this.digest = new Digest(o.base?.digest);
    this.#liveCount = o.base?.members.map.size ?? 0;
    this.awareness = new Awareness(o.config.awarenessMaxMultiplier);
    this.#seeds = [...new Set((o.seeds ?? []).filter((s) => s !== o.addr))];
    if (o.base && this.#seeds.length > 0) {
      const byAddr = addrIndex(o.base.members);
      for (const s of this.#seeds) {
        const id = byAddr.get(s);
        if (id !== undefined) this.#seedIds.set(s, id);
      }
    }
    this.#joinOnStart = o.joinOnStart ?? true;
    this.#seedGap = o.config.reconnectIntervalMs;
    const prev = this.members.get(o.id);
    const incarnation = Math.max(o.incarnation ?? 0, prev ? prev.rec.incarnation : 0);
    if (!prev || prev.rec.incarnation !== incarnation || prev.rec.state !== ALIVE || prev.rec.addr !== o.addr) {
      this.#set({ id: o.id, addr: o.addr, incarnation, state: ALIVE, from: '' }, true);
    }
  }

  /** Plugs in another record kind (the lease replica). */
  attach(delegate: RecordDelegate): void {
    this.#delegate = delegate;
  }

  now(): number {
    return this.#clock.now();
  }

  get running(): boolean {
    return this.#running;
  }

  /** Alive and suspect members, self included: the N of the log N formulas. */
  get liveCount(): number {
    return this.#liveCount;
  }

  get queueLength(): number {
    return this.#queue.size + this.#priority.size;
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
    this.#priority.enqueue(key, bytes);
  }

  /** Starts the timers and, with seeds, the join. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const c = this.config;
    // Spread the first ticks so simulated nodes do not all fire together.
    this.#timers.push(this.#clock.setTimer(this.#rng.next() * c.probeIntervalMs, () => this.#probeTick()));
    this.#timers.push(this.#clock.setTimer(this.#rng.next() * c.gossipIntervalMs, () => this.#gossipTick()));
    this.#timers.push(this.#clock.setTimer(this.#rng.next() * c.syncIntervalMs, () => this.#syncTick()));
    this.#timers.push(this.#clock.setTimer(this.#rng.next() * c.reconnectIntervalMs, () => this.#reconnectTick()));
    this.#timers.push(this.#clock.setTimer(SWEEP_INTERVAL_MS, () => this.#sweepTick()));
    if (this.#seeds.length > 0 && this.#joinOnStart) {
      this.#joining = true;
      this.#joinStartedAt = this.now();
      this.#joinStep();
    } else {
      this.#finishJoin(true);
    }
  }

  /** Resolves once a sync with a seed ended with agreeing digests (true), or the join timed out (false). */
  joined(): Promise<boolean> {
    return new Promise((resolve) => this.whenJoined(resolve));
  }

  /** Calls `fn` (synchronously) when the join ends, or now if it has; the simulator cannot wait on promises. */
  whenJoined(fn: (synced: boolean) => void): void {
    if (this.#joinResult !== undefined) fn(this.#joinResult);
    else this.#joinWaiters.push(fn);
  }

  get isJoined(): boolean {
    return this.#joinResult !== undefined;
  }

  /** Announces a graceful leave: the departure goes to a few members at once and into the queue. */
  leave(): void {
    if (!this.#running || this.#leaving) return;
    this.#leaving = true;
    const me = this.members.get(this.id)!.rec;
    this.#set({ id: this.id, addr: this.addr, incarnation: me.incarnation, state: LEFT, from: this.id }, true);
    const targets = this.#pickRandom(this.config.gossipNodes * 2, (e) => e.rec.state <= SUSPECT);
    for (const t of targets) {
      this.#env.begin(MSG.gossip);
      this.#sendBuilt(t.rec.addr, true);
    }
  }

  /** Stops every timer; later datagrams are ignored. */
  stop(): void {
    this.#running = false;
    for (const t of this.#timers) this.#clock.clearTimer(t);
    this.#timers = [];
    for (const p of this.#probes.values()) for (const t of p.timers) this.#clock.clearTimer(t);
    this.#probes.clear();
    for (const s of this.#suspicions.values()) this.#clock.clearTimer(s.timer);
    this.#suspicions.clear();
    this.#finishJoin(false);
  }

  // ── 1–3: receiving ────────────────────────────────────────────────────

  /** One datagram from `from` (the transport's address of the sender). */
  receive(from: string, data: Uint8Array): void {
    if (!this.#running) return;
    const c = this.counters;
    c.receivedDatagrams++;
    c.receivedBytes += data.length;
    const r = this.#reader.open(data);
    if (typeof r === 'string') return this.#drop(r);
    const env = this.#reader.env;
    if (env.senderId === this.id) return; // our own datagram (a seed list naming ourselves)
    if (!this.#replay.accept(env.senderId, env.epoch, env.seq, this.now())) return this.#drop('replay');
    const type = env.type;
    // Bodies
    let seq = 0;
    let target = '';
    let targetAddr = '';
    let flags = 0;
    let summary = -1;
    let tops: Uint32Array | undefined;
    let subs: { top: number; hashes: Uint32Array }[] | undefined;
    let wants: Uint32Array | undefined;
    switch (type) {
      case MSG.ping:
        seq = r.u32();
        target = r.str();
        summary = r.u32();
        break;
      case MSG.pingReq:
        seq = r.u32();
        target = r.str();
        targetAddr = r.str();
        break;
      case MSG.ack:
        seq = r.u32();
        summary = r.u32();
        break;
      case MSG.nack:
        seq = r.u32();
        break;
      case MSG.gossip:
      case MSG.records:
        break;
      case MSG.syncTop:
        tops = new Uint32Array(TOPS);
        flags = readTops(r, tops);
        break;
      case MSG.syncSub: {
        const n = r.u8();
        if (n > TOPS) r.bad = true;
        subs = [];
        for (let i = 0; i < n && !r.bad; i++) {
          const top = r.u8();
          if (top >= TOPS) r.bad = true;
          const hashes = new Uint32Array(SUBS);
          for (let j = 0; j < SUBS; j++) hashes[j] = r.u32();
          subs.push({ top, hashes });
        }
        break;
      }
      case MSG.syncWant: {
        const n = r.u8();
        if (n > TOPS) r.bad = true;
        wants = new Uint32Array(TOPS);
        for (let i = 0; i < n && !r.bad; i++) {
          const top = r.u8();
          const mask = r.u32();
          if (top >= TOPS) r.bad = true;
          else wants[top] |= mask;
        }
        break;
      }
      case MSG.syncDone:
        flags = r.u8();
        summary = r.u32();
        break;
      default:
        return this.#drop('unknownType');
    }
    if (r.bad) return this.#drop('malformed');
    // Records
    this.#from = from;
    const via: Via = type === MSG.records || type === MSG.syncTop ? (this.#joining ? 'join' : 'sync') : 'gossip';
    const count = r.u8();
    for (let i = 0; i < count && !r.bad; i++) {
      const tag = r.u8();
      if (tag === TAG_MEMBER) {
        const rec = decodeMember(r);
        if (!rec) r.bad = true;
        else this.#apply(rec, via);
      } else if (this.#delegate && tag === this.#delegate.tag) {
        if (!this.#delegate.merge(r, via)) r.bad = true;
      } else {
        r.bad = true;
      }
    }
    if (r.bad || r.remaining !== 0) return this.#drop('malformed');
    // A word from a member we hold dead (or do not know): a partition may have healed.
    const sender = this.members.get(env.senderId);
    if (sender === undefined || sender.rec.state >= DEAD) this.#triggerSync(from);
    else if (summary >= 0 && type !== MSG.syncDone && this.#delegate && summary !== this.#delegate.summary() && this.#joinResult !== undefined) this.#triggerSync(from);
    // Act
    switch (type) {
      case MSG.ping:
        // An empty target is a reconnect ping to a seed address: whoever is there answers.
        if (target !== this.id && target !== '') return this.#drop('wrongTarget');
        this.#env.begin(MSG.ack).u32(seq);
        this.#env.w.u32(this.#summary());
        this.#sendBuilt(from, true);
        break;
      case MSG.pingReq:
        this.#relayProbe(from, seq, target, targetAddr);
        break;
      case MSG.ack:
        this.#onAck(seq);
        break;
      case MSG.nack: {
        const p = this.#probes.get(seq);
        if (p && p.own) p.nacks++;
        break;
      }
      case MSG.syncTop:
        this.#onSyncTop(from, flags, tops!);
        break;
      case MSG.syncSub:
        this.#onSyncSub(from, subs!);
        break;
      case MSG.syncWant:
        this.#sendRecords(from, wants!);
        break;
      case MSG.syncDone:
        if (this.#joining && ((flags & 1) === 1 || (this.#joinAttempt > 1 && summary === this.#summary()))) this.#finishJoin(true);
        break;
    }
  }

  #drop(reason: DropReason): void {
    this.counters.dropped[reason]++;
  }

  // ── member table ──────────────────────────────────────────────────────

  #entry(rec: MemberRecord): MemberEntry {
    const w = this.#scratch;
    w.reset();
    encodeMember(w, rec);
    return { rec, bytes: w.take(), keyHash: memberKeyHash(rec.id) };
  }

  /** Stores a record, keeps digest and counts current, broadcasts it unless told not to. */
  #set(rec: MemberRecord, broadcast: boolean): void {
    const prev = this.members.get(rec.id);
    const e = this.#entry(rec);
    if (prev) this.digest.toggle(prev.keyHash, memberContentHash(prev.keyHash, prev.rec));
    this.digest.toggle(e.keyHash, memberContentHash(e.keyHash, rec));
    this.members.set(rec.id, e);
    const wasLive = prev !== undefined && prev.rec.state <= SUSPECT;
    const isLive = rec.state <= SUSPECT;
    this.#liveCount += (isLive ? 1 : 0) - (wasLive ? 1 : 0);
    if (rec.state >= DEAD) this.#deadAt.set(rec.id, this.now());
    else this.#deadAt.delete(rec.id);
    if (this.#seeds.length > 0 && this.#seeds.includes(rec.addr)) this.#seedIds.set(rec.addr, rec.id);
    if (broadcast) this.#queue.enqueue(rec.id, e.bytes);
    this.#onMember?.(rec, prev?.rec);
  }

  /** SWIM's merge rules (memberlist's aliveNode / suspectNode / deadNode). */
  #apply(rec: MemberRecord, via: Via): void {
    const rebroadcast = via !== 'join';
    if (rec.id === this.id) return this.#applySelf(rec);
    const cur = this.members.get(rec.id)?.rec;
    switch (rec.state) {
      case ALIVE: {
        if (cur && rec.incarnation <= cur.incarnation) return;
        this.#clearSuspicion(rec.id);
        this.#set(rec, rebroadcast);
        // It came back (a restart, or a healed partition): compare state with it soon.
        if (cur && cur.state !== ALIVE && via !== 'join') this.#triggerSync(rec.addr);
        return;
      }
      case SUSPECT: {
        if (!cur || rec.incarnation < cur.incarnation || cur.state >= DEAD) return;
        if (cur.state === SUSPECT) {
          const s = this.#suspicions.get(rec.id);
          if (s && s.s.confirm(rec.from)) {
            // A new independent confirmation shortens the timeout (Lifeguard).
            this.#clock.clearTimer(s.timer);
            const left = Math.max(0, s.s.startedAt + s.s.timeoutMs() - this.now());
            s.timer = this.#clock.setTimer(left, () => this.#suspicionExpired(rec.id, s.inc));
            if (rebroadcast) this.#queue.enqueue(rec.id, this.#entry(rec).bytes);
          }
          return;
        }
        this.#set({ ...rec, addr: cur.addr }, rebroadcast);
        this.#startSuspicion(rec.id, rec.incarnation, rec.from);
        return;
      }
      default: {
        // DEAD or LEFT
        if (!cur || rec.incarnation < cur.incarnation || cur.state >= DEAD) return;
        this.#clearSuspicion(rec.id);
        this.#set({ ...rec, addr: cur.addr }, rebroadcast);
      }
    }
  }

  /** Someone speaks about us: refute suspicion, death, or an incarnation from before a restart. */
  #applySelf(rec: MemberRecord): void {
    const me = this.members.get(this.id)!.rec;
    if (this.#leaving) return;
    const stale = rec.state === ALIVE ? rec.incarnation <= me.incarnation : rec.incarnation < me.incarnation;
    if (stale) {
      // The sender accuses an incarnation we already refuted: it missed the refutation, so tell it directly.
      if (rec.state !== ALIVE && this.#from !== '') this.#sendRecord(this.#from, this.members.get(this.id)!.bytes);
      return;
    }
    this.counters.refutations++;
    if (rec.state !== ALIVE) this.awareness.apply(1);
    this.#set({ id: this.id, addr: this.addr, incarnation: Math.max(rec.incarnation, me.incarnation) + 1, state: ALIVE, from: '' }, true);
    if (rec.state !== ALIVE && this.#from !== '') this.#sendRecord(this.#from, this.members.get(this.id)!.bytes);
  }

  #startSuspicion(id: string, inc: number, from: string): void {
    const c = this.config;
    const n = this.#liveCount;
    let k = c.suspicionMult - 2;
    if (n - 2 < k) k = 0;
    const min = suspicionTimeout(c.suspicionMult, n, c.probeIntervalMs);
    const s = new Suspicion(k, min, c.suspicionMaxTimeoutMult * min, this.now(), from);
    const timer = this.#clock.setTimer(s.timeoutMs(), () => this.#suspicionExpired(id, inc));
    this.#suspicions.set(id, { s, inc, timer });
  }

  #clearSuspicion(id: string): void {
    const s = this.#suspicions.get(id);
    if (s) {
      this.#clock.clearTimer(s.timer);
      this.#suspicions.delete(id);
    }
  }

  /**
   * The suspicion ran out. Before declaring death, put the accusation to the
   * suspect itself (twice, against loss): if it refuted long ago and we missed
   * it, it answers with its current record within a round trip.
   */
  #suspicionExpired(id: string, inc: number): void {
    this.#suspicions.delete(id);
    const e = this.members.get(id);
    if (!this.#running || !e || e.rec.state !== SUSPECT || e.rec.incarnation !== inc) return;
    this.#sendRecord(e.rec.addr, e.bytes);
    this.#sendRecord(e.rec.addr, e.bytes);
    const timer = this.#clock.setTimer(this.config.probeTimeoutMs, () => this.#declareDead(id, inc));
    this.#suspicions.set(id, { s: new Suspicion(0, 0, 0, this.now(), this.id), inc, timer });
  }

  #declareDead(id: string, inc: number): void {
    this.#suspicions.delete(id);
    const e = this.members.get(id);
    if (!this.#running || !e || e.rec.state !== SUSPECT || e.rec.incarnation !== inc) return;
    this.#log?.('info', 'member declared dead', { member: id, incarnation: inc });
    this.#apply({ id, addr: e.rec.addr, incarnation: inc, state: DEAD, from: this.id }, 'local');
  }

  // ── 4: probing ────────────────────────────────────────────────────────

  #probeTick(): void {
    if (!this.#running) return;
    const interval = this.awareness.scale(this.config.probeIntervalMs);
    const target = this.#nextProbeTarget();
    if (target) this.#probe(target.rec);
    this.#timers[0] = this.#clock.setTimer(interval, () => this.#probeTick());
  }

  #nextProbeTarget(): MemberEntry | undefined {
    const slots = this.members.slots;
    for (let tries = 0; tries <= slots; tries++) {
      if (this.#permI >= this.#permLen) this.#newProbeRound();
      if (this.#permLen === 0) return undefined;
      const key = this.members.keyAt((this.#permOffset + this.#permI * this.#permStride) % this.#permLen);
      this.#permI++;
      if (key === this.id) continue;
      const e = this.members.get(key);
      if (e && e.rec.state <= SUSPECT) return e;
    }
    return undefined;
  }

  /** A new permutation of the slots: random offset, random stride coprime to the length. */
  #newProbeRound(): void {
    const n = this.members.slots;
    this.#permLen = n;
    this.#permI = 0;
    this.#permOffset = n > 0 ? this.#rng.int(n) : 0;
    let s = 1;
    if (n > 2) {
      do s = 1 + this.#rng.int(n - 1);
      while (gcd(s, n) !== 1);
    }
    this.#permStride = s;
  }

  #newProbe(own: boolean, target: string): [number, Probe] {
    this.#probeSeq = (this.#probeSeq + 1) >>> 0;
    const p: Probe = { own, target, acked: false, nacks: 0, expectedNacks: 0, timers: [], relayTo: '', relaySeq: 0 };
    this.#probes.set(this.#probeSeq, p);
    return [this.#probeSeq, p];
  }

  #probe(target: MemberRecord): void {
    const c = this.config;
    this.counters.probes++;
    const [seq, p] = this.#newProbe(true, target.id);
    this.#ping(target.addr, seq, target.id);
    // No direct ack in time: ask k others to probe it (they nack if they get nothing either),
    // and ping it once more ourselves: memberlist's TCP fallback, over the one transport we have.
    p.timers.push(this.#clock.setTimer(c.probeTimeoutMs, () => {
      if (p.acked || !this.#running) return;
      this.#ping(target.addr, seq, target.id);
      const helpers = this.#pickRandom(c.indirectChecks, (e) => e.rec.state === ALIVE && e.rec.id !== target.id);
      for (const h of helpers) {
        this.#env.begin(MSG.pingReq).u32(seq);
        this.#env.w.str(target.id);
        this.#env.w.str(target.addr);
        this.#sendBuilt(h.rec.addr, true);
      }
      p.expectedNacks = helpers.length;
    }));
    // End of the protocol period (stretched when we are unhealthy): suspect it.
    p.timers.push(this.#clock.setTimer(this.awareness.scale(c.probeIntervalMs) - 1, () => {
      this.#probes.delete(seq);
      if (p.acked || !this.#running) return;
      this.counters.probesFailed++;
      // Missing nacks mean our own link may be the problem (Lifeguard).
      this.awareness.apply(p.expectedNacks > 0 ? p.expectedNacks - p.nacks : 1);
      const e = this.members.get(target.id);
      if (!e || e.rec.state > SUSPECT || e.rec.incarnation !== target.incarnation) return;
      this.counters.suspicionsRaised++;
      const rec: MemberRecord = { id: target.id, addr: target.addr, incarnation: target.incarnation, state: SUSPECT, from: this.id };
      this.#apply(rec, 'local');
      // Tell the suspect directly too: the sooner it hears, the sooner it refutes.
      this.#sendRecord(target.addr, this.members.get(target.id)!.bytes);
    }));
  }

  #relayProbe(requester: string, seq: number, target: string, targetAddr: string): void {
    const [mySeq, p] = this.#newProbe(false, target);
    p.relayTo = requester;
    p.relaySeq = seq;
    this.#ping(targetAddr, mySeq, target);
    p.timers.push(this.#clock.setTimer(this.config.probeTimeoutMs, () => {
      if (p.acked || !this.#running) return;
      this.#env.begin(MSG.nack).u32(seq);
      this.#sendBuilt(requester, true);
    }));
    p.timers.push(this.#clock.setTimer(this.config.probeIntervalMs, () => this.#probes.delete(mySeq)));
  }

  #onAck(seq: number): void {
    const p = this.#probes.get(seq);
    if (!p || p.acked) return;
    p.acked = true;
    if (p.own) {
      this.awareness.apply(-1);
      for (const t of p.timers) this.#clock.clearTimer(t);
      this.#probes.delete(seq);
    } else {
      this.#env.begin(MSG.ack).u32(p.relaySeq);
      this.#env.w.u32(this.#summary());
      this.#sendBuilt(p.relayTo, true);
    }
  }

  // ── 4: gossip, sync, reconnect, sweep ─────────────────────────────────

  #limit(): number {
    return retransmitLimit(this.config.retransmitMult, this.#liveCount);
  }

  #gossipTick(): void {
    if (!this.#running) return;
    this.#timers[1] = this.#clock.setTimer(this.config.gossipIntervalMs, () => this.#gossipTick());
    if (this.queueLength === 0) return;
    const now = this.now();
    const toDead = this.config.gossipToTheDeadMs;
    const targets = this.#pickRandom(this.config.gossipNodes, (e) =>
      e.rec.state <= SUSPECT || (e.rec.state === DEAD && now - (this.#deadAt.get(e.rec.id) ?? 0) < toDead));
    for (const t of targets) {
      if (this.queueLength === 0) break;
      this.#env.begin(MSG.gossip);
      this.#sendBuilt(t.rec.addr, true);
    }
  }

  #syncTick(): void {
    if (!this.#running) return;
    this.#timers[2] = this.#clock.setTimer(this.config.syncIntervalMs, () => this.#syncTick());
    if (this.#joining) return;
    const [peer] = this.#pickRandom(1, (e) => e.rec.state === ALIVE);
    if (peer) this.startSync(peer.rec.addr, false);
  }

  /**
   * While some member is dead, pings one of them and one seed address:
   * an answer from a node we hold dead (or do not know) triggers a sync, which
   * is how the two sides of a healed partition find each other, even when
   * every member they had in common has gone. Seeds are also retried on their
   * own schedule (#retrySeeds), for nodes that hold no one dead.
   */
  #reconnectTick(): void {
    if (!this.#running) return;
    this.#timers[3] = this.#clock.setTimer(this.config.reconnectIntervalMs, () => this.#reconnectTick());
    this.#retrySeeds();
    let pick: string | undefined;
    let seen = 0;
    for (const [id] of this.#deadAt) {
      const e = this.members.get(id);
      if (!e || e.rec.state !== DEAD) continue;
      // Reservoir sampling: uniform without building an array.
      if (this.#rng.int(++seen) === 0) pick = id;
    }
    if (pick === undefined) return;
    const e = this.members.get(pick)!;
    this.#ping(e.rec.addr, 0, e.rec.id);
    if (this.#seeds.length > 0) {
      const seed = this.#seeds[this.#rng.int(this.#seeds.length)];
      if (seed !== e.rec.addr) this.#ping(seed, 0, '');
    }
  }

  /**
   * A node that knows no live member but itself, or has a seed that is not
   * live, pings such a seed: its seeds were unreachable when it booted (the
   * join timed out, and nobody knows it to ping it), or it lost every member,
   * or a seed stayed away past deadRetentionMs and both sides forgot each
   * other, or a seed left and came back (a graceful restart) knowing nobody. An answering seed syncs with it, and the leases of both
   * sides meet. The gap doubles after each try (with jitter, so nodes that
   * booted together spread out) up to seedRetryMaxMs, for as long as the node
   * runs; it starts again from reconnectIntervalMs once every seed is live.
   */
  #retrySeeds(): void {
    const candidates = this.#joining ? [] : this.#liveCount <= 1 ? this.#seeds : this.#seeds.filter((s) => !this.#seedAnswers(s));
    if (candidates.length === 0) {
      this.#seedGap = this.config.reconnectIntervalMs;
      this.#seedRetryAt = 0;
      return;
    }
    const now = this.now();
    if (now < this.#seedRetryAt) return;
    // Two pings (two seeds when there are), so that one lost datagram does not cost a whole gap.
    const i = this.#rng.int(candidates.length);
    const j = candidates.length > 1 ? (i + 1 + this.#rng.int(candidates.length - 1)) % candidates.length : i;
    this.counters.seedPings += 2;
    this.#ping(candidates[i], 0, '');
    this.#ping(candidates[j], 0, '');
    this.#seedRetryAt = now + this.#seedGap * (0.5 + 0.5 * this.#rng.next());
    this.#seedGap = Math.min(this.config.seedRetryMaxMs, this.#seedGap * 2);
  }

  /** The seed address belongs to a live member (alive or suspect). */
  #seedAnswers(addr: string): boolean {
    const id = this.#seedIds.get(addr);
    const e = id === undefined ? undefined : this.members.get(id);
    // A seed that left is tried too: a graceful restart is how seeds leave most often, and a restarted seed
    // with no seeds of its own knows nobody to announce itself to (two pings a gap is all it costs).
    return e !== undefined && e.rec.addr === addr && e.rec.state <= SUSPECT;
  }

  #sweepTick(): void {
    if (!this.#running) return;
    this.#timers[4] = this.#clock.setTimer(SWEEP_INTERVAL_MS, () => this.#sweepTick());
    const now = this.now();
    for (const [id, at] of this.#deadAt) {
      if (now - at < this.config.deadRetentionMs) continue;
      const e = this.members.get(id);
      this.#deadAt.delete(id);
      if (!e || e.rec.state < DEAD) continue;
      this.digest.toggle(e.keyHash, memberContentHash(e.keyHash, e.rec));
      this.members.delete(id);
    }
    this.#replay.sweep(now - REPLAY_IDLE_MS);
  }

  #triggerSync(addr: string): void {
    const now = this.now();
    if (now - this.#lastTriggeredSync < this.config.triggeredSyncMinGapMs) return;
    this.#lastTriggeredSync = now;
    this.startSync(addr, false);
  }

  #joinStep(): void {
    if (!this.#joining || !this.#running) return;
    if (this.now() - this.#joinStartedAt >= this.config.joinTimeoutMs) {
      this.#log?.('warn', 'join: no seed agreed with our state in time; going on with what we have', {
        seeds: this.#seeds, waitedMs: this.config.joinTimeoutMs,
      });
      return this.#finishJoin(false);
    }
    this.startSync(this.#seeds[this.#joinAttempt++ % this.#seeds.length], true);
    this.#timers[5] = this.#clock.setTimer(this.config.joinRetryMs, () => this.#joinStep());
  }

  #finishJoin(synced: boolean): void {
    this.#joining = false;
    if (this.#joinResult !== undefined) return;
    this.#joinResult = synced;
    for (const w of this.#joinWaiters.splice(0)) w(synced);
  }

  /** Sends our top-level digest to `addr`; the answer starts the exchange. */
  startSync(addr: string, join: boolean): void {
    this.counters.syncsStarted++;
    writeTops(this.#env.begin(MSG.syncTop), join ? SYNC_JOIN : 0, this.digest.top);
    this.#sendBuilt(addr, true);
  }

  #onSyncTop(from: string, flags: number, tops: Uint32Array): void {
    const differ: number[] = [];
    for (let i = 0; i < TOPS; i++) if (tops[i] !== this.digest.top[i]) differ.push(i);
    if (flags & SYNC_JOIN) {
      // Tell a joiner whether we agree, and our lease fingerprint: once its leases match ours
      // it may allocate, even while membership churn keeps the full digests apart.
      this.#env.begin(MSG.syncDone).u8(differ.length === 0 ? 1 : 0);
      this.#env.w.u32(this.#summary());
      this.#sendBuilt(from, true);
    }
    if (differ.length === 0) return;
    const perDatagram = Math.floor((this.config.maxDatagramBytes - 128) / SUB_ENTRY_BYTES);
    for (let i = 0; i < differ.length; i += perDatagram) {
      const chunk = differ.slice(i, i + perDatagram);
      const w = this.#env.begin(MSG.syncSub);
      w.u8(chunk.length);
      for (const top of chunk) {
        w.u8(top);
        for (let j = 0; j < SUBS; j++) w.u32(this.digest.sub[top * SUBS + j]);
      }
      this.#sendBuilt(from, false);
    }
  }

  #onSyncSub(from: string, subs: { top: number; hashes: Uint32Array }[]): void {
    const wants = new Uint32Array(TOPS);
    let any = false;
    for (const { top, hashes } of subs) {
      let mask = 0;
      for (let j = 0; j < SUBS; j++) if (hashes[j] !== this.digest.sub[top * SUBS + j]) mask |= 1 << j;
      if (mask !== 0) {
        wants[top] |= mask;
        any = true;
      }
    }
    if (!any) return;
    const w = this.#env.begin(MSG.syncWant);
    const tops = [...wants.keys()].filter((t) => wants[t] !== 0);
    w.u8(tops.length);
    for (const t of tops) {
      w.u8(t);
      w.u32(wants[t]);
    }
    this.#sendBuilt(from, false);
    this.#sendRecords(from, wants);
  }

  /** Sends every record in the wanted sub-buckets (a mask per top) as `records` datagrams. */
  #sendRecords(to: string, wants: Uint32Array): void {
    const wanted = (b: number): boolean => ((wants[(b / SUBS) | 0] >>> (b % SUBS)) & 1) === 1;
    const env = this.#env;
    let open = false;
    let sent = 0;
    const flush = (): void => {
      if (open && env.count > 0 && sent < MAX_SYNC_DATAGRAMS) {
        this.#sendBuilt(to, false);
        sent++;
      }
      open = false;
    };
    const emit = (bytes: Uint8Array): void => {
      if (!open) {
        env.begin(MSG.records);
        env.records();
        open = true;
      }
      if (!env.add(bytes)) {
        flush();
        env.begin(MSG.records);
        env.records();
        open = true;
        env.add(bytes);
      }
    };
    this.members.forEach((e) => {
      if (wanted(bucketOf(e.keyHash))) emit(e.bytes);
    });
    this.#delegate?.recordsIn(wanted, emit);
    flush();
  }

  // ── sending and choosing ──────────────────────────────────────────────

  /** Finishes the datagram begun on #env (piggybacking queued broadcasts if asked) and sends it. */
  #sendBuilt(addr: string, piggyback: boolean): void {
    const env = this.#env;
    if (!env.hasRecordsSection) env.records();
    if (piggyback) {
      if (this.#priority.size > 0) this.#priority.fill(env, this.#limit());
      if (this.#queue.size > 0) this.#queue.fill(env, this.#limit());
    }
    const out = env.finish();
    if (!out) {
      this.#log?.('error', 'gossip datagram overflowed; not sent', { addr });
      return;
    }
    this.counters.sentDatagrams++;
    this.counters.sentBytes += out.length;
    this.#transport.send(addr, out);
  }

  #summary(): number {
    return this.#delegate ? this.#delegate.summary() >>> 0 : 0;
  }

  #ping(addr: string, seq: number, target: string): void {
    this.#env.begin(MSG.ping).u32(seq);
    this.#env.w.str(target);
    this.#env.w.u32(this.#summary());
    this.#sendBuilt(addr, true);
  }

  /** One record, straight to one address. */
  #sendRecord(addr: string, bytes: Uint8Array): void {
    this.#env.begin(MSG.gossip);
    this.#env.records();
    this.#env.add(bytes);
    this.#sendBuilt(addr, false);
  }

  /** Up to k distinct random members (not self) that pass `accept`. */
  #pickRandom(k: number, accept: (e: MemberEntry) => boolean): MemberEntry[] {
    const out: MemberEntry[] = [];
    const slots = this.members.slots;
    if (k <= 0 || slots === 0) return out;
    if (slots <= 4 * k + 16) {
      const all: MemberEntry[] = [];
      for (let i = 0; i < slots; i++) {
        const key = this.members.keyAt(i);
        if (key === this.id) continue;
        const e = this.members.get(key);
        if (e && accept(e)) all.push(e);
      }
      for (let i = 0; i < k && all.length > 0; i++) {
        const j = this.#rng.int(all.length);
        out.push(all[j]);
        all[j] = all[all.length - 1];
        all.pop();
      }
      return out;
    }
    for (let tries = 0; tries < k * 12 && out.length < k; tries++) {
      const key = this.members.keyAt(this.#rng.int(slots));
      if (key === this.id) continue;
      const e = this.members.get(key);
      if (e && accept(e) && !out.includes(e)) out.push(e);
    }
    return out;
  }
}

/** Member id by address in a shared base, built once per base (the simulator's thousands of nodes share one). */
const addrIndexes = new WeakMap<SharedBase<MemberEntry>, Map<string, string>>();
function addrIndex(base: SharedBase<MemberEntry>): Map<string, string> {
  let index = addrIndexes.get(base);
  if (!index) {
    index = new Map();
    for (const [id, e] of base.map) index.set(e.rec.addr, id);
    addrIndexes.set(base, index);
  }
  return index;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

