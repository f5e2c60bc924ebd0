/** From samples (one per system and repetition) to result rows (pure). */
import { medianFigures, type CostFigures } from './cost-model.js';
import { medianHops, type RoundTripHops } from './round-trip.js';
import { median, perCore, ratio, round, spread, type Spread } from './stats.js';
import type { SystemKind, SystemSpec } from './systems.js';
import type { UdpDrops } from './udp-drops.js';

/** Per field, the median of the samples' drop counts (null where no sample has the figure). */
function medianDrops(all: UdpDrops[]): UdpDrops | undefined {
  if (all.length === 0) return undefined;
  const out = { ...all[0] } as unknown as Record<string, unknown>;
  for (const key of Object.keys(out)) {
    if (key === 'sender_dev') continue;
    const values = all.map((d) => (d as unknown as Record<string, unknown>)[key]).filter((v): v is number => typeof v === 'number');
    out[key] = values.length === 0 ? null : Math.round(median(values));
  }
  return out as unknown as UdpDrops;
}

export const METRICS = [
  'tcp1_gbps',
  'tcp_multi_gbps',
  'udp_kpps',
  'udp_loss_pct',
  'udp_small_kpps',
  'udp_small_loss_pct',
  'rtt_ms',
  'cpu_pct',
  'cpu_idle_pct',
  'cpu_rtt_pct',
  'gbps_per_core',
] as const;
export type Metric = (typeof METRICS)[number];
/** The metrics every non-reference row is compared on (RTT: lower is better, so a ratio above 1 is worse). */
export const RATIO_METRICS = ['tcp1_gbps', 'tcp_multi_gbps', 'udp_kpps', 'udp_small_kpps', 'rtt_ms'] as const;
export type RatioMetric = (typeof RATIO_METRICS)[number];

const DIGITS: Record<Metric, number> = {
  tcp1_gbps: 4,
  tcp_multi_gbps: 4,
  udp_kpps: 2,
  udp_loss_pct: 2,
  udp_small_kpps: 2,
  udp_small_loss_pct: 2,
  rtt_ms: 4,
  cpu_pct: 1,
  cpu_idle_pct: 1,
  cpu_rtt_pct: 1,
  gbps_per_core: 3,
};

export type Metrics = Record<Metric, number | null>;

export interface Sample extends Metrics {
  system: string;
  kind: SystemKind;
  rep: number;
  /** Position in the run (round-robin order). */
  index: number;
  /** Metrics measured by a generator that was CPU-bound: they show the generator's limit, maybe not the system's. */
  generator_limited: Metric[];
  /** Metrics not measured on purpose (e.g. UDP on host-gw), with why. */
  not_measured: Partial<Record<Metric, string>>;
  errors: string[];
  warnings: string[];
  [extra: string]: unknown;
}

export interface Row extends Metrics {
  system: string;
  kind: SystemKind;
  samples: number;
  /** The multi-stream figure under its issue-4 name, when the run used 4 streams. */
  tcp4_gbps?: number | null;
  spread: Partial<Record<Metric, Spread>>;
  ratios?: { vs_kernel_vxlan: Record<RatioMetric, number | null>; vs_underlay: Record<RatioMetric, number | null> };
  generator_limited: Metric[];
  not_measured: Partial<Record<Metric, string>>;
  batch?: number;
  offloads?: string;
  /** What the row's set-up said about itself (e.g. "socat covers hosts 1 and 2 only"). */
  notes?: string[];
  /** MTU of the row's path (the overlay device's). */
  mtu?: number;
  /** Where the UDP tests' datagrams were lost: per place, the median over the repetitions (udp-drops.ts). */
  udp_drops?: UdpDrops;
  udp_small_drops?: UdpDrops;
  /** The cost model per test (cost-model.ts): each figure the median over the repetitions. */
  cost?: CostFigures[];
  /** A traced ping's round trip, hop by hop (round-trip.ts): each hop the median over the repetitions. */
  hops?: RoundTripHops;
}

/** Adds the derived per-sample metric: Gbit/s (TCP ×1) per core of overlay CPU. */
export function withPerCore(sample: Sample): Sample {
  // A row that says it has no per-core figure (host-gw: the kernel forwards) gets none, whatever its near-zero CPU gives.
  const pc = sample.not_measured?.gbps_per_core !== undefined ? null : perCore(sample.tcp1_gbps, sample.cpu_pct);
  sample.gbps_per_core = pc === null ? null : round(pc, DIGITS.gbps_per_core);
  return sample;
}

