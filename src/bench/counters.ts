/** What the kernel counts for a row: CPU time of processes, UDP drops, device TX drops. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dropsByPort } from '../daemon/socket-drops.js';
import type { Lab } from '../lab/netns.js';

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5_000 }).stdout?.trim()) || 100;

/** utime + stime from a `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` file, in seconds. */
export function statCpuSeconds(statFile: string): number {
  const stat = readFileSync(statFile, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** utime + stime of a whole process (all its threads), in seconds. */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** Udp counters of the namespace (RcvbufErrors, InErrors, …) from /proc/net/snmp; {} where cat is missing. */
export function udpSnmp(lab: Lab, ns: string): Record<string, number> {
  let text: string;
  try {
    text = lab.exec(ns, ['cat', '/proc/net/snmp'], { timeoutMs: 5_000, allowFailure: true });
  } catch {
    return {};
  }
  const lines = text.split('\n').filter((l) => l.startsWith('Udp:'));
  if (lines.length < 2) return {};
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]]));
}

/** Datagrams the kernel dropped at each local UDP port of the namespace (full buffer, bad checksum), IPv4 and IPv6. */
export function udpDropsByPort(lab: Lab, ns: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = lab.exec(ns, ['cat', file], { timeoutMs: 5_000, allowFailure: true });
    } catch {
      continue;
    }
    for (const [port, drops] of dropsByPort(text)) out.set(port, (out.get(port) ?? 0) + drops);
  }
  return out;
}

/** TX drops of a device (packets the kernel dropped on the way into it, e.g. a full TUN queue). */
export function txDropped(lab: Lab, ns: string, dev: string): number | null {
  try {
    const j = JSON.parse(lab.exec(ns, ['ip', '-s', '-j', 'link', 'show', dev], { timeoutMs: 5_000 })) as { stats64?: { tx?: { dropped?: number } } }[];
    return j[0]?.stats64?.tx?.dropped ?? null;
  } catch {
    return null;
  }
}
