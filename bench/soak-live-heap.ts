/**
 * The live heap of a running daemon, measured from outside: the soak starts
 * each daemon with `--heapsnapshot-signal`, so a signal makes it write a heap
 * snapshot. V8 runs full collections before it takes one, so the snapshot
 * holds live data only, unlike the heap used between collections, which
 * includes garbage no full collection has freed yet.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { heapGrowth, summarizeSnapshot, type ConstructorChange, type HeapSummary } from './soak-heap.js';

/**
 * The signal that asks for a snapshot. The daemon handles TERM, INT, QUIT, HUP, USR1 and USR2
 * (src/daemon/signals.ts); WINCH it leaves alone, and its default action is to ignore it, so a
 * daemon started without the flag is not harmed by one.
 */
export const SNAPSHOT_SIGNAL = 'SIGWINCH';

/** Node options that make a daemon write a snapshot into `dir` on SNAPSHOT_SIGNAL. */
export function snapshotNodeOptions(dir: string): string {
  return `--heapsnapshot-signal=${SNAPSHOT_SIGNAL} --diagnostic-dir=${dir}`;
}

export interface LiveHeap {
  /** Seconds since the traffic started. */
  t: number;
  host: string;
  liveBytes: number;
  /** Time from the signal to the snapshot written: the daemon's main thread is busy for that long. */
  pauseMs: number;
  summary: HeapSummary;
}

/**
 * Signals `pid` for a snapshot, waits until it is written, summarizes it and deletes the file
 * (20-40 MiB each: none is kept). `written` resolves once the daemon's main thread answers again
 * (a control request): Node writes the snapshot synchronously on that thread, so the file is whole then.
 */
export async function takeLiveHeap(
  d: { host: string; pid: number },
  dir: string,
  t: number,
  written: () => Promise<unknown>,
  timeoutMs = 120_000,
): Promise<LiveHeap> {
  const mine = () => readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot') && f.split('.')[3] === String(d.pid));
  const before = new Set(mine());
  const start = Date.now();
  process.kill(d.pid, SNAPSHOT_SIGNAL);
  let file: string | undefined;
  while ((file = mine().find((f) => !before.has(f))) === undefined) {
    if (Date.now() - start > timeoutMs) throw new Error(`${d.host}: no heap snapshot in ${dir} within ${timeoutMs / 1000} s of ${SNAPSHOT_SIGNAL}`);
    await sleep(100);
  }
  await written();
  const pauseMs = Date.now() - start;
  const path = join(dir, file);
  try {
    const summary = summarizeSnapshot(readFileSync(path, 'utf8'));
    return { t, host: d.host, liveBytes: summary.liveBytes, pauseMs, summary };
  } finally {
    rmSync(path, { force: true });
  }
}

export interface LiveHeapPoint {
  t: number;
  liveBytes: number;
  nativeBytes: number;
  pauseMs: number;
}

export interface LiveHeapSeries {
  host: string;
  points: LiveHeapPoint[];
  /** The constructors that grew most from the first snapshot after the warm-up to the last. */
  grew: ConstructorChange[];
}

/** Per host: its snapshots' live heap over time, and what grew between the first after `warmupSeconds` and the last. */
export function liveHeapSeries(all: LiveHeap[], warmupSeconds: number): LiveHeapSeries[] {
  const hosts = [...new Set(all.map((h) => h.host))];
  return hosts.map((host) => {
    const mine = all.filter((h) => h.host === host);
    const after = mine.filter((h) => h.t >= warmupSeconds);
    return {
      host,
      points: mine.map((h) => ({ t: h.t, liveBytes: h.summary.liveBytes, nativeBytes: h.summary.nativeBytes, pauseMs: h.pauseMs })),
      grew: after.length >= 2 ? heapGrowth(after[0].summary, after[after.length - 1].summary) : [],
    };
  });
}
