/**
 * The soak's verdicts (pure): growth after warm-up, fds and threads, restarts,
 * traffic in every interval, UDP loss against counted drops, gossip bytes per second.
 */
import { median, round } from '../src/bench/stats.js';
import type { LiveHeapSeries } from './soak-live-heap.js';
import type { DaemonSample, Sample } from './soak-sample.js';

export interface Growth {
  /** Median of the first quarter of the samples after warm-up, and of the last quarter. */
  first: number;
  last: number;
  bytes: number;
  pct: number;
}

export interface DaemonVerdict {
  host: string;
  rss: Growth;
  /** Heap used as sampled (between collections: garbage included), first quarter against last. Shown, not a target. */
  heap: Growth;
  /** The live heap (a snapshot after a full collection), the first snapshot after the warm-up against the last: the heap target. */
  liveHeap: Growth & { points: LiveHeapSeries['points']; grew: LiveHeapSeries['grew'] };
  /** Full collections between the first and the last sample after warm-up: with none, the heap figure holds garbage not yet collected. */
  majorGcs: number;
  /** Open fds at rest over the samples after warm-up, and the most any read saw (a child process's pipes included). */
  fds: { min: number; max: number };
  fdsPeak: number;
  threads: { min: number; max: number };
  restarts: number;
  /** The engine over the run: packets each way, and its drop and error counters that moved. */
  engine: { txPackets: number; rxPackets: number; drops: Record<string, number> };
  gossip: { txBytesPerSecond: number; rxBytesPerSecond: number; dropped: Record<string, number>; suspicions: number };
}

export interface UdpAccount {
  sent: number;
  received: number;
  duplicates: number;
  missing: number;
  /** Drops counted on the stream's path during the run, by counter. */
  drops: Record<string, number>;
  explained: number;
  unexplained: number;
}

export interface Target {
  name: string;
  pass: boolean;
  detail: string;
}

export interface Verdict {
  warmupSeconds: number;
  /** Samples in each compared quarter. */
  quarter: number;
  daemons: DaemonVerdict[];
  udp: UdpAccount;
  targets: Target[];
  pass: boolean;
}

/** Growth of one series: the median of the last quarter against the first (the median: GC sawtooth and one-off spikes do not move it). */
export function growth(values: number[], quarter: number): Growth {
  const first = median(values.slice(0, quarter));
  const last = median(values.slice(-quarter));
  return { first, last, bytes: last - first, pct: first === 0 ? 0 : round((100 * (last - first)) / first, 2) };
}

const range = (values: number[]) => ({ min: Math.min(...values), max: Math.max(...values) });

/** Times a daemon's process was not the one the soak started: it exited, or the control socket answers from another PID. */
function restarts(series: DaemonSample[]): number {
  let n = 0;
  let bad = false;
  for (const s of series) {
    const now = !s.alive || (s.statusPid !== null && s.statusPid !== s.pid);
    if (now && !bad) n++;
    bad = now;
  }
  return n;
}

function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(b).map((k) => [k, b[k] - (a[k] ?? 0)]));
}

export interface UdpInput {
  sent: number;
  received: number;
  duplicates: number;
  /** Path drop counters before the stream started and after it ended. */
  dropsBefore: Record<string, number>;
  dropsAfter: Record<string, number>;
}

export function udpAccount(u: UdpInput): UdpAccount {
  const drops = Object.fromEntries(Object.entries(delta(u.dropsBefore, u.dropsAfter)).filter(([, v]) => v !== 0));
  const explained = Object.values(drops).reduce((a, b) => a + b, 0);
  const missing = Math.max(0, u.sent - u.received);
  return { sent: u.sent, received: u.received, duplicates: u.duplicates, missing, drops, explained, unexplained: Math.max(0, missing - explained) };
}

