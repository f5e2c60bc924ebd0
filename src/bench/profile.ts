/**
 * A system-wide CPU profile of a stretch of a test (impure: runs perf). `perf record -e cpu-clock -a` samples
 * every CPU at a fixed rate, idle or not, so samples / rate is CPU time; `perf stat` counts the system calls
 * each of the overlay's data-plane threads made meanwhile.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { profileOf, type Profile } from './profile-buckets.js';

/** Samples per second and CPU: high enough for a few thousand samples in two seconds, low enough to cost ~1%. */
export const PROFILE_HZ = 999;

export interface ProfileWindow extends Profile {
  seconds: number;
  hz: number;
  /** System calls per data-plane thread during the window, by tid (perf stat); empty without threads. */
  syscalls: Record<number, number>;
}

/** Runs `perf` with a hard time limit; resolves with its exit code and stderr. */
function run(perf: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(perf, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), timeoutMs);
    child.once('error', (e) => (stderr += e.message));
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** "comm-tid,count,,event,…" lines of `perf stat -x, --per-thread` → count by tid. */
export function perThreadCounts(csv: string): Record<number, number> {
  const out: Record<number, number> = {};
  for (const line of csv.split('\n')) {
    const m = /^.*-(\d+),(\d+),/.exec(line);
    if (m) out[Number(m[1])] = (out[Number(m[1])] ?? 0) + Number(m[2]);
  }
  return out;
}

/** A recorded profile, read (`perf script`) only when asked: after the test, so that reading it costs the test nothing. */
export interface RecordedWindow {
  read(): ProfileWindow;
}

/**
 * Waits `delayMs` (the test's set-up), then records every CPU for `seconds`. `overlayPids` are the overlay's
 * processes (their user space is the overlay's own cost); `threadTids` its data-plane threads.
 */
export async function profileWindow(perf: string, delayMs: number, seconds: number, overlayPids: number[], threadTids: number[]): Promise<RecordedWindow> {
  await sleep(delayMs);
  const dir = mkdtempSync(join(tmpdir(), 'tulle-profile-'));
  const data = join(dir, 'perf.data');
  const statFile = join(dir, 'stat.csv');
  const limit = seconds * 1000 + 15_000;
  const record = run(perf, ['record', '-q', '-e', 'cpu-clock', '-F', String(PROFILE_HZ), '-a', '-o', data, '--', 'sleep', String(seconds)], limit);
  const stat =
    threadTids.length > 0
      ? run(
          perf,
          ['stat', '-x,', '--per-thread', '-o', statFile, '-e', 'raw_syscalls:sys_enter', '-t', threadTids.join(','), '--', 'sleep', String(seconds)],
          limit,
        )
      : undefined;
  const [rec, st] = await Promise.all([record, stat]);
  if (rec.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`perf record exited with ${rec.code}: ${rec.stderr.trim().slice(0, 300)}`);
  }
  return {
    read() {
      try {
        const script = spawnSync(perf, ['script', '-i', data, '-F', 'comm,pid,tid,ip,sym,dso'], {
          encoding: 'utf8',
          maxBuffer: 512 * 1024 * 1024,
          timeout: 120_000,
        });
        if (script.status !== 0)
          throw new Error(`perf script exited with ${script.status}: ${(script.stderr ?? script.error?.message ?? '').trim().slice(0, 300)}`);
        const syscalls = st && st.code === 0 ? perThreadCounts(readFileSync(statFile, 'utf8')) : {};
        return { ...profileOf(script.stdout, new Set(overlayPids)), seconds, hz: PROFILE_HZ, syscalls };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
