/**
 * The member table: every known member's record with its encoded bytes, the
 * digest over all of them, and what the protocol asks of it often: how many
 * members are live, when each dead one was declared so, which member sits at
 * each seed address, and random picks.
 */
import type { BroadcastQueue } from './broadcast-queue.js';
import { ByteWriter } from './bytes.js';
import { Digest } from './digest.js';
import { LayeredMap, type SharedBase } from './layered-map.js';
import type { Random } from '../util/prng.js';
import { DEAD, encodeMember, memberContentHash, memberKeyHash, SUSPECT, type MemberRecord } from './records.js';
import type { Clock } from './runtime.js';

/** A member record with its encoded bytes and key hash (shared by tables that hold it). */
export interface MemberEntry {
  readonly rec: MemberRecord;
  readonly bytes: Uint8Array;
  readonly keyHash: number;
}

/** Simulator only: a converged member table and digest shared by all nodes. */
export interface ConvergedMembers {
  members: SharedBase<MemberEntry>;
  digest: Digest;
}

export class MemberTable {
  readonly members: LayeredMap<MemberEntry>;
  readonly digest: Digest;
  /** When each dead or departed member was declared so (own changes only). */
  readonly deadAt = new Map<string, number>();
  /** Seed addresses, own address left out. */
  readonly seeds: string[];
  /** The member last seen at each seed address (so a seed's state is a lookup, not a scan). */
  readonly #seedIds = new Map<string, string>();
  readonly #selfId: string;
  readonly #clock: Clock;
  readonly #rng: Random;
  readonly #queue: BroadcastQueue;
  readonly #onMember: ((rec: MemberRecord, prev: MemberRecord | undefined) => void) | undefined;
  readonly #scratch = new ByteWriter(512);
  #liveCount: number;

  constructor(o: {
    selfId: string;
    seeds: string[];
    clock: Clock;
    random: Random;
    queue: BroadcastQueue;
    base: ConvergedMembers | undefined;
    onMember: ((rec: MemberRecord, prev: MemberRecord | undefined) => void) | undefined;
  }) {
    this.#selfId = o.selfId;
    this.#clock = o.clock;
    this.#rng = o.random;
    this.#queue = o.queue;
    this.#onMember = o.onMember;
    this.members = new LayeredMap(o.base?.members);
    this.digest = new Digest(o.base?.digest);
    this.#liveCount = o.base?.members.map.size ?? 0;
    this.seeds = o.seeds;
    if (o.base && this.seeds.length > 0) {
      const byAddr = addrIndex(o.base.members);
      for (const s of this.seeds) {
        const id = byAddr.get(s);
        if (id !== undefined) this.#seedIds.set(s, id);
      }
    }
  }

  /** Alive and suspect members, self included. */
  get liveCount(): number {
    return this.#liveCount;
  }

  get(id: string): MemberEntry | undefined {
    return this.members.get(id);
  }

  entry(rec: MemberRecord): MemberEntry {
    const w = this.#scratch;
    w.reset();
    encodeMember(w, rec);
    return { rec, bytes: w.take(), keyHash: memberKeyHash(rec.id) };
  }

  /** Stores a record, keeps digest and counts current, broadcasts it unless told not to. */
  set(rec: MemberRecord, broadcast: boolean): void {
    const prev = this.members.get(rec.id);
    const e = this.entry(rec);
    if (prev) this.digest.toggle(prev.keyHash, memberContentHash(prev.keyHash, prev.rec));
    this.digest.toggle(e.keyHash, memberContentHash(e.keyHash, rec));
    this.members.set(rec.id, e);
    const wasLive = prev !== undefined && prev.rec.state <= SUSPECT;
    const isLive = rec.state <= SUSPECT;
    this.#liveCount += (isLive ? 1 : 0) - (wasLive ? 1 : 0);
    if (rec.state >= DEAD) this.deadAt.set(rec.id, this.#clock.now());
    else this.deadAt.delete(rec.id);
    if (this.seeds.length > 0 && this.seeds.includes(rec.addr)) this.#seedIds.set(rec.addr, rec.id);
    if (broadcast) this.#queue.enqueue(rec.id, e.bytes);
    this.#onMember?.(rec, prev?.rec);
  }

  /** Forgets the members dead or departed for `retentionMs` or longer. */
  sweep(now: number, retentionMs: number): void {
    for (const [id, at] of this.deadAt) {
      if (now - at < retentionMs) continue;
      const e = this.members.get(id);
      this.deadAt.delete(id);
      if (!e || e.rec.state < DEAD) continue;
      this.digest.toggle(e.keyHash, memberContentHash(e.keyHash, e.rec));
      this.members.delete(id);
    }
  }

  /** The seed address belongs to a live member (alive or suspect). */
  seedAnswers(addr: string): boolean {
    const id = this.#seedIds.get(addr);
    const e = id === undefined ? undefined : this.members.get(id);
    // A seed that left is tried too: a graceful restart is how seeds leave most often, and a restarted seed
    // with no seeds of its own knows nobody to announce itself to (two pings a gap is all it costs).
    return e !== undefined && e.rec.addr === addr && e.rec.state <= SUSPECT;
  }

  /** Up to k distinct random members (not self) that pass `accept`. */
  pickRandom(k: number, accept: (e: MemberEntry) => boolean): MemberEntry[] {
    const out: MemberEntry[] = [];
    const slots = this.members.slots;
    if (k <= 0 || slots === 0) return out;
    if (slots <= 4 * k + 16) {
      const all: MemberEntry[] = [];
      for (let i = 0; i < slots; i++) {
        const key = this.members.keyAt(i);
        if (key === this.#selfId) continue;
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
      if (key === this.#selfId) continue;
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
