/**
 * The cgroup parent a lab's podman containers run under: `/<lab prefix>podman`
 * in every cgroup hierarchy, one folder per lab host below it, each holding
 * `conmon` and one `libpod-<id>` per container. Named after the lab, so a lab's containers can be found and ended
 * after the process that started them is gone (`tulle lab down`): their
 * processes live in network namespaces of their own, which `ip netns pids` of
 * the lab's namespaces does not list.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const CGROUPS = '/sys/fs/cgroup';

/** The cgroup parent's name for a lab (e.g. "tulle-3fa2c1-podman"); `podman run --cgroup-parent /<name>`. */
export function podmanCgroupName(labPrefix: string): string {
  return `${labPrefix}podman`;
}

export const PODMAN_CGROUP_PATTERN = /^tulle-[0-9a-z]+-podman$/;

function hierarchies(): string[] {
  if (!existsSync(CGROUPS)) return [];
  return readdirSync(CGROUPS)
    .map((h) => join(CGROUPS, h))
    .filter((d) => existsSync(join(d, 'cgroup.procs')));
}

/** The lab cgroup parents' names present in any hierarchy. */
export function podmanCgroupNames(): string[] {
  const names = new Set<string>();
  for (const h of hierarchies()) for (const name of readdirSync(h)) if (PODMAN_CGROUP_PATTERN.test(name)) names.add(name);
  return [...names];
}

/** Every folder of the parent `name` in every hierarchy, deepest first (the order rmdir needs). */
function folders(name: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const sub = join(dir, entry);
      if (statSync(sub).isDirectory()) walk(sub);
    }
    out.push(dir);
  };
  for (const h of hierarchies()) if (existsSync(join(h, name))) walk(join(h, name));
  return out;
}

/** The processes under `name` (a parent, or a host's folder in it: "tulle-3fa2c1-podman/host1"): containers and their conmons. */
export function cgroupPids(name: string): number[] {
  const pids = new Set<number>();
  for (const dir of folders(name)) {
    for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (/^\d+$/.test(line)) pids.add(Number(line));
  }
  return [...pids];
}

/** Removes the empty folders under `name`; a folder still in use stays (another host's containers). True when none is left. */
export function removeCgroupFolders(name: string): boolean {
  let left = false;
  for (const dir of folders(name)) {
    try {
      rmdirSync(dir);
    } catch {
      left = true;
    }
  }
  return !left;
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Ends what runs under `name` with SIGKILL (a container's PID 1 ignores SIGTERM, and podman's own
 * `rm -f -t 0` kills too), waits up to `timeoutMs` for it to go, and removes the folders. Synchronous, for
 * exit and signal paths. Returns the PIDs it signalled.
 */
export function endCgroup(name: string, timeoutMs = 5_000): number[] {
  const pids = cgroupPids(name);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (!removeCgroupFolders(name) && Date.now() < deadline) pause(50);
  return pids;
}
