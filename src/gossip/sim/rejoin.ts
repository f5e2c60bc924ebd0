/**
 * Seeded runs of hosts cut off from every seed, shared by the tests and
 * `npm run bench:gossip`:
 *
 * - 'boot-unreachable': a converged cluster; one or two hosts boot on a side
 *   of a partition where no seed and no member is (the second joins through
 *   the first). Their join times out and they lease from what they see, so in
 *   a tight pool they often take a subnet another host holds. Nobody knows
 *   them, so nobody pings them: only they can end it, by trying their seeds.
 * - 'lost-all': one host is cut off from all the others, for up to 2.5 times
 *   deadRetentionMs, so both sides may forget each other; meanwhile hosts
 *   join on both sides and the cut-off host may restart without its state.
 *   deadRetentionMs is cut to LOST_ALL_RETENTION_MS: the rules are the same
 *   at an hour, which would cost hours of simulated time per run.
 *
 * Then the partition heals. A double allocation standing at the heal must be
 * gone within rejoinTargetMs, and every running host must hold every other live.
 * Before a cut-off host kept trying its seeds, such runs never settled.
 */
import { makeConfig, type GossipConfig } from '../config.js';
import { Sfc32 } from '../../util/prng.js';
import { SUSPECT } from '../records.js';
import { SimCluster } from './cluster.js';
import { doubles, views } from './scenarios.js';

export type RejoinKind = 'boot-unreachable' | 'lost-all';

export interface RejoinResult {
  /** Subnets held by two running hosts when the partition healed. */
  atHeal: number;
  /** Subnets held by two running hosts at the end. */
  doubleAllocations: number;
  /** (node, subnet) pairs where a running node routes a running host's subnet elsewhere at the end. */
  viewMismatches: number;
  /** Seconds after the heal until the double allocations standing at the heal were gone (0: none; Infinity: never). */
  settleS: number;
  /** Seconds after the heal until every running host held every running host live (Infinity: never). */
  rejoinS: number;
  /** Conflicts resolved by a host moving. */
  moves: number;
  /** Hosts running at the end without a lease. */
  unleased: number;
  /** How long the partition lasted, ms. */
  partitionMs: number;
  cluster: SimCluster;
}

/**
 * The longest a double allocation may stand after the heal: a cut-off host
 * tries its seeds at least every seedRetryMaxMs (checked each reconnect
 * tick), and the sync that follows settles the conflict within a second or
 * two; should every datagram of that try be lost, the next try comes one gap
 * later. Two gaps, a tick and 2 s.
 */
export function rejoinTargetMs(config: GossipConfig): number {
  return 2 * config.seedRetryMaxMs + config.reconnectIntervalMs + 2_000;
}

/** One gap, a tick and 2 s: where the heal is settled when the first try after it gets through. */
export function rejoinOneTryMs(config: GossipConfig): number {
  return config.seedRetryMaxMs + config.reconnectIntervalMs + 2_000;
}

/** 'lost-all' runs remember the dead this long, ms (so partitions outlast it). */
export const LOST_ALL_RETENTION_MS = 60_000;

export function rejoinRun(
  kind: RejoinKind,
  seed: number,
  o: { config?: GossipConfig; settleMs?: number; trace?: (c: SimCluster, sinceHealMs: number) => void } = {},
): RejoinResult {
  const given = o.config ?? makeConfig('lan');
  const config = kind === 'lost-all' ? makeConfig(given, { deadRetentionMs: Math.min(given.deadRetentionMs, LOST_ALL_RETENTION_MS) }) : given;
  const r = new Sfc32(seed, kind === 'boot-unreachable' ? 0xb007 : 0x1057a11);
  const n0 = 3 + r.int(6);
  const cutJoins = kind === 'boot-unreachable' ? 1 + r.int(2) : r.int(2);
  const mainJoins = r.int(3);
  // A pool with two or three spare subnets (every host that ever joins needs one, and a host restarted
  // without its state one more while its old lease lives), so the two sides collide often.
  const poolSize = n0 + cutJoins + mainJoins + 1 + 1 + r.int(2);
  const last = 16 * poolSize;
  const network = {
    network: '198.18.0.0/23',
    subnetLen: 28,
    subnetMin: '198.18.0.16',
    subnetMax: `198.18.${last >> 8}.${last & 255}`,
    backendType: 'udp' as const,
  };
  const c = new SimCluster({ nodes: n0, seed, loss: r.next() < 0.5 ? 0 : 0.05, config, network });
  c.run(1_000 + r.int(2_000));
  // Long enough for a join to time out; in 'lost-all', often long enough to forget the other side.
  const partitionMs =
    kind === 'boot-unreachable' ? config.joinTimeoutMs + 3_000 + r.int(4 * config.seedRetryMaxMs) : 20_000 + r.int(Math.round(2.5 * config.deadRetentionMs));
  const cutAt = c.now;
  const events: (() => void)[] = [];
  if (kind === 'boot-unreachable') {
    // Group 1 is empty: the first newcomer's seeds (the configured ones) are all on the other side.
    c.partition(() => 0);
    c.addNode(1);
    for (let i = 1; i < cutJoins; i++) events.push(() => c.addNode(1));
  } else {
    const victim = r.int(n0);
    c.partition((i) => (i === victim ? 1 : 0));
    for (let i = 0; i < cutJoins; i++) events.push(() => c.addNode(1));
    // Half the time the cut-off host restarts without its state: it boots with its seeds unreachable.
    if (r.int(2) === 0) events.push(() => c.restart(victim, false));
  }
  for (let i = 0; i < mainJoins; i++) events.push(() => c.addNode(0));
  // The events in a random order, spread over the partition.
  for (let i = events.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [events[i], events[j]] = [events[j], events[i]];
  }
  const step = Math.floor(partitionMs / (events.length + 1));
  for (const e of events) {
    c.run(r.int(step) + 1);
    e();
  }
  c.run(cutAt + partitionMs - c.now);
  const atHeal = doubles(c);
  c.heal();
  const healedAt = c.now;
  let settledAt = atHeal > 0 ? -1 : healedAt;
  let rejoinedAt = -1;
  const settleMs = o.settleMs ?? rejoinTargetMs(config) + 5_000;
  for (let t = 0; t < settleMs; t += 100) {
    c.run(100);
    if (settledAt < 0 && doubles(c) === 0) settledAt = c.now;
    if (rejoinedAt < 0 && everyoneLive(c)) rejoinedAt = c.now;
    o.trace?.(c, c.now - healedAt);
  }
  const { viewMismatches, moves, unleased } = views(c);
  const since = (at: number) => (at < 0 ? Infinity : (at - healedAt) / 1000);
  return {
    atHeal,
    doubleAllocations: doubles(c),
    viewMismatches,
    settleS: since(settledAt),
    rejoinS: since(rejoinedAt),
    moves,
    unleased,
    partitionMs,
    cluster: c,
  };
}

/** Every running host holds every running host alive or suspect. */
function everyoneLive(c: SimCluster): boolean {
  const live = c.live();
  for (const s of live) {
    for (const o of live) {
      const m = s.node?.member(o.id);
      if (!m || m.state > SUSPECT) return false;
    }
  }
  return true;
}
