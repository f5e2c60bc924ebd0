/**
 * `tulle lab down`: removes what tulle labs, tests, benches and a kept demo
 * left behind. Processes still inside those namespaces (a kept demo's daemons)
 * are ended first, by PID — SIGTERM, then SIGKILL after a grace period — so
 * none keeps running in a namespace that is gone; then a podman demo's
 * containers (in namespaces of their own, found by the lab's cgroup parent:
 * ./podman/cgroups.ts) are killed, and the namespaces, cgroups and the demo's
 * state dirs go.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { leftoverNamespaces } from './netns.js';
import { DEMO_DIR_PATTERN } from './demo/run-demo.js';
import { endCgroup, podmanCgroupNames } from './podman/cgroups.js';

export interface LabDownReport {
  namespaces: string[];
  /** PIDs ended, and how many of them needed SIGKILL. */
  ended: number[];
  killed: number;
  /** Podman containers' processes killed (by their lab's cgroup), and the cgroup parents removed. */
  containerPids: number[];
  cgroups: string[];
  dirs: string[];
}

function pidsIn(ns: string): number[] {
  const out = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
  return out
    .split('\n')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Everything tulle left, or only what starts with `prefix` (one lab's, e.g. "tulle-3fa2c1-"). */
export async function labDown(prefix?: string, graceMs = 5_000): Promise<LabDownReport> {
  const mine = (name: string) => prefix === undefined || name.startsWith(prefix);
  const namespaces = leftoverNamespaces().filter(mine);
  const ended = [...new Set(namespaces.flatMap(pidsIn))];
  for (const pid of ended) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (ended.some(alive) && Date.now() < deadline) await sleep(100);
  const stubborn = ended.filter(alive);
  for (const pid of stubborn) signal(pid, 'SIGKILL');
  const cgroups = podmanCgroupNames().filter(mine);
  const containerPids = cgroups.flatMap((name) => endCgroup(name));
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  const dirs = readdirSync(tmpdir())
    .filter((name) => DEMO_DIR_PATTERN.test(name) && mine(name))
    .map((name) => join(tmpdir(), name));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  return { namespaces, ended, killed: stubborn.length, containerPids, cgroups, dirs };
}
