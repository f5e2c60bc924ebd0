/**
 * Measurements on the simulated cluster, shared by the tests and
 * `npm run bench:gossip`. Every figure is a function of (parameters, seed).
 */
import type { GossipConfig } from '../config.js';
import { Sfc32 } from '../../util/prng.js';
import { DEAD, LEFT } from '../records.js';
import { SimCluster, type Slot } from './cluster.js';

export interface BaseScenario {
  nodes: number;
  loss: number;
  seed: number;
  config?: GossipConfig;
  mac?: 'cheap' | 'hmac';
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export interface DisseminationResult {
  /** Per trial: seconds from the new lease's publication until every live node had it (Infinity: never, within the wait). */
  times: number[];
  /** Bytes per node per second over the whole run. */
  bytesPerNodePerS: number;
  cluster: SimCluster;
}

/**
 * New hosts join one after another (every `gapMs`); each acquires a lease;
 * a trial ends when every node live at the publication has that lease in its table.
 */
export function dissemination(o: BaseScenario & { trials: number; gapMs?: number; waitMs?: number; warmupMs?: number }): DisseminationResult {
  const c = new SimCluster({ nodes: o.nodes, seed: o.seed, loss: o.loss, config: o.config, mac: o.mac });
  const gap = o.gapMs ?? 3_000;
  c.run(o.warmupMs ?? 2_000);
  interface Trial {
    host: string;
    publishedAt: number;
    need: Uint8Array;
    remaining: number;
    done: number;
  }
  const trials = new Map<string, Trial>();
  const results: Trial[] = [];
  c.onLeaseChanges = (slot: Slot, changes) => {
    for (const ch of changes) {
      const host = ch.after?.hostId;
      if (host === undefined) continue;
      if (host === slot.id && !trials.has(host) && slot.index >= o.nodes) {
        // The newcomer published: every other live node must now learn it.
        const need = new Uint8Array(c.slots.length);
        let remaining = 0;
        for (const s of c.slots) {
          if (s.up && s !== slot) {
            need[s.index] = 1;
            remaining++;
          }
        }
        const t: Trial = { host, publishedAt: c.now, need, remaining, done: Infinity };
        trials.set(host, t);
        results.push(t);
        continue;
      }
      const t = trials.get(host);
      if (t && slot.index < t.need.length && t.need[slot.index] === 1) {
        t.need[slot.index] = 2;
        if (--t.remaining === 0) t.done = c.now;
      }
    }
  };
  const bytes0 = c.sentBytes();
  const t0 = c.now;
  for (let i = 0; i < o.trials; i++) {
    c.addNode();
    c.run(gap);
  }
  c.run(o.waitMs ?? 15_000);
  const seconds = (c.now - t0) / 1000;
  return {
    times: results.map((t) => (t.done - t.publishedAt) / 1000),
    bytesPerNodePerS: (c.sentBytes() - bytes0) / c.live().length / seconds,
    cluster: c,
  };
}

export interface HealthResult {
  /** Members declared dead (by anyone) while they were running. */
  falseDeaths: number;
  suspicions: number;
  refutations: number;
  bytesPerNodePerS: number;
}

/** A steady cluster for `durationMs`: who gets declared dead though it never stopped? */
export function steadyState(o: BaseScenario & { durationMs: number }): HealthResult {
  const c = new SimCluster({ nodes: o.nodes, seed: o.seed, loss: o.loss, config: o.config, mac: o.mac });
  const wronged = new Set<string>();
  c.onMember = (_slot, rec) => {
    if (rec.state === DEAD) {
      const target = c.slots[Number(rec.id.slice(1))];
      if (target?.up) wronged.add(rec.id);
    }
  };
  c.run(2_000);
  const bytes0 = c.sentBytes();
  const t0 = c.now;
  c.run(o.durationMs);
  let suspicions = 0;
  let refutations = 0;
  for (const s of c.slots) {
    suspicions += s.node?.counters.suspicionsRaised ?? 0;
    refutations += s.node?.counters.refutations ?? 0;
  }
  return {
    falseDeaths: wronged.size,
    suspicions,
    refutations,
    bytesPerNodePerS: (c.sentBytes() - bytes0) / c.slots.length / ((c.now - t0) / 1000),
  };
}

export interface CrashResult {
  /** Seconds from a crash until the first node declared it dead. */
  firstDetection: number[];
  /** Seconds from a crash until every live node held it dead. */
  allKnow: number[];
}

/** Crashes one random node every `gapMs` and times its detection. */
export function crashDetection(o: BaseScenario & { crashes: number; gapMs?: number; waitMs?: number }): CrashResult {
  const c = new SimCluster({ nodes: o.nodes, seed: o.seed, loss: o.loss, config: o.config, mac: o.mac });
  interface Crash {
    at: number;
    first: number;
    know: Uint8Array;
    last: number;
  }
  const crashes = new Map<string, Crash>();
  c.onMember = (slot, rec) => {
    if (rec.state !== DEAD && rec.state !== LEFT) return;
    const k = crashes.get(rec.id);
    if (!k) return;
    if (k.first === Infinity) k.first = c.now;
    if (k.know[slot.index] === 1) {
      k.know[slot.index] = 2;
      k.last = c.now;
    }
  };
  c.run(2_000);
  const order = c.rng;
  for (let i = 0; i < o.crashes; i++) {
    const live = c.live();
    const victim = live[order.int(live.length)];
    c.crash(victim.index);
    const know = new Uint8Array(c.slots.length);
    for (const s of c.live()) know[s.index] = 1;
    crashes.set(victim.id, { at: c.now, first: Infinity, know, last: Infinity });
    c.run(o.gapMs ?? 2_000);
  }
  c.run(o.waitMs ?? 60_000);
  const list = [...crashes.values()];
  return {
    firstDetection: list.map((k) => (k.first - k.at) / 1000),
    // A node that crashed later cannot learn: count only those still live.
    allKnow: list.map((k) => {
      let left = 0;
      for (const s of c.slots) if (k.know[s.index] === 1 && s.up) left++;
      return left === 0 ? (k.last - k.at) / 1000 : Infinity;
    }),
  };
}

export interface AllocationResult {
  /** Subnets that two running hosts both hold as their own lease at the end. */
  doubleAllocations: number;
  /** (node, subnet) pairs where a running node routes a running host's subnet elsewhere at the end. */
  viewMismatches: number;
  /** Seconds after the heal until the double allocations standing at the heal were gone (0: none). */
  settleS: number;
  /** The longest double allocation that arose after the heal (hosts joining at once), seconds. */
  laterConflictS: number;
  /** Conflicts resolved by a host moving. */
  moves: number;
  /** Hosts running at the end without a lease. */
  unleased: number;
  /** Dual-stack runs: the same for the IPv6 subnets (all 0 otherwise). */
  ipv6: { doubleAllocations: number; viewMismatches: number; moves: number; unleased: number };
  cluster: SimCluster;
}

/**
 * One seeded run: a small cluster in a tight subnet pool is split in two;
 * hosts join on both sides, restart (with or without their state), crash and
 * leave (the three configured seeds only restart); then the partition heals.
 * Checks that no subnet stays with two hosts. With `ipv6`, every host also
 * leases an IPv6 subnet from a pool as tight (the smallest power of two
 * minus one that fits every host that ever joins), and the IPv6 subnets are
 * held to the same: settled means neither family has a double allocation.
 */
export function allocationRun(
  seed: number,
  o: { config?: GossipConfig; settleMs?: number; ipv6?: boolean; trace?: (c: SimCluster, sinceHealMs: number) => void } = {},
): AllocationResult {
  const r = new Sfc32(seed, 0xa110c);
  const n0 = 4 + r.int(5);
  const joiners = 1 + r.int(4);
  const events = joiners + r.int(4);
  // A pool with just a few spare subnets (every host that ever joins needs one), so newcomers on both sides collide often.
  const poolSize = n0 + events + 1 + r.int(2);
  const last = 16 * poolSize;
  const network = {
    network: '198.18.0.0/23',
    subnetLen: 28,
    subnetMin: '198.18.0.16',
    subnetMax: `198.18.${last >> 8}.${last & 255}`,
    backendType: 'udp' as const,
  };
  // IPv6: a /(64 - k) cut into /64s has 2^k - 1 leasable subnets (the first is skipped).
  const bits6 = Math.ceil(Math.log2(n0 + events + 2));
  const network6 = o.ipv6 ? { network: `2001:db8:18::/${64 - bits6}`, subnetLen: 64 } : undefined;
  const c = new SimCluster({ nodes: n0, seed, loss: r.next() < 0.5 ? 0 : 0.05, config: o.config, network, ...(network6 ? { network6 } : {}) });
  c.run(1_000 + r.int(2_000));
  c.partition((i) => i % 2);
  const partitionMs = 2_000 + r.int(40_000);
  for (let e = 0; e < events; e++) {
    c.run(r.int(Math.floor(partitionMs / events)));
    o.trace?.(c, -1);
    const roll = r.int(10);
    const live = c.live();
    // The configured seeds (the first three hosts) restart but do not go for good, as in a real
    // deployment; with every seed and every common member gone, two sides could never meet again.
    const mortal = live.filter((s) => s.index >= 3);
    if (e < joiners || live.length < 2) {
      c.addNode(r.int(2));
    } else if (roll < 4) {
      const s = live[r.int(live.length)];
      c.restart(s.index, roll < 2);
    } else if (roll < 6 && mortal.length > 0) {
      c.crash(mortal[r.int(mortal.length)].index);
    } else if (roll < 7 && mortal.length > 0) {
      c.leave(mortal[r.int(mortal.length)].index);
    } else {
      c.addNode(r.int(2));
    }
  }
  c.run(partitionMs / events);
  o.trace?.(c, 0);
  c.heal();
  const healedAt = c.now;
  // Settling: the double allocations standing at the heal must end; a new one after the heal
  // (two hosts joining at once) is an episode of its own, timed apart.
  const both = (): number => doubles(c) + doubles6(c);
  let settledAt = both() > 0 ? -1 : healedAt;
  let episodeStart = -1;
  let longestEpisode = 0;
  const settleMs = o.settleMs ?? 15_000;
  for (let t = 0; t < settleMs; t += 100) {
    c.run(100);
    const d = both();
    if (settledAt < 0) {
      if (d === 0) settledAt = c.now;
    } else if (d > 0 && episodeStart < 0) {
      episodeStart = c.now;
    } else if (d === 0 && episodeStart >= 0) {
      longestEpisode = Math.max(longestEpisode, c.now - episodeStart);
      episodeStart = -1;
    }
    o.trace?.(c, c.now - healedAt);
  }
  if (episodeStart >= 0) longestEpisode = Math.max(longestEpisode, c.now - episodeStart);
  const { viewMismatches, moves, unleased } = views(c);
  return {
    doubleAllocations: doubles(c),
    viewMismatches,
    settleS: settledAt < 0 ? Infinity : (settledAt - healedAt) / 1000,
    laterConflictS: longestEpisode / 1000,
    moves,
    unleased,
    ipv6: views6(c),
    cluster: c,
  };
}

/** Subnets held as own lease by more than one running host. */
/**
 * After a run: how many (node, owner) pairs disagree on who holds the owner's subnet, how many moves
 * conflicts caused, and how many live nodes hold no lease.
 */
export function views(c: SimCluster): { viewMismatches: number; moves: number; unleased: number } {
  let viewMismatches = 0;
  let moves = 0;
  let unleased = 0;
  const owners = c.live().filter((s) => s.replica?.own && !s.replica.own.released);
  for (const s of c.slots) moves += s.replica?.conflictsLost ?? 0;
  for (const s of c.live()) {
    if (!s.replica?.own) unleased++;
    for (const o of owners) if (s.replica?.winner(o.replica!.own!.subnet)?.hostId !== o.id) viewMismatches++;
  }
  return { viewMismatches, moves, unleased };
}

/** The IPv6 side of views(), plus the double allocations: all 0 in a cluster without IPv6. */
export function views6(c: SimCluster): { doubleAllocations: number; viewMismatches: number; moves: number; unleased: number } {
  if (c.pool6 === undefined) return { doubleAllocations: 0, viewMismatches: 0, moves: 0, unleased: 0 };
  let viewMismatches = 0;
  let moves = 0;
  let unleased = 0;
  const owners = c.live().filter((s) => s.replica?.own?.ipv6Subnet !== undefined && !s.replica.own.released);
  for (const s of c.slots) moves += s.replica?.conflictsLost6 ?? 0;
  for (const s of c.live()) {
    if (s.replica?.own !== undefined && s.replica.own.ipv6Subnet === undefined) unleased++;
    for (const o of owners) if (s.replica?.winner6(o.replica!.own!.ipv6Subnet!)?.hostId !== o.id) viewMismatches++;
  }
  return { doubleAllocations: doubles6(c), viewMismatches, moves, unleased };
}

/** IPv6 subnets held as own lease by more than one running host. */
export function doubles6(c: SimCluster): number {
  const seen = new Map<string, number>();
  for (const s of c.slots) {
    const own = s.up ? s.replica?.own : undefined;
    if (!own || own.released || own.expiresAt <= c.now || own.ipv6Subnet === undefined) continue;
    seen.set(own.ipv6Subnet, (seen.get(own.ipv6Subnet) ?? 0) + 1);
  }
  let n = 0;
  for (const v of seen.values()) if (v > 1) n++;
  return n;
}

export function doubles(c: SimCluster): number {
  const seen = new Map<number, number>();
  for (const s of c.slots) {
    const own = s.up ? s.replica?.own : undefined;
    if (!own || own.released || own.expiresAt <= c.now) continue;
    seen.set(own.subnet, (seen.get(own.subnet) ?? 0) + 1);
  }
  let n = 0;
  for (const v of seen.values()) if (v > 1) n++;
  return n;
}
