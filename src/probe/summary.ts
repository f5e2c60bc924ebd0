/**
 * What the probes report, and the arithmetic behind it (pure: no I/O).
 */

export interface RttSummary {
  min: number;
  avg: number;
  median: number;
  max: number;
}

/** min/avg/median/max of RTTs in ms; null when there are none. */
export function summarizeRtt(samplesMs: readonly number[]): RttSummary | null {
  if (samplesMs.length === 0) return null;
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const avg = sorted.reduce((sum, x) => sum + x, 0) / sorted.length;
  return { min: round(sorted[0], 4), avg: round(avg, 4), median: round(median, 4), max: round(sorted[sorted.length - 1], 4) };
}

/** Gbit/s for `bytes` over `seconds` (0 when no time passed). */
export function gbps(bytes: number, seconds: number): number {
  return seconds > 0 ? round((bytes * 8) / seconds / 1e9, 4) : 0;
}

/** Thousands of packets per second. */
export function kpps(packets: number, seconds: number): number {
  return seconds > 0 ? round(packets / seconds / 1000, 2) : 0;
}

/** Percent of `sent` that did not arrive (never negative: duplicates do not make up for losses). */
export function lossPct(sent: number, received: number): number {
  return sent > 0 ? round(Math.max(0, 100 * (1 - received / sent)), 2) : 0;
}

/**
 * A probe process that used this share of one core or more during a test was
 * limited by its own CPU, not by the path it measured.
 */
export const CPU_BOUND_PCT = 85;

/** CPU time (user + system, µs from process.cpuUsage) over wall time (s), as % of one core. */
export function cpuPct(cpuUs: number, wallSeconds: number): number {
  return wallSeconds > 0 ? round(cpuUs / 1e4 / wallSeconds, 1) : 0;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** One side of an echo test: per target. */
export interface EchoResult {
  target: string;
  sent: number;
  received: number;
  loss_pct: number;
  rtt_ms: RttSummary | null;
  /** Replies that matched no request we sent (late past the timeout, duplicates). */
  unexpected: number;
}

/** An echo client's run: one result per target. */
export interface EchoReport {
  targets: EchoResult[];
  /** Datagrams that were not probe replies from a target, counted and dropped. */
  malformed: number;
}

/** The receiving side of a stream test (TCP or UDP); the sender's numbers come with it. */
export interface StreamResult {
  protocol: 'tcp' | 'udp';
  streams: number;
  /** Received, first byte to last. */
  bytes: number;
  seconds: number;
  gbps: number;
  /** UDP: datagrams received and sent, their rate and the loss. */
  datagrams?: number;
  sent_datagrams?: number;
  kpps?: number;
  sent_kpps?: number;
  loss_pct?: number;
  malformed?: number;
  /** CPU of the sending and the receiving probe process, % of one core. */
  sender_cpu_pct: number;
  receiver_cpu_pct: number;
  /** Either probe process was CPU-bound (CPU_BOUND_PCT): the figure is the generator's limit, maybe not the path's. */
  cpu_bound: boolean;
}
