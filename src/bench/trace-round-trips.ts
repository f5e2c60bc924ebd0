/**
 * Traces pings through two tulle hosts and splits their round trips into hops (impure: runs perf and ping;
 * round-trip.ts does the arithmetic). perf starts the pings itself (`perf record … -- ip netns exec … ping`),
 * so the tracepoints are armed before the first one leaves. Tracing costs each event about a microsecond, and
 * perf's own work can keep idle cores awake, so the traced round trip differs from the RTT test's: the hops say
 * where the time goes, the RTT test how much.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTrace, ROUND_TRIP_EVENTS, roundTripHops, type RoundTripHops } from './round-trip.js';

export interface RoundTripPlan {
  /** The namespace ping runs in (host a) and the address it pings (host b's overlay address). */
  fromNs: string;
  target: string;
  /** The tulle daemons of hosts a and b. */
  pidA: number;
  pidB: number;
  pings: number;
  intervalS: number;
}

export function traceRoundTrips(perf: string, plan: RoundTripPlan): RoundTripHops {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-hops-'));
  try {
    const data = join(dir, 'perf.data');
    const events = ROUND_TRIP_EVENTS.flatMap((e) => ['-e', e]);
    const ping = ['ip', 'netns', 'exec', plan.fromNs, 'ping', '-q', '-c', String(plan.pings), '-i', String(plan.intervalS), '-W', '2', plan.target];
    const record = spawnSync(perf, ['record', '-q', '-a', '-o', data, ...events, '--', ...ping], {
      encoding: 'utf8',
      timeout: plan.pings * plan.intervalS * 1000 + 20_000,
    });
    if (record.status !== 0)
      throw new Error(`perf record exited with ${record.status}: ${(record.stderr || record.error?.message || '').trim().slice(0, 300)}`);
    const script = spawnSync(perf, ['script', '-i', data, '-F', 'comm,pid,tid,time,event,trace'], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      timeout: 60_000,
    });
    if (script.status !== 0)
      throw new Error(`perf script exited with ${script.status}: ${(script.stderr || script.error?.message || '').trim().slice(0, 300)}`);
    const hops = roundTripHops(parseTrace(script.stdout), plan.pidA, plan.pidB);
    if (hops === undefined) throw new Error(`no round trip of ${plan.pings} pings was found whole in the trace`);
    return hops;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
