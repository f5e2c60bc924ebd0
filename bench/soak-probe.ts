/**
 * Reads one daemon for a sample: /proc (RSS, fds, threads), the control
 * socket (PID, engine counters) and /metrics through a scraper process in the
 * daemon's namespace (V8 heap, gossip counters).
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { controlRequest } from '../src/daemon/control-client.js';
import { socketPath } from '../src/daemon/state-dir.js';
import type { StatusView } from '../src/daemon/status-view.js';
import { COUNTERS, type CounterValues } from '../src/engine/counters.js';
import type { Lab } from '../src/lab/netns.js';
import { packageRoot } from '../src/util/package-root.js';
import { byLabel, metric, parsePrometheus } from './soak-prom.js';
import type { DaemonSample, GossipFigures } from './soak-sample.js';

export interface ProcFigures {
  alive: boolean;
  rssBytes: number;
  fds: number;
  threads: number;
}

/** RSS, open fds and threads of `pid` from /proc; alive false (and zeros) once it is gone. */
export function procFigures(pid: number): ProcFigures {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    return { alive: true, rssBytes: field('VmRSS') * 1024, fds, threads: field('Threads') };
  } catch {
    return { alive: false, rssBytes: 0, fds: 0, threads: 0 };
  }
}

/**
 * Open fds of each PID at rest: the least of `reads` counts `gapMs` apart, and the most. A daemon
 * runs ip, iptables or nft every 10 s (the route check, the forward-chain check), and the child's
 * pipes are its fds while it runs: a sample landing then would read a few more. A leak stays, so
 * the least count shows it.
 */
export async function fdsAtRest(pids: number[], reads = 5, gapMs = 200): Promise<{ rest: number; peak: number }[]> {
  const counts = pids.map(() => [] as number[]);
  for (let r = 0; r < reads; r++) {
    if (r > 0) await sleep(gapMs);
    pids.forEach((pid, i) => counts[i].push(procFigures(pid).fds));
  }
  return counts.map((c) => ({ rest: Math.min(...c), peak: Math.max(...c) }));
}

/** A scraper in `ns` for the daemon's /metrics on `address`; ask() resolves with the parsed series. */
export class MetricsScraper {
  private readonly child: ChildProcess;
  private readonly waiting: ((line: string) => void)[] = [];

  constructor(lab: Lab, ns: string, address: string) {
    const script = join(packageRoot(), 'dist', 'bench', 'soak-scrape.js');
    this.child = lab.spawn(ns, [process.execPath, script, address], { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.waiting.shift()?.(line));
  }

  async ask(timeoutMs = 10_000): Promise<Map<string, number>> {
    if (this.child.exitCode !== null) throw new Error(`the metrics scraper exited with ${this.child.exitCode}`);
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the metrics scraper did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
      this.waiting.push((l) => {
        clearTimeout(timer);
        resolve(l);
      });
      this.child.stdin!.write('\n');
    });
    const answer = JSON.parse(line) as { text?: string; error?: string };
    if (answer.error !== undefined) throw new Error(`/metrics: ${answer.error}`);
    return parsePrometheus(answer.text!);
  }

  /** Closing stdin ends it. */
  close(): void {
    this.child.stdin?.end();
  }
}

export function gossipFigures(m: Map<string, number>): GossipFigures {
  const bytes = byLabel(m, 'tulle_gossip_bytes_total', 'direction');
  const datagrams = byLabel(m, 'tulle_gossip_datagrams_total', 'direction');
  return {
    sentBytes: bytes.tx ?? 0,
    receivedBytes: bytes.rx ?? 0,
    sentDatagrams: datagrams.tx ?? 0,
    receivedDatagrams: datagrams.rx ?? 0,
    dropped: byLabel(m, 'tulle_gossip_dropped_total', 'reason'),
    probesFailed: metric(m, 'tulle_gossip_probes_failed_total'),
    suspicions: metric(m, 'tulle_gossip_suspicions_total'),
    membersAlive: metric(m, 'tulle_gossip_members{state="alive"}'),
  };
}

export interface WatchedDaemon {
  host: string;
  pid: number;
  stateDir: string;
  scraper: MetricsScraper;
}

export function status(d: { stateDir: string }): Promise<StatusView> {
  return controlRequest(socketPath(d.stateDir), 'status', 5_000) as Promise<StatusView>;
}

const zeroCounters = () => Object.fromEntries(COUNTERS.map((c) => [c, 0])) as CounterValues;

/**
 * One daemon's sample, given its fds at rest (read just before). /proc is read first, before the control socket and
 * /metrics are asked: those connections are fds of the daemon while they last.
 */
export async function sampleDaemon(d: WatchedDaemon, fds: { rest: number; peak: number }): Promise<DaemonSample> {
  const proc = procFigures(d.pid);
  const [s, m] = await Promise.all([status(d).catch(() => null), d.scraper.ask().catch(() => null)]);
  if (proc.alive && (s === null || m === null)) throw new Error(`${d.host}: the daemon (PID ${d.pid}) runs but did not answer its control socket or /metrics`);
  return {
    host: d.host,
    pid: d.pid,
    statusPid: s?.pid ?? null,
    alive: proc.alive,
    rssBytes: proc.rssBytes,
    heapUsedBytes: m ? metric(m, 'nodejs_heap_size_used_bytes') : 0,
    majorGcs: m ? (byLabel(m, 'nodejs_gc_duration_seconds_count', 'kind').major ?? 0) : 0,
    fds: proc.alive ? fds.rest : 0,
    fdsPeak: proc.alive ? fds.peak : 0,
    threads: proc.threads,
    engine: s?.counters ?? zeroCounters(),
    gossip: m
      ? gossipFigures(m)
      : { sentBytes: 0, receivedBytes: 0, sentDatagrams: 0, receivedDatagrams: 0, dropped: {}, probesFailed: 0, suspicions: 0, membersAlive: 0 },
  };
}
