/**
 * Gossip configuration: typed presets with a unit on every default. The LAN
 * preset follows hashicorp/memberlist's DefaultLANConfig where it has one;
 * the differences (and why) are noted next to the field. Lease timings are
 * the lease replica's own (lease-config.ts).
 */

export interface GossipConfig {
  /** How often a node probes one member (SWIM protocol period), ms. */
  probeIntervalMs: number;
  /** How long to wait for a direct ack before asking others to probe, ms. */
  probeTimeoutMs: number;
  /** How many members are asked to probe indirectly (SWIM's k). */
  indirectChecks: number;
  /** Retransmit limit = retransmitMult · ceil(log10(N + 1)) per broadcast. */
  retransmitMult: number;
  /** Suspicion timeout = suspicionMult · max(1, log10 N) · probeInterval, before confirmations. */
  suspicionMult: number;
  /** The longest suspicion timeout, as a multiple of the shortest (Lifeguard). */
  suspicionMaxTimeoutMult: number;
  /** The cap of the local-health multiplier on probe timing (Lifeguard awareness). */
  awarenessMaxMultiplier: number;
  /** How often queued broadcasts are gossiped, ms. */
  gossipIntervalMs: number;
  /** How many random members each gossip round goes to. */
  gossipNodes: number;
  /** How long dead members still get gossip (so they can refute), ms. */
  gossipToTheDeadMs: number;
  /** How often a node runs anti-entropy with one random member, ms. */
  syncIntervalMs: number;
  /** How often a node pings one random dead member to notice a healed partition, ms. */
  reconnectIntervalMs: number;
  /**
   * While a node knows no live member, or has a seed that is neither live nor departed, it pings
   * such seeds every reconnectIntervalMs at first, doubling the gap (with jitter) up to this, ms.
   */
  seedRetryMaxMs: number;
  /** Least time between two syncs started because a member came back, ms. */
  triggeredSyncMinGapMs: number;
  /** How long a dead or departed member is remembered, ms. */
  deadRetentionMs: number;
  /** While joining: how often a sync with a seed is retried, ms. */
  joinRetryMs: number;
  /** While joining: give up waiting for an agreeing digest after this, ms. */
  joinTimeoutMs: number;
  /** Largest datagram sent or accepted, bytes (below a 1500-byte underlay MTU less IP/UDP). */
  maxDatagramBytes: number;
}

/**
 * A LAN of up to thousands of hosts: memberlist's LAN defaults, with a
 * shorter protocol period (see probeIntervalMs) measured by bench:gossip.
 */
export const LAN: Readonly<GossipConfig> = Object.freeze({
  probeIntervalMs: 500, // memberlist: 1 s; half that gets a crash known within 12 s at 1,000 nodes (~200 B/s of probes)
  probeTimeoutMs: 250, // memberlist: 500 ms; a LAN RTT is far below, and a second direct ping follows
  indirectChecks: 5, // memberlist: 3; without its TCP fallback, 5 makes false suspicions at 10% loss ~8× rarer
  retransmitMult: 4, // memberlist: 4
  suspicionMult: 4, // memberlist: 4 → 6 s at 1,000 nodes with two confirmations, 36 s with none
  suspicionMaxTimeoutMult: 6, // memberlist: 6
  awarenessMaxMultiplier: 8, // memberlist: 8
  gossipIntervalMs: 200, // memberlist: 200 ms
  gossipNodes: 3, // memberlist: 3
  gossipToTheDeadMs: 30_000, // memberlist: 30 s
  syncIntervalMs: 10_000, // memberlist push-pull: 30 s; an agreeing digest exchange is ~200 bytes, so 10 s and no scaling with N
  reconnectIntervalMs: 1_000, // memberlist has none (Serf reconnects every 30 s); tulle wants a heal noticed in seconds
  seedRetryMaxMs: 30_000, // Serf's reconnect interval: a node cut off from its seeds tries one at least every 30 s
  triggeredSyncMinGapMs: 1_000, // bounds the sync burst when a partition heals
  deadRetentionMs: 3_600_000, // 1 h: long enough to reconnect after a partition (Serf keeps 24 h)
  joinRetryMs: 300, // ms
  joinTimeoutMs: 5_000, // ms
  maxDatagramBytes: 1400, // memberlist UDPBufferSize: 1400
});

