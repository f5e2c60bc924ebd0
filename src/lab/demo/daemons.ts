/**
 * Step 2: a tulle daemon per host (the compiled CLI, `tulle run -c FILE`, in
 * the host's namespace) on gossip leases and the vxlan backend, and the wait
 * until every daemon routes to the two others. Each daemon's log goes to a
 * file in its state dir, so a kept lab's daemons outlive the demo.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { controlRequest } from '../../daemon/control-client.js';
import { socketPath } from '../../daemon/state-dir.js';
import type { LeaseView } from '../../daemon/status-view.js';
import { tulleCommand } from '../../util/self-command.js';
import type { Lab } from '../netns.js';
import type { Host } from '../topology.js';

export const DEMO_NETWORK = '198.18.0.0/16';

export interface DemoDaemon {
  host: Host;
  stateDir: string;
  config: string;
  log: string;
  child: ChildProcess;
}

/** The configuration of host `i` (pure): host 1 is every other host's gossip peer. */
export function daemonConfig(hosts: Host[], i: number, key: string, stateDir: string): object {
  return {
    network: DEMO_NETWORK,
    underlay: { address: hosts[i].underlay },
    backend: { type: 'vxlan' },
    store: { type: 'gossip', key, preset: 'local', peers: i === 0 ? [] : [hosts[0].underlay] },
    stateDir,
  };
}

/**
 * Starts the daemons, host 1 first; resolves once each answers on its control socket. `extra` adds settings to host i's config;
 * `env`, when given, is the daemons' environment.
 */
export async function startDaemons(
  lab: Lab,
  hosts: Host[],
  dir: string,
  extra: (i: number) => object = () => ({}),
  env?: NodeJS.ProcessEnv,
): Promise<DemoDaemon[]> {
  const key = randomBytes(32).toString('base64');
  const daemons: DemoDaemon[] = [];
  for (const [i, host] of hosts.entries()) {
    const stateDir = join(dir, `host${i + 1}`);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const config = join(stateDir, 'tulle.yaml');
    writeFileSync(config, stringify({ ...daemonConfig(hosts, i, key, stateDir), ...extra(i) }), { mode: 0o600 });
    const log = join(stateDir, 'tulle.log');
    const fd = openSync(log, 'a');
    // detached: its own process group, so Ctrl-C on the demo reaches the demo only (which ends it by PID).
    const child = lab.spawn(host.ns, tulleCommand(['run', '-c', config]), { stdio: ['ignore', fd, fd], detached: true, env });
    closeSync(fd);
    daemons.push({ host, stateDir, config, log, child });
  }
  for (const d of daemons) {
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (d.child.exitCode !== null) throw new Error(`tulle run exited with ${d.child.exitCode} in ${d.host.ns}; its log: ${d.log}`);
      try {
        await controlRequest(socketPath(d.stateDir), 'status', 1000);
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`tulle run in ${d.host.ns} did not answer within 15 s; its log: ${d.log}`);
        await sleep(50);
      }
    }
  }
  return daemons;
}

export function leasesOf(d: DemoDaemon): Promise<LeaseView[]> {
  return controlRequest(socketPath(d.stateDir), 'leases') as Promise<LeaseView[]>;
}

/** Counts of routed peers per daemon until all route to all others; throws after `timeoutMs`. */
export async function waitConverged(daemons: DemoDaemon[], onCounts: (counts: number[]) => void, timeoutMs = 30_000): Promise<LeaseView[][]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const views = await Promise.all(daemons.map(leasesOf));
    const counts = views.map((v) => v.filter((l) => l.state === 'routed').length);
    onCounts(counts);
    if (counts.every((n) => n === daemons.length - 1) && views.every((v) => v.some((l) => l.state === 'own'))) return views;
    if (Date.now() > deadline) throw new Error(`the leases did not converge within ${timeoutMs / 1000} s (routed peers per host: ${counts.join(', ')})`);
    await sleep(100);
  }
}

/** SIGTERM (a graceful leave gives the lease back), SIGKILL after 5 s. */
export async function stopDaemons(daemons: DemoDaemon[]): Promise<void> {
  await Promise.all(
    daemons.map(async (d) => {
      if (d.child.exitCode !== null || d.child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => d.child.once('exit', () => resolve()));
      d.child.kill('SIGTERM');
      const timer = setTimeout(() => d.child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }),
  );
}