export interface VerdictInput {
  samples: Sample[];
  warmupSeconds: number;
  maxGrowthPct: number;
  udp: UdpInput;
  /** Index of the daemon the TCP stream arrives at (its rxBytes must grow in every interval). */
  tcpReceiver: number;
  /** Per daemon, in time order: the live heap from snapshots (2 at least after the warm-up; those before it are shown only). */
  liveHeap: LiveHeapSeries[];
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export function verdict(input: VerdictInput): Verdict {
  const { samples, warmupSeconds, maxGrowthPct } = input;
  const post = samples.filter((s) => s.t >= warmupSeconds);
  if (post.length < 4) throw new Error(`${post.length} samples after the warm-up of ${warmupSeconds} s: at least 4 are needed`);
  const quarter = Math.max(1, Math.floor(post.length / 4));
  const hosts = samples[0].daemons.map((d) => d.host);
  const daemons: DaemonVerdict[] = hosts.map((host, i) => {
    const live = input.liveHeap.find((l) => l.host === host);
    const counted = live?.points.filter((p) => p.t >= warmupSeconds) ?? [];
    if (live === undefined || counted.length < 2) throw new Error(`${host}: ${counted.length} live heap snapshots after the warm-up: at least 2 are needed`);
    const [firstLive, lastLive] = [counted[0].liveBytes, counted[counted.length - 1].liveBytes];
    const all = samples.map((s) => s.daemons[i]);
    const after = post.map((s) => s.daemons[i]);
    const a = all[0];
    const b = all[all.length - 1];
    const seconds = samples[samples.length - 1].t - samples[0].t;
    return {
      host,
      rss: growth(
        after.map((d) => d.rssBytes),
        quarter,
      ),
      heap: growth(
        after.map((d) => d.heapUsedBytes),
        quarter,
      ),
      liveHeap: {
        first: firstLive,
        last: lastLive,
        bytes: lastLive - firstLive,
        pct: round((100 * (lastLive - firstLive)) / firstLive, 2),
        points: live.points,
        grew: live.grew,
      },
      majorGcs: after[after.length - 1].majorGcs - after[0].majorGcs,
      fds: range(after.map((d) => d.fds)),
      fdsPeak: Math.max(...after.map((d) => d.fdsPeak)),
      threads: range(after.map((d) => d.threads)),
      restarts: restarts(all),
      engine: {
        txPackets: b.engine.txPackets - a.engine.txPackets,
        rxPackets: b.engine.rxPackets - a.engine.rxPackets,
        drops: Object.fromEntries(Object.entries(delta(a.engine, b.engine)).filter(([k, v]) => v !== 0 && /^(drop|.*Errors$)/.test(k))),
      },
      gossip: {
        txBytesPerSecond: seconds > 0 ? round((b.gossip.sentBytes - a.gossip.sentBytes) / seconds, 1) : 0,
        rxBytesPerSecond: seconds > 0 ? round((b.gossip.receivedBytes - a.gossip.receivedBytes) / seconds, 1) : 0,
        dropped: Object.fromEntries(Object.entries(delta(a.gossip.dropped, b.gossip.dropped)).filter(([, v]) => v !== 0)),
        suspicions: b.gossip.suspicions - a.gossip.suspicions,
      },
    };
  });
  const udp = udpAccount(input.udp);
  const targets: Target[] = [];
  for (const d of daemons) {
    for (const [name, g] of [
      ['RSS', d.rss],
      ['live V8 heap (after a full collection)', d.liveHeap],
    ] as const) {
      targets.push({
        name: `${d.host} ${name} flat within ${maxGrowthPct}%`,
        pass: g.pct <= maxGrowthPct,
        detail: `${mib(g.first)} → ${mib(g.last)} (${g.pct >= 0 ? '+' : ''}${g.pct}%, ${g.bytes >= 0 ? '+' : ''}${Math.round(g.bytes / 1024)} KiB)`,
      });
    }
    for (const [name, r] of [
      ['open fds at rest', d.fds],
      ['threads', d.threads],
    ] as const) {
      targets.push({ name: `${d.host} ${name} constant`, pass: r.min === r.max, detail: r.min === r.max ? `${r.min}` : `${r.min}–${r.max}` });
    }
    targets.push({ name: `${d.host} restarts`, pass: d.restarts === 0, detail: `${d.restarts}` });
  }
  const stalls = (pick: (s: Sample) => number) =>
    samples
      .slice(1)
      .filter((s, i) => pick(s) <= pick(samples[i]))
      .map((s) => s.t);
  const tcpStalls = stalls((s) => s.daemons[input.tcpReceiver].engine.rxBytes);
  const udpStalls = stalls((s) => s.udp.received);
  targets.push({
    name: 'TCP stream moved in every interval',
    pass: tcpStalls.length === 0,
    detail: tcpStalls.length === 0 ? `${samples.length - 1} of ${samples.length - 1}` : `no bytes in the interval ending at ${tcpStalls.join(', ')} s`,
  });
  targets.push({
    name: 'UDP stream delivered in every interval',
    pass: udpStalls.length === 0,
    detail: udpStalls.length === 0 ? `${samples.length - 1} of ${samples.length - 1}` : `no datagram in the interval ending at ${udpStalls.join(', ')} s`,
  });
  targets.push({
    name: 'no unexplained UDP loss',
    pass: udp.received > 0 && udp.unexplained === 0,
    detail: `${udp.missing} of ${udp.sent} missing, ${udp.explained} drops counted on the path, ${udp.unexplained} unexplained`,
  });
  return { warmupSeconds, quarter, daemons, udp, targets, pass: targets.every((t) => t.pass) };
}