/** One machine or a lab (loopback, namespaces): memberlist's local defaults. */
export const LOCAL: Readonly<GossipConfig> = Object.freeze({
  ...LAN,
  probeIntervalMs: 500, // as LAN (memberlist local: 1 s)
  probeTimeoutMs: 200, // memberlist: 200 ms
  indirectChecks: 1, // memberlist: 1
  retransmitMult: 2, // memberlist: 2
  suspicionMult: 3, // memberlist: 3
  gossipIntervalMs: 100, // memberlist: 100 ms
  gossipToTheDeadMs: 15_000, // memberlist: 15 s
  syncIntervalMs: 5_000, // memberlist: 15 s
  reconnectIntervalMs: 500, // ms
  seedRetryMaxMs: 10_000, // ms: a lab heals in seconds
});

export const PRESETS = { lan: LAN, local: LOCAL } as const;
export type PresetName = keyof typeof PRESETS;

const POSITIVE: (keyof GossipConfig)[] = [
  'probeIntervalMs',
  'probeTimeoutMs',
  'retransmitMult',
  'suspicionMult',
  'suspicionMaxTimeoutMult',
  'awarenessMaxMultiplier',
  'gossipIntervalMs',
  'gossipNodes',
  'gossipToTheDeadMs',
  'syncIntervalMs',
  'reconnectIntervalMs',
  'seedRetryMaxMs',
  'deadRetentionMs',
  'joinRetryMs',
  'joinTimeoutMs',
];

/** A preset with overrides, checked: throws naming the field, the value and what is allowed. */
export function makeConfig(preset: PresetName | GossipConfig = 'lan', overrides: Partial<GossipConfig> = {}): GossipConfig {
  let base: GossipConfig;
  if (typeof preset === 'string') {
    if (!(preset in PRESETS)) throw new Error(`gossip preset "${preset}" is unknown: use one of ${Object.keys(PRESETS).join(', ')}`);
    base = PRESETS[preset];
  } else {
    base = preset;
  }
  const c: GossipConfig = { ...base, ...overrides };
  for (const key of POSITIVE) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`gossip ${key} = ${String(v)}: must be a positive number`);
  }
  if (!Number.isInteger(c.indirectChecks) || c.indirectChecks < 0) throw new Error(`gossip indirectChecks = ${c.indirectChecks}: must be an integer ≥ 0`);
  if (c.probeTimeoutMs >= c.probeIntervalMs)
    throw new Error(`gossip probeTimeoutMs = ${c.probeTimeoutMs}: must be below probeIntervalMs (${c.probeIntervalMs})`);
  if (c.seedRetryMaxMs < c.reconnectIntervalMs)
    throw new Error(`gossip seedRetryMaxMs = ${c.seedRetryMaxMs}: must be at least reconnectIntervalMs (${c.reconnectIntervalMs})`);
  if (c.maxDatagramBytes < 512 || c.maxDatagramBytes > 65_000) throw new Error(`gossip maxDatagramBytes = ${c.maxDatagramBytes}: must be in 512..65000`);
  return c;
}

/** Retransmit limit for a broadcast in a cluster of n members (memberlist's retransmitLimit). */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1));
}

/** The shortest suspicion timeout in a cluster of n members, ms (memberlist's suspicionTimeout). */
export function suspicionTimeout(mult: number, n: number, intervalMs: number): number {
  return mult * Math.max(1, Math.log10(Math.max(1, n))) * intervalMs;
}

/** Gossip rounds a leaving host repeats its release in (1.4 s with the lan preset, 0.7 s with local). */
export const LEAVE_ROUNDS = 7;
