// What the fault-during-traffic tests share: how long a fault lasts (short in `npm test`, the full
// length with TULLE_FAULT_LONG=1, or any length through the test's own variable), a folder for the daemons'
// configurations and state, and waiting for routes.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import type { Lab } from '../../src/lab/netns.js';
import type { RunningDaemon } from './daemon.js';

/**
 * Seconds a fault lasts: `TULLE_FAULT_<NAME>_S` when set, else `long` with TULLE_FAULT_LONG=1, else `short`.
 * A bad value is an error naming the variable, so a long run never silently runs short.
 */
export function faultSeconds(name: string, short: number, long: number): number {
  const variable = `TULLE_FAULT_${name}_S`;
  const text = process.env[variable];
  if (text !== undefined && text !== '') {
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0 || value > 600) throw new Error(`${variable} = ${JSON.stringify(text)}: must be a number of seconds in (0, 600]`);
    return value;
  }
  return process.env.TULLE_FAULT_LONG === '1' ? long : short;
}

/** A folder for one test's configurations and state dirs, readable by the daemons, removed with the lab. */
export function faultDir(lab: Lab, name: string): { dir: string; write(file: string, config: object): string; stateDir(host: string): string } {
  const dir = mkdtempSync(join(tmpdir(), `tulle-${name}-`));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = (host: string) => join(dir, `state-${host}`);
  return {
    dir,
    stateDir,
    /** Writes `<file>.yaml` with `config` (and a state dir of its own unless given); returns its path. */
    write(file: string, config: object) {
      const path = join(dir, `${file}.yaml`);
      writeFileSync(path, stringify({ stateDir: stateDir(file), ...config }));
      return path;
    },
  };
}

/** How many leases each daemon routes. */
export async function routedCounts(daemons: RunningDaemon[]): Promise<number[]> {
  return Promise.all(daemons.map(async (d) => (await d.leases()).filter((l) => l.state === 'routed').length));
}

/** Polls `check` every 100 ms until it is true or `timeoutMs` passes; resolves with how long it took, or undefined. */
export async function within(timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<number | undefined> {
  const start = Date.now();
  for (;;) {
    try {
      if (await check()) return Date.now() - start;
    } catch {
      // a daemon not answering yet is a "not yet"
    }
    if (Date.now() - start > timeoutMs) return undefined;
    await sleep(100);
  }
}

/** The overlay address a host's TUN holds: its subnet's first address. */
export const subnetAddress = (subnet: string) => subnet.split('/')[0];