/** The offloads the first daemon's start-up line names ("…; offloads: tun on, udpGso on; …"), if any. */
export function offloadsInForce(daemonLog: unknown): string | undefined {
  if (!Array.isArray(daemonLog) || typeof daemonLog[0] !== 'string') return undefined;
  return /; offloads: ([^;]+)/.exec(daemonLog[0])?.[1].trim();
}

export function aggregate(specs: readonly SystemSpec[], samples: readonly Sample[], streams: number): Row[] {
  const rows: Row[] = specs.map((spec) => {
    const mine = samples.filter((s) => s.system === spec.system);
    const row = {
      system: spec.system,
      kind: spec.kind,
      samples: mine.length,
      spread: {},
      generator_limited: [],
      not_measured: {},
    } as unknown as Row;
    for (const metric of METRICS) {
      const values = mine.map((s) => s[metric]).filter((v): v is number => v !== null && Number.isFinite(v));
      row[metric] = values.length === 0 ? null : round(median(values), DIGITS[metric]);
      if (values.length > 0) {
        const s = spread(values);
        row.spread[metric] = {
          min: round(s.min, DIGITS[metric]),
          max: round(s.max, DIGITS[metric]),
          q1: round(s.q1, DIGITS[metric]),
          q3: round(s.q3, DIGITS[metric]),
        };
      }
      if (mine.some((s) => s.generator_limited.includes(metric))) row.generator_limited.push(metric);
      const why = mine.map((s) => s.not_measured[metric]).find((w) => w !== undefined);
      if (why !== undefined) row.not_measured[metric] = why;
    }
    if (streams === 4) row.tcp4_gbps = row.tcp_multi_gbps;
    const notes = [...new Set(mine.flatMap((s) => (Array.isArray(s.notes) ? (s.notes as string[]) : [])))];
    if (notes.length > 0) row.notes = notes;
    const mtu = mine.map((s) => s.mtu).find((m): m is number => typeof m === 'number');
    if (mtu !== undefined) row.mtu = mtu;
    if (spec.batch !== undefined) row.batch = spec.batch;
    for (const key of ['udp_drops', 'udp_small_drops'] as const) {
      const drops = medianDrops(mine.map((s) => s[key]).filter((d): d is UdpDrops => typeof d === 'object' && d !== null));
      if (drops !== undefined) row[key] = drops;
    }
    const figures = mine.flatMap((s) => (Array.isArray(s.cost_figures) ? (s.cost_figures as CostFigures[]) : []));
    const tests = [...new Set(figures.map((c) => c.test))];
    if (tests.length > 0) row.cost = tests.map((test) => medianFigures(figures.filter((c) => c.test === test)));
    const hops = medianHops(mine.flatMap((s) => (typeof s.hops === 'object' && s.hops !== null ? [s.hops as RoundTripHops] : [])));
    if (hops !== undefined) row.hops = hops;
    // What the daemons said was in force (udpTunnelGso 'auto' resolves per host), else what was asked for.
    const said = mine.map((s) => offloadsInForce(s.daemon_log)).find((o) => o !== undefined);
    if (said !== undefined) row.offloads = said;
    else if (spec.offloads !== undefined)
      row.offloads = Object.entries(spec.offloads)
        .map(([k, v]) => `${k} ${v ? 'on' : 'off'}`)
        .join(', ');
    return row;
  });
  const underlay = rows.find((r) => r.system === 'underlay');
  const vxlan = rows.find((r) => r.system === 'kernel-vxlan');
  const against = (row: Row, base: Row | undefined) =>
    Object.fromEntries(
      RATIO_METRICS.map((m) => {
        const r = ratio(row[m], base?.[m]);
        return [m, r === null ? null : round(r, 3)];
      }),
    ) as Record<RatioMetric, number | null>;
  for (const row of rows) {
    if (row.kind !== 'reference') row.ratios = { vs_kernel_vxlan: against(row, vxlan), vs_underlay: against(row, underlay) };
  }
  return rows;
}
