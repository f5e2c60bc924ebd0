/**
 * What each data-plane thread of the overlay's daemons spent (impure: reads /proc): CPU time and the times it
 * went to sleep (voluntary context switches, each one a wake-up later). The threads name themselves
 * tulle-duplex, tulle-tx or tulle-rx (src/engine/worker.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { statCpuSeconds } from './counters.js';

export interface ThreadSnapshot {
  pid: number;
  tid: number;
  name: string;
  cpuSeconds: number;
  sleeps: number;
}

/** The data-plane threads of `pids`, now. A process that is gone has none. */
export function dataPlaneThreads(pids: number[]): ThreadSnapshot[] {
  const out: ThreadSnapshot[] = [];
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
        if (!name.startsWith('tulle-')) continue;
        const cpuSeconds = statCpuSeconds(`/proc/${pid}/task/${tid}/stat`);
        const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
        const sleeps = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
        out.push({ pid, tid: Number(tid), name, cpuSeconds, sleeps });
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return out;
}

export interface ThreadSpend {
  pid: number;
  tid: number;
  name: string;
  cpu_s: number;
  sleeps: number;
}

/** What each thread spent between two snapshots (threads in both only). */
export function spentBetween(before: ThreadSnapshot[], after: ThreadSnapshot[]): ThreadSpend[] {
  return after.flatMap((a) => {
    const b = before.find((x) => x.tid === a.tid);
    return b ? [{ pid: a.pid, tid: a.tid, name: a.name, cpu_s: Math.round((a.cpuSeconds - b.cpuSeconds) * 1000) / 1000, sleeps: a.sleeps - b.sleeps }] : [];
  });
}
