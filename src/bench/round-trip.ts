/**
 * Where a ping's round trip through two tulle hosts goes, hop by hop (pure: parses `perf script` output of
 * the tracepoints trace-round-trips.ts records). Each hop runs between two moments that the one before
 * causes, so none can be negative: ping's send, the request on a's TUN, a's read of it, a's send, b's
 * receive, b's TUN write (the kernel's echo reply is queued on b's TUN inside it), b's read of the reply,
 * b's send, a's receive, a's TUN write, the end of that write (ping's socket has the reply).
 */
import { median } from './stats.js';

/** The tracepoints the hops are made of. */
export const ROUND_TRIP_EVENTS = [
  'syscalls:sys_enter_sendto',
  'net:net_dev_queue',
  'syscalls:sys_exit_read',
  'syscalls:sys_enter_sendmmsg',
  'syscalls:sys_exit_recvmmsg',
  'syscalls:sys_enter_writev',
  'syscalls:sys_exit_writev',
] as const;

/** The hops in order; host a pings host b. */
export const HOPS = [
  'a: ping → TUN',
  'a: TUN → read',
  'a: decide, encapsulate',
  'a → b: send, underlay, receive',
  'b: decide, decapsulate',
  'b: TUN write, echo reply, read',
  'b: decide, encapsulate',
  'b → a: send, underlay, receive',
  'a: decide, decapsulate',
  'a: TUN write → ping',
] as const;

export interface TraceEvent {
  comm: string;
  pid: number;
  tid: number;
  /** µs */
  time: number;
  /** Without its group: sys_exit_read, net_dev_queue, … */
  event: string;
  /** The tracepoint's own fields, as perf prints them. */
  detail: string;
}

export interface RoundTripHops {
  /** Round trips whose every hop was found. */
  trips: number;
  /** Pings sent during the trace whose hops were not all found (a lost reply, a reordered event). */
  unmatched: number;
  /** Median µs of each hop, in HOPS order. */
  hops: { hop: string; us: number }[];
  /** Median µs from ping's send to the end of a's TUN write. */
  total_us: number;
}

const LINE = /^\s*(.+?)\s+(\d+)\/(\d+)\s+(\d+\.\d+):\s+[\w-]+:(\w+):\s?(.*)$/;

/** `perf script -F comm,pid,tid,time,event,trace` lines → events (other lines are skipped). */
export function parseTrace(text: string): TraceEvent[] {
  const events: TraceEvent[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    events.push({ comm: m[1], pid: Number(m[2]), tid: Number(m[3]), time: Math.round(Number(m[4]) * 1e6), event: m[5], detail: m[6] });
  }
  return events.sort((x, y) => x.time - y.time);
}

/** A syscall exit's return value, as a signed number (perf prints it as 64-bit hex). */
function returned(e: TraceEvent): number {
  const value = BigInt.asIntN(64, BigInt(e.detail.trim().split(/\s/)[0]));
  return Number(value);
}

/**
 * Each round trip of `ping` from host a (tulle daemon `pidA`) to host b (`pidB`), hop by hop, and the medians.
 * Returns undefined when no round trip was found whole.
 */
export function roundTripHops(events: TraceEvent[], pidA: number, pidB: number): RoundTripHops | undefined {
  const starts = events.flatMap((e, i) => (e.comm === 'ping' && e.event === 'sys_enter_sendto' ? [i] : []));
  const trips: number[][] = [];
  for (const [k, start] of starts.entries()) {
    const end = starts[k + 1] ?? events.length;
    const ping = events[start].pid;
    let at = start;
    const next = (match: (e: TraceEvent) => boolean): number | undefined => {
      for (let i = at + 1; i < end; i++) {
        if (match(events[i])) {
          at = i;
          return events[i].time;
        }
      }
      return undefined;
    };
    const is = (pid: number, event: string) => (e: TraceEvent) => e.pid === pid && e.event === event;
    const got = (pid: number, event: string) => (e: TraceEvent) => is(pid, event)(e) && returned(e) > 0;
    const moments = [
      events[start].time,
      next(is(ping, 'net_dev_queue')),
      next(got(pidA, 'sys_exit_read')),
      next(is(pidA, 'sys_enter_sendmmsg')),
      next(got(pidB, 'sys_exit_recvmmsg')),
      next(is(pidB, 'sys_enter_writev')),
      next(got(pidB, 'sys_exit_read')),
      next(is(pidB, 'sys_enter_sendmmsg')),
      next(got(pidA, 'sys_exit_recvmmsg')),
      next(is(pidA, 'sys_enter_writev')),
      next(is(pidA, 'sys_exit_writev')),
    ];
    if (moments.some((m) => m === undefined)) continue;
    const t = moments as number[];
    trips.push(t.slice(1).map((m, i) => m - t[i]));
  }
  if (trips.length === 0) return undefined;
  return {
    trips: trips.length,
    unmatched: starts.length - trips.length,
    hops: HOPS.map((hop, i) => ({ hop, us: median(trips.map((d) => d[i])) })),
    total_us: median(trips.map((d) => d.reduce((s, x) => s + x, 0))),
  };
}

/** The medians of several repetitions' hops (each hop's median of the repetitions' medians). */
export function medianHops(reps: RoundTripHops[]): RoundTripHops | undefined {
  if (reps.length === 0) return undefined;
  return {
    trips: reps.reduce((s, r) => s + r.trips, 0),
    unmatched: reps.reduce((s, r) => s + r.unmatched, 0),
    hops: HOPS.map((hop, i) => ({ hop, us: median(reps.map((r) => r.hops[i].us)) })),
    total_us: median(reps.map((r) => r.total_us)),
  };
}

/** One column per system, one line per hop, in µs; '' when no system has hops. */
export function hopTable(rows: { system: string; hops: RoundTripHops; rtt_ms: number | null }[]): string {
  if (rows.length === 0) return '';
  const us = (v: number) => v.toFixed(1);
  const lines = [
    `| hop, µs (median) | ${rows.map((r) => r.system).join(' | ')} |`,
    `|---|${rows.map(() => '--:').join('|')}|`,
    ...HOPS.map((hop, i) => `| ${hop} | ${rows.map((r) => us(r.hops.hops[i].us)).join(' | ')} |`),
    `| **round trip, traced** | ${rows.map((r) => `**${us(r.hops.total_us)}**`).join(' | ')} |`,
    `| RTT untraced (the RTT column) | ${rows.map((r) => (r.rtt_ms === null ? 'n/a' : us(r.rtt_ms * 1000))).join(' | ')} |`,
    `| round trips traced (not found whole) | ${rows.map((r) => `${r.hops.trips} (${r.hops.unmatched})`).join(' | ')} |`,
  ];
  return lines.join('\n');
}
